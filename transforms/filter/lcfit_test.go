package filter_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/alertbeam/alertbeam/internal/venv"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/lightcurve"
)

// The real ZTF packet with a history (the faded variable star) gives the
// same light curves per band as an independent reading of it with
// fastavro, and the same Bazin fits as scipy's curve_fit from the same
// starting point.
func TestLightCurveOfRealPacketAgreesWithScipy(t *testing.T) {
	py := venv.Python(t, "fastavro", "scipy")
	path := samples.Path(t, "data", "ztf", "2019_01_10_739260766315010006.avro")
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	var z ztf.Alert
	if err := codec.Decode(context.Background(), samples.Read(t, "data", "ztf", "2019_01_10_739260766315010006.avro"), &z); err != nil {
		t.Fatal(err)
	}
	a := filter.OfZTF(&z)
	curves := a.LightCurve()
	starts := map[string][]float64{}
	for band, pts := range curves {
		g := lightcurve.Guess(pts)
		starts[band] = []float64{g.A, g.T0, g.Rise, g.Fall}
	}
	var ref map[string]struct {
		Points [][3]float64 `json:"points"`
		Fit    []float64    `json:"fit"`
	}
	venv.RunJSON(t, py, filepath.Join("testdata", "lcfit_ztf.py"), starts, &ref, path)
	if len(ref) != len(curves) || len(curves["g"]) != 10 || len(curves["r"]) != 13 {
		t.Fatalf("bands: ours g %d, r %d points (%d bands); fastavro's %d bands; want g 10 and r 13",
			len(curves["g"]), len(curves["r"]), len(curves), len(ref))
	}
	fits := a.Fits()
	for band, pts := range curves {
		r := ref[band]
		if len(r.Points) != len(pts) {
			t.Fatalf("%s: %d points, fastavro's reading %d", band, len(pts), len(r.Points))
		}
		for i, p := range pts {
			q := r.Points[i]
			// magpsf is a float32: 1e-9 relative is far below its precision
			// but above the rounding of the conversion.
			if math.Abs(p.T-q[0]) > 1e-9 || math.Abs(p.Flux-q[1]) > 1e-9*math.Abs(q[1]) || math.Abs(p.Err-q[2]) > 1e-9*q[2] {
				t.Fatalf("%s point %d: %+v, fastavro's %v", band, i, p, q)
			}
		}
		f, ok := fits[band]
		if !ok || r.Fit == nil {
			t.Fatalf("%s: our fit %v, scipy's %v: want both", band, ok, r.Fit)
		}
		// From the same start (ours tries others too, keeping the lowest
		// χ²): the same parameters, or a fit at least as good.
		fromSame, err := lightcurve.FitFrom(pts, lightcurve.Guess(pts))
		if err != nil {
			t.Fatal(err)
		}
		rel := func(x, y float64) bool { return math.Abs(x-y) <= 0.01*math.Abs(y) }
		agree := rel(fromSame.A, r.Fit[0]) && math.Abs(fromSame.T0-r.Fit[1]) <= 0.01*math.Abs(r.Fit[3]) &&
			rel(fromSame.Rise, r.Fit[2]) && rel(fromSame.Fall, r.Fit[3])
		// r (13 points over the rise and decline) constrains the profile;
		// g's rise is faster than its sampling, so only its χ² is pinned.
		if band == "r" && !agree {
			t.Errorf("r: ours from scipy's start %+v; scipy %v: want within 1%%", fromSame.Params, r.Fit)
		}
		if !agree && !(math.Abs(fromSame.Chi2-r.Fit[4]) <= 0.02*r.Fit[4]) {
			t.Errorf("%s: ours from scipy's start %+v χ² %.6g; scipy %v", band, fromSame.Params, fromSame.Chi2, r.Fit)
		}
		if f.Chi2 > r.Fit[4]*1.02 {
			t.Errorf("%s: our best fit χ² %.6g is worse than scipy's %.6g", band, f.Chi2, r.Fit[4])
		}
		t.Logf("%s: %d points; ours A %.4g t0 %.4g rise %.4g fall %.4g χ²/dof %.3g score %.3f; scipy %.4g %.4g %.4g %.4g χ² %.4g (agree: %v)",
			band, len(pts), f.A, f.T0, f.Rise, f.Fall, f.Chi2DoF(), f.Score, r.Fit[0], r.Fit[1], r.Fit[2], r.Fit[3], r.Fit[4], agree)
	}
}

// ztfWithHistory is a ZTF alert whose r-band detections follow flux(t)
// (µJy, t in days relative to the alert), with 5% errors and seeded noise.
func ztfWithHistory(days []float64, flux func(float64) float64, seed uint64) *filter.Alert {
	r := rand.New(rand.NewPCG(seed, 1))
	const jd = 2461000.5
	mag := func(f float64) float32 { return float32(23.9 - 2.5*math.Log10(f)) }
	var prv []ztf.PrvCandidate
	var last ztf.Candidate
	for i, d := range days {
		f := flux(d) * (1 + 0.05*r.NormFloat64())
		m, s := mag(math.Abs(f)), float32(0.05*1.0857)
		pos := "t"
		if f < 0 {
			pos = "f"
		}
		if i == len(days)-1 {
			last = ztf.Candidate{Jd: jd + d, Fid: 2, Magpsf: m, Sigmapsf: s, Isdiffpos: pos, Candid: 100}
			break
		}
		id := int64(i + 1)
		prv = append(prv, ztf.PrvCandidate{Jd: jd + d, Fid: 2, Candid: &id, Magpsf: &m, Sigmapsf: &s, Isdiffpos: &pos})
	}
	last.Jd -= days[len(days)-1] // the alert is the last detection
	for i := range prv {
		prv[i].Jd -= days[len(days)-1]
	}
	return filter.OfZTF(&ztf.Alert{Candid: 100, Candidate: last, PrvCandidates: &prv})
}

// lcfit keeps a supernova-like light curve, with its fit in headers, and
// drops a flat one, a fading one, and one with too few points; the same
// fit is readable in expressions.
func TestLcfitFilter(t *testing.T) {
	sn := lightcurve.Params{A: 400, T0: -15, Rise: 2, Fall: 20}
	days := []float64{-20, -17, -15, -13, -11, -8, -5, -2, 0}
	cases := []struct {
		name string
		a    *filter.Alert
		keep bool
	}{
		{"supernova", ztfWithHistory(days, sn.At, 1), true},
		{"flat", ztfWithHistory(days, func(float64) float64 { return 100 }, 2), false},
		{"too few", ztfWithHistory(days[4:8], sn.At, 3), false},
	}
	f, err := filter.Build("lcfit", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	expr, err := filter.Expr("fast", "has(lcfit.r) && lcfit.r.rise < 5.0 && lcfit.r.fall > 10.0 && lcfit.r.score > 0.9 && lcfit.r.n == 9.0", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		out, err := f.Apply(c.a)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (out != nil) != c.keep {
			t.Errorf("%s: kept %v, want %v (fits %+v)", c.name, out != nil, c.keep, c.a.Fits())
			continue
		}
		if k, err := expr.Keep(c.a); err != nil || k != c.keep {
			t.Errorf("%s: expression kept %v (%v), want %v", c.name, k, err, c.keep)
		}
		if out == nil {
			continue
		}
		h := map[string]string{}
		for _, x := range out.Annotations() {
			h[x.Key] = string(x.Value)
		}
		fit := c.a.Fits()["r"]
		if h["lcfit.band"] != "r" || h["lcfit.rise"] == "" || len(h) != 7 {
			t.Fatalf("%s: headers %v", c.name, h)
		}
		if math.Abs(fit.Rise-sn.Rise) > 0.3*sn.Rise || math.Abs(fit.Fall-sn.Fall) > 0.2*sn.Fall {
			t.Errorf("%s: fitted rise %.3g fall %.3g, simulated %g %g", c.name, fit.Rise, fit.Fall, sn.Rise, sn.Fall)
		}
		if out.ZTF != c.a.ZTF {
			t.Errorf("%s: an annotated alert must keep its packet (nothing re-encoded)", c.name)
		}
	}
}
