package filter_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/filter/filtertest"
)

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestRegisterValidatesNames(t *testing.T) {
	keep := func(*filter.Alert) (bool, error) { return true, nil }
	mustPanic(t, "an upper-case name", func() { filter.Register("Bad", "", keep) })
	mustPanic(t, "a name with a dot", func() { filter.Register("a.b", "", keep) })
	mustPanic(t, "a taken name", func() { filter.Register("purity", "", keep) })
	mustPanic(t, "a nil Func", func() { filter.Register("nil-func", "", nil) })
	filter.Register("test-registered-once", "a test filter", keep)
	mustPanic(t, "registering twice", func() { filter.Register("test-registered-once", "a test filter", keep) })
	if _, ok := filter.Lookup("test-registered-once"); !ok {
		t.Error("Lookup does not find a registered filter")
	}
}

func TestBuiltinsRegistered(t *testing.T) {
	want := []string{"asteroid", "bright", "cutoutsnr", "drb", "drop", "history", "new", "noasteroid",
		"nocutouts", "positive", "program", "purity", "rb", "significance", "star"}
	var got []string
	for _, e := range filter.Entries() {
		if !strings.Contains(e.Name, "test") && !strings.HasPrefix(e.Name, "young") && !strings.HasPrefix(e.Name, "panicky") {
			got = append(got, e.Name)
		}
		if e.Doc == "" {
			t.Errorf("%s has no doc", e.Name)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("built-in %s is not registered (have %v)", w, got)
		}
	}
}

func TestBuildSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec, survey, name string
	}{
		{"purity", "ztf", "purity"},
		{"rb", "ztf", "rb"},
		{"rb:min=0.8", "ztf", "rb-min0.8"},
		{" rb : min = 0.8 ", "ztf", "rb-min0.8"},
		{"good=rb:min=0.8", "ztf", "good"},
		{"drop:fields=fp_hists+prv_candidates", "ztf", "drop-fieldsfp_hists_prv_candidates"},
		{"candidate.rb > 0.8", "ztf", "expr-"},
		{"rbok=candidate.rb > 0.8", "ztf", "rbok"},
		{"candidate.ndethist==1", "ztf", "expr-"},
		{"significance", "lsst", "significance"},
		{"diaSource.psfFlux / diaSource.psfFluxErr > 5.0", "lsst", "expr-"},
	} {
		f, err := filter.Build(tc.spec, tc.survey)
		if err != nil {
			t.Errorf("Build(%q): %v", tc.spec, err)
			continue
		}
		if !strings.HasPrefix(f.Name(), tc.name) || (tc.name != "expr-" && f.Name() != tc.name) {
			t.Errorf("Build(%q) is named %q, want %q", tc.spec, f.Name(), tc.name)
		}
	}
	for _, tc := range []struct {
		spec, survey, want string
	}{
		{"nosuch", "ztf", `no filter named "nosuch"`},
		{"rb:max=0.8", "ztf", `no parameter "max"`},
		{"rb:min=high", "ztf", `min="high" is not a number`},
		{"rb:min=2", "ztf", "outside [0, 1]"},
		{"rb:min=0.5,min=0.6", "ztf", "given twice"},
		{"purity:x=1", "ztf", "takes no parameters"},
		{"drop", "ztf", "needs parameter fields"},
		{"drop:fields=candidate.jd", "ztf", `"candidate.jd" is not nullable`},
		{"drop:fields=candidate.nosuch", "ztf", `no field "candidate.nosuch"`},
		{"purity", "lsst", "does not apply to lsst"},
		{"star", "lsst", "does not apply to lsst"},
		{"Bad=purity", "ztf", "Syntax error"},
		{"candidate.rb > 0.8", "lsst", "undeclared reference to 'candidate'"},
		{"", "ztf", "empty filter spec"},
		{"purity", "hst", "unknown survey"},
	} {
		_, err := filter.Build(tc.spec, tc.survey)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%q, %s) = %v, want an error containing %q", tc.spec, tc.survey, err, tc.want)
		}
	}
}

// A bad expression fails when the pipeline is built, with a message that
// names the field.
func TestBadExpressionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		expr, survey string
		want         []string
	}{
		{"candidate.rbb > 0.8", "ztf", []string{"candidate has no field rbb", "did you mean rb"}},
		{"candidate.isdiffpos > 0.5", "ztf", []string{"candidate.isdiffpos (string)", "0.5 (double)"}},
		{"candidate.magpsf < '18'", "ztf", []string{"candidate.magpsf (double)"}},
		{"candidat.rb > 0.8", "ztf", []string{"no variable candidat", "did you mean candidate"}},
		{"prv_candidates.exists(p, p.magpfs < 18.0)", "ztf", []string{"undefined field 'magpfs'"}},
		{"diaSource.psfflux > 0.0", "lsst", []string{"diaSource has no field psfflux", "did you mean psfFlux"}},
		{"candidate.magpsf", "ztf", []string{"is a double, not a bool"}},
		{"candidate.rb >", "ztf", []string{"Syntax error"}},
	} {
		_, err := filter.Expr("x", tc.expr, tc.survey)
		if err == nil {
			t.Errorf("%q compiled", tc.expr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not contain %q", tc.expr, err, w)
			}
		}
	}
}

func keeps(t *testing.T, f *filter.Filter, a *filter.Alert) bool {
	t.Helper()
	ok, err := f.Keep(a)
	if err != nil {
		t.Fatalf("%s: %v", f.Name(), err)
	}
	return ok
}

func fn(name string, keep bool, err error) *filter.Filter {
	return filter.New(name, "", func(*filter.Alert) (bool, error) { return keep, err })
}

func TestCombinators(t *testing.T) {
	a := filtertest.ZTF(1)
	yes, no := fn("yes", true, nil), fn("no", false, nil)
	miss, bad := fn("miss", false, filter.ErrMissing), fn("bad", false, errors.New("boom"))
	for _, tc := range []struct {
		f          *filter.Filter
		name       string
		kept       bool
		missing    bool
		errorsWith string
	}{
		{filter.And(yes, yes), "yes&yes", true, false, ""},
		{filter.And(yes, no), "yes&no", false, false, ""},
		{filter.And(miss, no), "miss&no", false, false, ""}, // a definite no wins
		{filter.And(yes, miss), "yes&miss", false, true, ""},
		{filter.And(yes, bad), "yes&bad", false, false, "boom"},
		{filter.Or(no, yes), "no|yes", true, false, ""},
		{filter.Or(miss, yes), "miss|yes", true, false, ""}, // a definite yes wins
		{filter.Or(no, miss), "no|miss", false, true, ""},
		{filter.Or(no, no), "no|no", false, false, ""},
		{filter.Not(no), "!no", true, false, ""},
		{filter.Not(yes), "!yes", false, false, ""},
		{filter.Not(miss), "!miss", false, true, ""},
	} {
		if tc.f.Name() != tc.name {
			t.Errorf("name %q, want %q", tc.f.Name(), tc.name)
		}
		out, err := tc.f.Apply(a)
		switch {
		case tc.errorsWith != "":
			if err == nil || !strings.Contains(err.Error(), tc.errorsWith) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.errorsWith)
			}
		case tc.missing:
			if !errors.Is(err, filter.ErrMissing) {
				t.Errorf("%s: err %v, want ErrMissing", tc.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case (out != nil) != tc.kept:
			t.Errorf("%s kept %v, want %v", tc.name, out != nil, tc.kept)
		}
	}
	// Surveys intersect, and As renames.
	z := filter.New("z", "", func(*filter.Alert) (bool, error) { return true, nil }, "ztf")
	l := filter.New("l", "", func(*filter.Alert) (bool, error) { return true, nil }, "lsst")
	if both := filter.And(z, l); both.Supports("ztf") || both.Supports("lsst") {
		t.Errorf("And of a ZTF-only and an LSST-only filter supports %v", both.Surveys())
	}
	if f := filter.And(z, yes).As("zy", "doc"); f.Name() != "zy" || f.Doc() != "doc" || !f.Supports("ztf") || f.Supports("lsst") {
		t.Errorf("As: %s %q %v", f.Name(), f.Doc(), f.Surveys())
	}
}

// Transforms chain through And, and never touch the original alert.
func TestTransformsCopy(t *testing.T) {
	a := filtertest.ZTF(1, func(a *ztf.Alert) {
		a.CutoutDifference = &ztf.Cutout{FileName: "d", StampData: filtertest.Stamp(10)}
		a.PrvCandidates = &[]ztf.PrvCandidate{{Jd: filtertest.JD - 1}}
	})
	nocut, _ := filter.Build("nocutouts", "ztf")
	drop, err := filter.Build("drop:fields=prv_candidates+candidate.ssnamenr", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	out, err := filter.And(nocut, drop).Apply(a)
	if err != nil {
		t.Fatal(err)
	}
	if out == a || out.ZTF.CutoutDifference != nil || out.ZTF.PrvCandidates != nil || out.ZTF.Candidate.Ssnamenr != nil {
		t.Errorf("transformed alert: %+v", out.ZTF)
	}
	if a.ZTF.CutoutDifference == nil || a.ZTF.PrvCandidates == nil || a.ZTF.Candidate.Ssnamenr == nil {
		t.Errorf("the original alert changed: %+v", a.ZTF)
	}
	// Fields behind pointers are copied before they change.
	l := filtertest.LSST(2, func(a *lsst.Alert) { a.DiaObject = &lsst.DiaObject{DiaObjectID: 5, RAErr: filtertest.Ptr[float32](1)} })
	d, err := filter.Build("drop:fields=diaObject.raErr", "lsst")
	if err != nil {
		t.Fatal(err)
	}
	out, _ = d.Apply(l)
	if out.LSST.DiaObject.RAErr != nil || l.LSST.DiaObject.RAErr == nil || out.LSST.DiaObject.DiaObjectID != 5 {
		t.Errorf("drop through a pointer: out %+v, original %+v", out.LSST.DiaObject, l.LSST.DiaObject)
	}
}

func TestPanicsAreRecovered(t *testing.T) {
	f := filter.New("boom", "", func(a *filter.Alert) (bool, error) {
		var scores []float64
		return scores[a.ID()] > 0, nil // index out of range
	})
	out, err := f.Apply(filtertest.ZTF(1))
	var pe *filter.PanicError
	if out != nil || !errors.As(err, &pe) {
		t.Fatalf("Apply = %v, %v; want a *PanicError", out, err)
	}
	if pe.Filter != "boom" || !strings.Contains(err.Error(), "index out of range") || !strings.Contains(pe.At, "filter_test.go") {
		t.Errorf("panic error %q at %q", err, pe.At)
	}
	if _, err := f.Apply(&filter.Alert{}); err == nil {
		t.Error("an empty Alert was accepted")
	}
	z := filter.New("z", "", func(*filter.Alert) (bool, error) { return true, nil }, "ztf")
	if _, err := z.Apply(filtertest.LSST(1)); err == nil {
		t.Error("a ZTF-only filter accepted an LSST alert")
	}
}

func TestAlertHelpers(t *testing.T) {
	z := filtertest.ZTF(11, func(a *ztf.Alert) { a.Candidate.Sigmapsf = 0.1 })
	if z.Survey() != "ztf" || z.ID() != 11 {
		t.Errorf("survey %s id %d", z.Survey(), z.ID())
	}
	if got, want := z.Time(), time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC); got.Sub(want).Abs() > time.Second {
		t.Errorf("time %v, want %v", got, want)
	}
	if k := z.Visit().Key(); k != "ztf/2461368.7083333/600" {
		t.Errorf("visit key %q", k)
	}
	if snr := z.SNR(); math.Abs(snr-10.857) > 0.001 {
		t.Errorf("ZTF SNR %v, want 1.0857/0.1", snr)
	}
	l := filtertest.LSST(12, func(a *lsst.Alert) { a.DiaSource.PsfFlux = filtertest.Ptr[float32](-700) })
	if l.Visit().Key() != "lsst/2026112400001" || l.SNR() != 7 {
		t.Errorf("LSST visit %q SNR %v", l.Visit().Key(), l.SNR())
	}
	// midpointMjdTai is TAI: 37 s ahead of UTC.
	if got, want := l.Time(), time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC); got.Sub(want).Abs() > time.Millisecond {
		t.Errorf("LSST time %v, want %v", got, want)
	}
	c := z.Clone()
	c.ZTF.Candidate.Magpsf = 1
	if z.ZTF.Candidate.Magpsf == 1 {
		t.Error("Clone shares the candidate")
	}
}

func TestSelect(t *testing.T) {
	in := []filter.Scored{{ID: 5, Score: 3}, {ID: 2, Score: 9}, {ID: 7, Score: 3}, {ID: 1, Score: math.NaN()},
		{ID: 4, Score: 3}, {ID: 2, Score: 9}, {ID: 9, Score: -1}}
	keep, capped := filter.Select(in, 3)
	if !slices.Equal(keep, []int64{2, 4, 5}) || !slices.Equal(capped, []int64{1, 7, 9}) {
		t.Errorf("Select = %v, %v; want [2 4 5], [1 7 9]", keep, capped)
	}
	// The order of the input does not matter.
	slices.Reverse(in)
	keep2, capped2 := filter.Select(in, 3)
	if !slices.Equal(keep, keep2) || !slices.Equal(capped, capped2) {
		t.Errorf("Select depends on order: %v %v", keep2, capped2)
	}
	if keep, capped := filter.Select(in, 0); keep != nil || len(capped) != 6 {
		t.Errorf("Select(0) = %v, %v", keep, capped)
	}
	if keep, capped := filter.Select(in, 100); len(keep) != 6 || capped != nil {
		t.Errorf("Select(100) = %v, %v", keep, capped)
	}
}

func TestStampSNR(t *testing.T) {
	for _, c := range []float32{0, 4.5, 5.5, -8, 250} {
		snr, err := filter.StampSNR(filtertest.Stamp(c))
		if err != nil || math.Abs(snr-math.Abs(float64(c))) > 1e-5 {
			t.Errorf("StampSNR(centre %v) = %v, %v", c, snr, err)
		}
	}
	if _, err := filter.StampSNR([]byte("not a FITS file")); err == nil {
		t.Error("garbage decoded")
	}
	f, _ := filter.Build("cutoutsnr", "ztf")
	withStamp := func(c float32) func(*ztf.Alert) {
		return func(a *ztf.Alert) { a.CutoutDifference = &ztf.Cutout{StampData: filtertest.Stamp(c)} }
	}
	if !keeps(t, f, filtertest.ZTF(1, withStamp(5.5))) || keeps(t, f, filtertest.ZTF(2, withStamp(4.5))) {
		t.Error("cutoutsnr does not cut at 5")
	}
	if _, err := f.Apply(filtertest.ZTF(3)); !errors.Is(err, filter.ErrMissing) {
		t.Errorf("no cutout: %v, want ErrMissing", err)
	}
	if _, err := f.Apply(filtertest.ZTF(4, func(a *ztf.Alert) { a.CutoutDifference = &ztf.Cutout{StampData: []byte("junk")} })); err == nil || errors.Is(err, filter.ErrMissing) {
		t.Errorf("a corrupt cutout: %v, want an error", err)
	}
}
