package filter

import (
	"context"
	"os"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

func TestScratch(t *testing.T) {
	c, _ := framing.NewZTF()
	for _, f := range []string{"2019_01_10_739260766315010006.avro", "472263571115115000.avro"} {
		b, _ := os.ReadFile(samples.Path(t, "data", "ztf", f))
		var a ztf.Alert
		if err := c.Decode(context.Background(), b, &a); err != nil {
			t.Fatal(err)
		}
		cd := a.Candidate
		t.Logf("%s candid %d jd %.6f field %v rb %v drb %v diff %q ndet %d mag %v sig %v nbad %v fwhm %v elong %v magdiff %v sg %v dps %v ssn %v ssd %v prog %d jdstart %v", f, a.Candid, cd.Jd, *cd.Field, *cd.Rb, cd.Drb, cd.Isdiffpos, cd.Ndethist, cd.Magpsf, cd.Sigmapsf, *cd.Nbad, *cd.FWHM, *cd.Elong, *cd.Magdiff, *cd.Sgscore1, *cd.Distpsnr1, *cd.Ssnamenr, *cd.Ssdistnr, cd.Programid, *cd.Jdstarthist)
		for _, p := range *a.PrvCandidates {
			t.Logf("  prv jd %.6f candid %v diff %v", p.Jd, p.Candid != nil, p.Isdiffpos)
		}
		snr, err := StampSNR(a.CutoutDifference.StampData)
		t.Logf("stamp snr %v %v", snr, err)
		al := OfZTF(&a)
		for _, spec := range []string{"purity", "rb", "history", "new", "candidate.rb > 0.4 && candidate.ndethist >= 2", "has(candidate.drb)", "candidate.drb > 0.5", "prv_candidates.exists(p, has(p.candid))", "size(prv_candidates) > 20", "candidate.rbb > 1", "candidat.rb > 1", "candidate.isdiffpos > 1", "candidate.magpsf"} {
			f, err := Build(spec, "ztf")
			if err != nil {
				t.Logf("%s: build error: %v", spec, err)
				continue
			}
			out, err := f.Apply(al)
			t.Logf("%s [%s]: kept %v err %v", spec, f.Name(), out != nil, err)
		}
	}
}
