package filter_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/catalog"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/filter/filtertest"
)

// stars is a small catalog: an ordinary star, a bright one, one just west
// of RA 0, one next to the north pole and one next to the south pole.
var stars = []string{
	"101,150.0,20.0,9.0",
	"102,150.1,20.0,1.0",
	"103,359.9995,10.0,8.0",
	"104,0.0,89.9995,6.0",
	"105,45.0,-89.9999,7.5",
}

// positions are alert positions (id, ra, dec) around the stars, with the
// separation of each from its star in the comment.
var positions = []struct {
	id      int64
	ra, dec float64
}{
	{1, 150.0, 20.0},              // 0"
	{2, 150.0, 20.0 + 4.0/3600},   // 4"
	{3, 150.0, 20.0 + 5.0/3600},   // exactly 5": inside (inclusive)
	{4, 150.0, 20.0 + 5.001/3600}, // 5.001": outside
	{5, 150.0, 20.0 - 30.0/3600},  // 30"
	{6, 0.0005, 10.0},             // across RA 0: 3.545" from 103
	{7, 0.003, 10.0},              // 12.4" from 103
	{8, 180.0, 89.9995},           // over the pole: 3.6" from 104
	{9, 180.0, 89.999},            // 5.4" from 104
	{10, 225.0, -89.9999},         // over the south pole: 0.72" from 105
	{11, 10.0, -30.0},             // nowhere near
	{12, 150.1, 20.0 + 60.0/3600}, // 60" from the bright star 102
}

func ztfAt(id int64, ra, dec float64) *filter.Alert {
	return filtertest.ZTF(id, func(a *ztf.Alert) { a.Candidate.RA, a.Candidate.Dec = ra, dec })
}

// within is what a brute-force scan of the catalog says: the ids of the
// positions with a star within r arcsec.
func within(t *testing.T, r float64) []int64 {
	t.Helper()
	var out []int64
	for _, p := range positions {
		for _, s := range stars {
			f := strings.Split(s, ",")
			var ra, dec float64
			if _, err := fmtSscan(f[1], &ra); err != nil {
				t.Fatal(err)
			}
			if _, err := fmtSscan(f[2], &dec); err != nil {
				t.Fatal(err)
			}
			if catalog.Separation(p.ra, p.dec, ra, dec) <= r+catalog.Tolerance {
				out = append(out, p.id)
				break
			}
		}
	}
	return out
}

// A stream filtered with xmatch keeps exactly the alerts within r of a
// catalog star (inclusive), across RA 0/360 and the poles, on the direct
// runner; noxmatch keeps the others.
func TestXmatchPipeline(t *testing.T) {
	hip := filtertest.WriteCatalog(t, "hip", "HIP,ra,dec,Hpmag", stars...)
	opts := filtertest.Options{Catalogs: []string{hip + ",id=HIP"}}
	var alerts []*filter.Alert
	var all []int64
	for _, p := range positions {
		alerts = append(alerts, ztfAt(p.id, p.ra, p.dec))
		all = append(all, p.id)
	}
	want := within(t, 5)
	if !slices.Equal(want, []int64{1, 2, 3, 6, 8, 10}) {
		t.Fatalf("brute force: %v (the positions are not where the test meant them)", want)
	}
	if got := filtertest.KeptWith(t, opts, "xmatch:cat=hip,r=5", alerts...); !slices.Equal(got, want) {
		t.Errorf("xmatch r=5 kept %v, want %v", got, want)
	}
	rest := slices.DeleteFunc(slices.Clone(all), func(id int64) bool { return slices.Contains(want, id) })
	if got := filtertest.KeptWith(t, opts, "noxmatch:cat=hip,r=5", alerts...); !slices.Equal(got, rest) {
		t.Errorf("noxmatch r=5 kept %v, want %v", got, rest)
	}
	// The same cut as an expression, and reading the match's fields.
	r, err := filtertest.RunWith(t.Context(), opts, "has(xmatch.hip) && xmatch.hip.sep <= 5.0", alerts...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Kept, want) || len(r.Dead) != 0 {
		t.Errorf("expression kept %v (dead %v), want %v", r.Kept, r.Dead, want)
	}
	// Nearest within the default 60": 1-5 and 12 reach 101 or 102.
	if got := filtertest.KeptWith(t, opts, `xmatch.hip.id == "102" || (xmatch.hip.Hpmag < 8.5 && xmatch.hip.dec < 0.0)`, alerts...); !slices.Equal(got, []int64{10, 12}) {
		t.Errorf("id/Hpmag/dec expression kept %v, want [10 12]", got)
	}
}

func fmtSscan(s string, f *float64) (int, error) {
	v, err := strconv.ParseFloat(s, 64)
	*f = v
	return 1, err
}

// The bright-star veto: radius clamp(120 - 10 m, 5, 120) arcsec. Alert 12
// is 60" from a magnitude-1 star (radius 110"): vetoed; alert 5 is 30"
// from a magnitude-9 star (radius 30", inclusive): vetoed; alert 4,
// 5.001" from the magnitude-9 star and 36" from the bright one, is
// vetoed by the bright one.
func TestBrightStarVeto(t *testing.T) {
	hip := filtertest.WriteCatalog(t, "hip", "id,ra,dec,Hpmag", stars...)
	opts := filtertest.Options{Catalogs: []string{hip}}
	var alerts []*filter.Alert
	for _, p := range positions {
		alerts = append(alerts, ztfAt(p.id, p.ra, p.dec))
	}
	// 103 (m 8): 40"; 104 (m 6): 60"; 105 (m 7.5): 45".
	want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12}
	if got := filtertest.KeptWith(t, opts, "brightstar:cat=hip", alerts...); !slices.Equal(got, want) {
		t.Errorf("brightstar kept %v, want %v", got, want)
	}
	if got := filtertest.KeptWith(t, opts, "nobrightstar:cat=hip", alerts...); !slices.Equal(got, []int64{11}) {
		t.Errorf("nobrightstar kept %v, want [11]", got)
	}
	// Smaller radii, clamp(20 - 2 m, 1, 20): 101 (m 9) 2", 102 (m 1) 18",
	// 103 (m 8) 4", 104 (m 6) 8", 105 (m 7.5) 5".
	if got := filtertest.KeptWith(t, opts, "nobrightstar:cat=hip,a=20,b=2,rmin=1,rmax=20", alerts...); !slices.Equal(got, []int64{2, 3, 4, 5, 7, 11, 12}) {
		t.Errorf("nobrightstar a=20 kept %v", got)
	}
	// The documented expression form (nearest star only).
	veto := "!(has(xmatch.hip) && xmatch.hip.sep <= math.greatest(5.0, math.least(120.0, 120.0 - 10.0 * xmatch.hip.Hpmag)))"
	if got := filtertest.KeptWith(t, opts, veto, alerts...); !slices.Equal(got, []int64{11}) {
		t.Errorf("veto expression kept %v, want [11]", got)
	}
}

func TestXmatchLSST(t *testing.T) {
	hip := filtertest.WriteCatalog(t, "hip", "id,ra,dec,Hpmag", stars...)
	var alerts []*filter.Alert
	for _, p := range positions {
		alerts = append(alerts, filtertest.LSST(p.id, func(a *lsst.Alert) { a.DiaSource.RA, a.DiaSource.Dec = p.ra, p.dec }))
	}
	if got := filtertest.KeptWith(t, filtertest.Options{Catalogs: []string{hip}}, "xmatch:cat=hip,r=5", alerts...); !slices.Equal(got, within(t, 5)) {
		t.Errorf("LSST xmatch kept %v, want %v", got, within(t, 5))
	}
}

// Crossmatch filters run in plain Go on an alert given catalogs.
func TestXmatchInGo(t *testing.T) {
	hip := filtertest.WriteCatalog(t, "hip", "id,ra,dec,Hpmag", stars...)
	cats, err := filter.OpenCatalogs([]string{hip})
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.Build("xmatch:cat=hip,r=5", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	a := ztfAt(1, 150.0, 20.0+4.0/3600).WithCatalogs(cats)
	if ok, err := f.Keep(a); !ok || err != nil {
		t.Errorf("Keep = %v, %v", ok, err)
	}
	m, ok, err := a.Nearest("hip", 5)
	if v, _ := m.Value("Hpmag"); !ok || err != nil || m.ID() != "101" || v != 9 || m.Sep < 3.999999 || m.Sep > 4.000001 {
		t.Errorf("Nearest = %s at %v (Hpmag %v), %v, %v", m.ID(), m.Sep, v, ok, err)
	}
	if _, err := f.Keep(ztfAt(2, 0, 0)); err == nil || !strings.Contains(err.Error(), `no catalog "hip" is loaded`) {
		t.Errorf("without catalogs: %v", err)
	}
}

// Every catalog and column a filter reads is checked when the pipeline is
// built.
func TestXmatchConfigErrors(t *testing.T) {
	hip := filtertest.WriteCatalog(t, "hip", "id,ra,dec,Hpmag", stars...)
	for _, tc := range []struct {
		filter   string
		catalogs []string
		want     string
	}{
		{"xmatch:cat=gaia,r=1", []string{hip}, `filter xmatch-catgaia-r1 reads catalog "gaia", which is not loaded (loaded: hip); give it with --catalog gaia=PATH`},
		{"xmatch:cat=hip", nil, `reads catalog "hip", which is not loaded (loaded: none)`},
		{"xmatch.hip.Vmag < 5.0", []string{hip}, `reads column "Vmag" of catalog hip, which has sep, id, ra, dec, Hpmag`},
		{"brightstar:cat=hip,mag=V", []string{hip}, `reads column "V" of catalog hip`},
		{"noxmatch:cat=hip,r=-1", []string{hip}, "parameter r=-1 outside"},
		{"xmatch:cat=hip", []string{"hip=/nonexistent.csv"}, "nonexistent.csv"},
		{"xmatch:cat=hip", []string{hip, hip}, `two catalogs named "hip"`},
	} {
		_, s := beam.NewPipelineWithRoot()
		_, err := filter.TryApply(s, filter.Config{Survey: "ztf", Filters: []string{tc.filter}, Catalogs: tc.catalogs}, beam.CreateList(s, []kafkaio.Record{}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %v: %v, want an error with %q", tc.filter, tc.catalogs, err, tc.want)
		}
	}
}
