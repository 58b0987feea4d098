package filter_test

import (
	"context"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// The shared real ZTF alerts, and what the packets say (read with another
// Avro reader, not with this code):
//
//	                      2019_01_10_739260766315010006   472263571115115000
//	rb                    0.4471428692340851              0.8433333
//	drb                   null                            0.9876
//	isdiffpos             "f"                             "t"
//	ndethist              110                             146
//	magpsf                15.3711                         18.3619
//	sigmapsf              0.04449 (S/N 24.4)              0.09404 (S/N 11.5)
//	nbad, fwhm            0, 5.72                         0, 2.52
//	elong, magdiff        1.0720, -0.0543                 1.1578, -0.01026
//	sgscore1, distpsnr1   0.9906, 0.2507                  0.9883, 0.0886
//	ssnamenr, ssdistnr    "null", -999                    "null", -999
//	programid             1                               3
//	jdstarthist           2458078.67 (415 days before)    2458102.03 (125 days before)
//	prv_candidates        28, 21 with a candid,           11, all upper limits
//	                      earliest 2458464.74
const (
	sampleFaded = int64(739260766315010006)
	sampleNew   = int64(472263571115115000)
)

// keptSamples: which sample each built-in keeps, from the values above.
var keptSamples = map[string][]int64{
	"rb":                                  {sampleNew},              // 0.447 < 0.65 <= 0.843
	"rb:min=0.4":                          {sampleFaded, sampleNew}, // both >= 0.4
	"drb":                                 {sampleNew},              // null: missing, dropped
	"purity":                              {sampleNew},              // faded: rb 0.447 and fwhm 5.72 fail
	"star":                                {sampleFaded, sampleNew}, // sgscore1 0.99, within 0.26"
	"star:min=0.5,radius=0.2":             {sampleNew},              // 0.2507" > 0.2"
	"bright":                              {sampleFaded, sampleNew}, // 15.37, 18.36 <= 18.5
	"bright:max=18":                       {sampleFaded},            // 18.36 > 18
	"positive":                            {sampleNew},              // "f", "t"
	"new":                                 nil,                      // ndethist 110, 146
	"history":                             nil,                      // both detected on earlier nights
	"asteroid":                            nil,                      // ssnamenr "null"
	"noasteroid":                          {sampleFaded, sampleNew}, //
	"significance":                        {sampleFaded, sampleNew}, // S/N 24.4, 11.5
	"significance:min=20":                 {sampleFaded},            //
	"program":                             {sampleFaded},            // programid 1, 3
	"program:ids=2+3":                     {sampleNew},              //
	"cutoutsnr":                           {sampleFaded, sampleNew}, // bright stamps
	"nocutouts":                           {sampleFaded, sampleNew}, // transforms keep all
	"drop:fields=fp_hists+prv_candidates": {sampleFaded, sampleNew}, //
	"lcfit":                               nil,                      // faded: amplitude < 0; new: 1 detection
	"candidate.rb > 0.4 && candidate.ndethist >= 2":              {sampleFaded, sampleNew},
	"has(candidate.drb) && candidate.drb > 0.9":                  {sampleNew},
	"prv_candidates.exists(p, has(p.candid))":                    {sampleFaded},
	"size(prv_candidates) == 11 && candidate.isdiffpos == 't'":   {sampleNew},
	"!has(candidate.ssnamenr) && !has(candidate.ssdistnr)":       {sampleFaded, sampleNew},
	"candidate.fwhm <= 5.72 && candidate.elong <= 1.072 && true": {sampleFaded},
	// r: 13 detections below the template, fitted with score 0.998.
	"has(lcfit.r) && lcfit.r.amplitude < 0.0 && lcfit.r.score > 0.99 && lcfit.r.n == 13.0": {sampleFaded},
}

func readSamples(t *testing.T) map[int64][]byte {
	t.Helper()
	return map[int64][]byte{
		sampleFaded: samples.Read(t, "data", "ztf", "2019_01_10_739260766315010006.avro"),
		sampleNew:   samples.Read(t, "data", "ztf", "472263571115115000.avro"),
	}
}

// decodeSamples reads the samples and decodes them with the codec it
// returns: the packets and the alerts, by id.
func decodeSamples(t *testing.T) (*framing.Codec, map[int64][]byte, map[int64]*ztf.Alert) {
	t.Helper()
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	packets := readSamples(t)
	alerts := map[int64]*ztf.Alert{}
	for id, b := range packets {
		var a ztf.Alert
		if err := codec.Decode(context.Background(), b, &a); err != nil {
			t.Fatal(err)
		}
		alerts[id] = &a
	}
	return codec, packets, alerts
}

// The decoded packets hold the values the table above was written from.
func TestSamplesHoldTheirKnownValues(t *testing.T) {
	_, _, alerts := decodeSamples(t)
	for id, a := range alerts {
		c := a.Candidate
		near := func(what string, got, want, tol float64) {
			if math.Abs(got-want) > tol {
				t.Errorf("%d %s = %v, want %v", id, what, got, want)
			}
		}
		if id == sampleFaded {
			near("rb", float64(*c.Rb), 0.4471428692340851, 1e-7)
			near("magpsf", float64(c.Magpsf), 15.3711, 1e-4)
			near("fwhm", float64(*c.FWHM), 5.72, 1e-6)
			near("elong", float64(*c.Elong), 1.0720, 1e-4)
			near("magdiff", float64(*c.Magdiff), -0.0543, 1e-4)
			near("sgscore1", float64(*c.Sgscore1), 0.9906, 1e-4)
			if c.Drb != nil || c.Isdiffpos != "f" || c.Ndethist != 110 || *c.Nbad != 0 || *c.Ssnamenr != "null" ||
				c.Programid != 1 || len(*a.PrvCandidates) != 28 {
				t.Errorf("%d: drb %v isdiffpos %q ndethist %d nbad %d ssnamenr %q programid %d prv %d", id, c.Drb, c.Isdiffpos,
					c.Ndethist, *c.Nbad, *c.Ssnamenr, c.Programid, len(*a.PrvCandidates))
			}
		} else {
			near("rb", float64(*c.Rb), 0.8433, 1e-4)
			near("drb", float64(*c.Drb), 0.9876, 1e-4)
			near("magpsf", float64(c.Magpsf), 18.3619, 1e-4)
			near("fwhm", float64(*c.FWHM), 2.52, 1e-6)
			near("elong", float64(*c.Elong), 1.1578, 1e-4)
			near("magdiff", float64(*c.Magdiff), -0.01026, 1e-5)
			near("sgscore1", float64(*c.Sgscore1), 0.9883, 1e-4)
			if c.Isdiffpos != "t" || c.Ndethist != 146 || *c.Nbad != 0 || *c.Ssnamenr != "null" || c.Programid != 3 || len(*a.PrvCandidates) != 11 {
				t.Errorf("%d: isdiffpos %q ndethist %d nbad %d ssnamenr %q programid %d prv %d", id, c.Isdiffpos,
					c.Ndethist, *c.Nbad, *c.Ssnamenr, c.Programid, len(*a.PrvCandidates))
			}
		}
		if snr, err := filter.StampSNR(a.CutoutDifference.StampData); err != nil || snr < 20 {
			t.Errorf("%d: difference stamp S/N %v, %v", id, snr, err)
		}
	}
}

// Every built-in, and a few expressions, on the real packets, through
// filter.Apply on the direct runner.
func TestSamplesThroughApply(t *testing.T) {
	packets := readSamples(t)
	ids := []int64{sampleFaded, sampleNew}
	var recs []kafkaio.Record
	for i, id := range ids {
		recs = append(recs, kafkaio.Record{Source: kafkaio.Source{Topic: "ztf_samples", Offset: int64(i), Prev: int64(i) - 1}, Value: packets[id]})
	}
	var specs []string
	for spec := range keptSamples {
		specs = append(specs, spec)
	}
	sort.Strings(specs)

	p, s := beam.NewPipelineWithRoot()
	r := runApply(t, p, s, beam.CreateList(s, recs), filter.Config{Survey: "ztf", Filters: specs})
	out, res := r.out, r.results
	if len(res["dead"]) > 0 {
		t.Errorf("dead letters: %+v", res["dead"])
	}
	for i, spec := range specs {
		var got []int64
		for _, l := range res["kept-"+out.Names[i]] {
			got = append(got, ids[l.offset])
			if _, transform := transforms[spec]; !transform && l.sum != testdiff.ShortSum(packets[ids[l.offset]]) {
				t.Errorf("%s republished %d with different bytes", spec, ids[l.offset])
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(keptSamples[spec]))
		if !slices.Equal(got, want) {
			t.Errorf("%s kept %v, want %v", spec, got, want)
		}
	}
	checkUnits(t, r, []int64{0, 1})
}

// A transformed real packet (written by ZTF with schema 3.x) is re-encoded
// with the 4.02 reader schema and decodes to the same alert minus what was
// dropped.
func TestSamplesTransformReencodes(t *testing.T) {
	codec, packets, alerts := decodeSamples(t)
	f, err := filter.Build("drop:fields=cutoutScience+cutoutTemplate+fp_hists", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range alerts {
		out, err := f.Apply(filter.OfZTF(a))
		if err != nil {
			t.Fatal(err)
		}
		enc, err := codec.Encode(out.ZTF)
		if err != nil {
			t.Fatal(err)
		}
		var back ztf.Alert
		if err := codec.Decode(context.Background(), enc, &back); err != nil {
			t.Fatal(err)
		}
		if back.CutoutScience != nil || back.CutoutTemplate != nil || back.FpHists != nil || back.CutoutDifference == nil ||
			back.Candid != id || back.Candidate.Magpsf != a.Candidate.Magpsf || len(*back.PrvCandidates) != len(*a.PrvCandidates) {
			t.Errorf("%d: re-encoded alert differs", id)
		}
		nocut, _ := filter.Build("nocutouts", "ztf")
		slim, _ := nocut.Apply(filter.OfZTF(a))
		small, err := codec.Encode(slim.ZTF)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d: %d bytes; %d without two cutouts and fp_hists; %d without cutouts", id, len(packets[id]), len(enc), len(small))
	}
}
