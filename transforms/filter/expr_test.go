package filter_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/filter/filtertest"
)

// historyExpr is the history built-in written as an expression: detections
// on the alert's UTC date (JD + 0.5 floored) span more than 30 minutes,
// none is earlier, and jdstarthist, when present, is today.
const historyExpr = `
	cel.bind(today, math.floor(candidate.jd + 0.5),
	  (!has(candidate.jdstarthist) || math.floor(candidate.jdstarthist + 0.5) >= today) &&
	  !prv_candidates.exists(p, has(p.candid) && math.floor(p.jd + 0.5) < today) &&
	  cel.bind(t, [candidate.jd] + prv_candidates.filter(p, has(p.candid) && math.floor(p.jd + 0.5) == today).map(p, p.jd),
	    (math.greatest(t) - math.least(t)) * 1440.0 > 30.0))`

// Pairs of a built-in (Go) and the equivalent expression.
var equivalents = map[string][][2]string{
	sim.SurveyZTF: {
		{"purity", "candidate.rb >= 0.65 && candidate.nbad == 0 && candidate.fwhm <= 5 && candidate.elong <= 1.2 && math.abs(candidate.magdiff) <= 0.1"},
		{"rb:min=0.8", "candidate.rb >= 0.8"},
		{"drb", "candidate.drb >= 0.5"},
		{"star", "has(candidate.sgscore1) && candidate.sgscore1 >= 0.5 && candidate.distpsnr1 <= 30.0"},
		{"bright", "candidate.magpsf <= 18.5"},
		{"positive", "candidate.isdiffpos in ['t', '1']"},
		{"new", "candidate.ndethist <= 1 && !prv_candidates.exists(p, has(p.candid))"},
		{"history", historyExpr},
		{"asteroid", "has(candidate.ssnamenr) && has(candidate.ssdistnr) && candidate.ssdistnr <= 5.0"},
		{"noasteroid", "!(has(candidate.ssnamenr) && has(candidate.ssdistnr) && candidate.ssdistnr <= 5.0)"},
		{"significance", "1.0857362047581294 / candidate.sigmapsf > 5.0"},
		{"program:ids=2+3", "candidate.programid in [2, 3]"},
	},
	sim.SurveyLSST: {
		{"rb", "diaSource.reliability >= 0.65"},
		{"significance", "diaSource.psfFlux / diaSource.psfFluxErr > 5.0"},
		{"positive", "diaSource.psfFlux > 0.0"},
		{"asteroid", "has(alert.ssSource)"},
		{"new", "size(prvDiaSources) == 0 && (!has(alert.diaObject) || diaObject.nDiaSources <= 1)"},
		{"bright:max=21", "math.abs(diaSource.psfFlux) >= 14454.39770745925"}, // 10^((31.4-21)/2.5) nJy
	},
}

// An expression filter and the equivalent Go filter select the same ids on
// 10,000 generated alerts.
func TestExpressionsMatchGoFilters(t *testing.T) {
	for _, survey := range []string{sim.SurveyZTF, sim.SurveyLSST} {
		c := nightConfig(survey, 100, false)
		c.Visits = 100
		n := generate(t, c)
		if len(n.alerts) != 10000 {
			t.Fatalf("%d alerts, want 10,000", len(n.alerts))
		}
		for _, pair := range equivalents[survey] {
			goIDs, _ := keptBy(t, n, pair[0])
			exprIDs, _ := keptBy(t, n, "x="+pair[1])
			if d := testdiff.IDs(exprIDs, goIDs); d != "" {
				t.Errorf("%s %s vs %q: %s", survey, pair[0], pair[1], d)
			}
			if len(goIDs) == 0 || len(goIDs) == len(n.alerts) {
				t.Errorf("%s %s keeps %d of %d: not a test of anything", survey, pair[0], len(goIDs), len(n.alerts))
			}
			t.Logf("%s %-16s %5d kept by both", survey, pair[0], len(goIDs))
		}
	}
}

type outcome int

const (
	kept outcome = iota
	dropped
	missing
	failed
)

func run(t *testing.T, expr string, a *filter.Alert) outcome {
	t.Helper()
	f, err := filter.Expr("t", expr, a.Survey())
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	out, err := f.Apply(a)
	switch {
	case errors.Is(err, filter.ErrMissing):
		return missing
	case err != nil:
		return failed
	case out != nil:
		return kept
	}
	return dropped
}

// Null fields, ZTF sentinels and float32 values read as documented.
func TestExpressionSemantics(t *testing.T) {
	z := filtertest.ZTF(1, func(a *ztf.Alert) {
		a.Candidate.Drb = nil
		a.Candidate.Magdiff = filtertest.Ptr[float32](0.1) // float32(0.1) > 0.1 as a double
		a.Candidate.Sgscore1 = filtertest.Ptr[float32](-999)
		a.Candidate.Ssnamenr = filtertest.Ptr("null")
	})
	l := filtertest.LSST(2)
	for _, tc := range []struct {
		a    *filter.Alert
		expr string
		want outcome
	}{
		{z, "has(candidate.drb)", dropped},
		{z, "candidate.drb > 0.5", missing},
		{z, "candidate.drb > 0.5 || candidate.rb > 0.5", kept}, // true || missing is true
		{z, "candidate.drb > 0.5 && candidate.rb < 0.5", dropped},
		{z, "!has(candidate.drb) || candidate.drb > 0.5", kept},
		{z, "candidate.?drb.orValue(0.0) > 0.5", dropped},
		{z, "has(candidate.sgscore1)", dropped}, // -999 is absent
		{z, "candidate.sgscore1 < 0.5", missing},
		{z, "has(candidate.ssnamenr)", dropped}, // "null" is absent
		{z, "has(candidate.rb) && has(candidate.jd) && has(candidate.isdiffpos)", kept},
		{z, "candidate.magdiff <= 0.1 && candidate.magdiff == 0.1", kept},
		{z, "candidate.ndethist >= 1.0 && candidate.ndethist == 1", kept},
		{z, "size(prv_candidates) == 0 && !has(alert.prv_candidates)", kept}, // a null array is empty
		{z, "candidate.jd > 2461368.0 && objectId.startsWith('ZTF')", kept},
		{z, "candidate.magpsf / 0.0 > 1.0", kept}, // doubles divide to +Inf, as in Go
		{z, "candidate.ndethist / 0 > 1", failed}, // integers do not
		{l, "has(alert.diaObject) || has(diaObject.ra)", dropped},
		{l, "diaObject.ra > 0.0", missing},
		{l, "observation_reason == 'wfd'", missing}, // a null top-level field
		{l, "has(alert.observation_reason) || has(alert.prvDiaSources)", dropped},
		{l, "diaSource.psfFlux / diaSource.psfFluxErr > 5.0 && diaSource.band == 'r'", kept},
		{l, "!has(alert.ssSource) && size(prvDiaSources) == 0", kept},
		{l, "has(alert.mpc_orbits) && mpc_orbits.created_at < timestamp('2020-01-01T00:00:00Z')", dropped},
	} {
		if got := run(t, tc.expr, tc.a); got != tc.want {
			t.Errorf("%q on %s: outcome %d, want %d", tc.expr, tc.a.Survey(), got, tc.want)
		}
	}
	// The Go purity cut agrees at the float32 edge.
	purity, _ := filter.Build("purity", "ztf")
	if !keeps(t, purity, z) {
		t.Error("purity drops magdiff = float32(0.1)")
	}
}

// A runaway expression is stopped by the cost limit and fails the alert
// (dead letter), instead of stalling the stream.
func TestExpressionCostLimit(t *testing.T) {
	prv := make([]ztf.PrvCandidate, 200)
	for i := range prv {
		prv[i].Jd = filtertest.JD - float64(i)
	}
	a := filtertest.ZTF(1, func(a *ztf.Alert) { a.PrvCandidates = &prv })
	f, err := filter.Expr("slow", "prv_candidates.all(p, prv_candidates.all(q, prv_candidates.all(r, p.jd + q.jd + r.jd > 0.0)))", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = f.Apply(a)
	if err == nil || errors.Is(err, filter.ErrMissing) || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("err %v, want a cost-limit error", err)
	}
	t.Logf("stopped after %v: %v", time.Since(start), err)
	// The same expression over a short history is fine.
	a.ZTF.PrvCandidates = &[]ztf.PrvCandidate{{Jd: 1}, {Jd: 2}}
	if ok, err := f.Keep(a); !ok || err != nil {
		t.Errorf("short history: %v %v", ok, err)
	}
}

// Every field of both schemas is reachable from expressions, with the type
// the schema gives it.
func TestExpressionEnvironmentCoversSchemas(t *testing.T) {
	for _, tc := range []struct {
		survey string
		exprs  []string
	}{
		{"ztf", []string{
			"has(alert.candidate) && has(candidate.drbversion) && has(fp_hists[0].forcediffimflux)",
			"cutoutDifference.stampData.size() > 0 || has(cutoutScience.fileName)",
			"candid > 0 && schemavsn == '4.02' && publisher != ''",
			"prv_candidates.all(p, has(p.magzpsci) || !has(p.magzpsci))",
		}},
		{"lsst", []string{
			"diaSourceId > 0 && observation_reason == 'wfd' && target_name != ''",
			"prvDiaForcedSources.exists(f, f.psfFlux > 0.0)",
			"diaObject.g_psfFluxMean > 0.0 && ssSource.eclLambda > 0.0",
			"mpc_orbits.fitting_datetime > timestamp('2020-01-01T00:00:00Z')",
			"size(cutoutDifference) > 0",
		}},
	} {
		for _, e := range tc.exprs {
			if _, err := filter.Expr("x", e, tc.survey); err != nil {
				t.Errorf("%s: %v", tc.survey, err)
			}
		}
	}
	// Reading an LSST alert's nested records works at run time.
	l := filtertest.LSST(3, func(a *lsst.Alert) {
		a.DiaObject = &lsst.DiaObject{DiaObjectID: 9, GPsfFluxMean: filtertest.Ptr[float32](5)}
		a.PrvDiaSources = &[]lsst.DiaSource{{MidpointMjdTai: filtertest.MJD - 1, PsfFlux: filtertest.Ptr[float32](10)}}
	})
	if got := run(t, "diaObject.g_psfFluxMean == 5.0 && prvDiaSources[0].psfFlux == 10.0 && diaObject.diaObjectId == 9", l); got != kept {
		t.Errorf("nested LSST records: outcome %d", got)
	}
}

// An --expr value splits into its name and its expression at the first
// '=' when a name stands before it and the '=' is not part of "==", and
// always compiles as an expression: under that name, or the hash of its
// text as given.
func TestExprSpecForms(t *testing.T) {
	hash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "expr-" + hex.EncodeToString(h[:4])
	}
	for _, c := range []struct {
		in, name, expr, spec string
		built                string // the filter's name; "" when Build must fail
	}{
		{"clean=true", "clean", "true", "clean=(true)", "clean"},
		{"true", "", "true", hash("true") + "=(true)", hash("true")},
		{"  n = candidate.rb >= 0.5 ", "n", "candidate.rb >= 0.5", "n=candidate.rb >= 0.5", "n"},
		{"x=candidate.rb>=0.5", "x", "candidate.rb>=0.5", "x=candidate.rb>=0.5", "x"},
		{"two-step_1=candidate.ndethist >= 2", "two-step_1", "candidate.ndethist >= 2", "two-step_1=candidate.ndethist >= 2", "two-step_1"},
		{"candidate.rb == 0.5", "", "candidate.rb == 0.5", "candidate.rb == 0.5", hash("candidate.rb == 0.5")},
		{"candid==1", "", "candid==1", "candid==1", hash("candid==1")},
		{"candid != 1", "", "candid != 1", "candid != 1", hash("candid != 1")},
		{"candid<=1", "", "candid<=1", "candid<=1", hash("candid<=1")},
		{"s=objectId == 'a=b'", "s", "objectId == 'a=b'", "s=objectId == 'a=b'", "s"},
		{"objectId == 'x=y'", "", "objectId == 'x=y'", "objectId == 'x=y'", hash("objectId == 'x=y'")},
		{"a=candid=1", "a", "candid=1", "a=candid=1", ""},  // CEL has no '='
		{"Clean=true", "", "Clean=true", "Clean=true", ""}, // not a name
		{"candid= =1", "candid", "=1", "candid=(=1)", ""},  // never candid==1
		{"nocutouts", "", "nocutouts", hash("nocutouts") + "=(nocutouts)", ""},
	} {
		name, expr := filter.SplitExpr(c.in)
		if name != c.name || expr != c.expr {
			t.Errorf("SplitExpr(%q) = %q, %q; want %q, %q", c.in, name, expr, c.name, c.expr)
		}
		spec := filter.ExprSpec(c.in)
		if spec != c.spec {
			t.Errorf("ExprSpec(%q) = %q, want %q", c.in, spec, c.spec)
		}
		f, err := filter.Build(spec, "ztf")
		switch {
		case c.built == "" && err == nil:
			t.Errorf("%q built %s, want an error", c.in, f.Name())
		case c.built != "" && err != nil:
			t.Errorf("%q: %v", c.in, err)
		case c.built != "" && f.Name() != c.built:
			t.Errorf("%q is named %q, want %q", c.in, f.Name(), c.built)
		}
	}
	a := filtertest.ZTF(1)
	for _, src := range []string{"clean=true", "true"} {
		f, err := filter.Build(filter.ExprSpec(src), "ztf")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := f.Keep(a); !ok || err != nil {
			t.Errorf("%q kept %v (%v), want true", src, ok, err)
		}
	}
}

// abs(x) takes doubles and ints, negative or positive, in a filter run as
// pipelines run it (encoded, decoded, filtered on prism) over simulated
// alerts whose values the test sets.
func TestAbsOnSimulatedAlerts(t *testing.T) {
	n := generate(t, nightConfig(sim.SurveyZTF, 10, false))
	magdiff := []float32{-0.3, -0.05, 0, 0.05, 0.3}
	ndethist := []int{1, 2, 3, 4, 5}
	alerts := make([]*filter.Alert, len(magdiff))
	ids := make([]int64, len(magdiff))
	for i := range alerts {
		z := *n.alerts[i].ZTF // a copy: the night is shared by the tests
		z.Candidate.Magdiff, z.Candidate.Ndethist = &magdiff[i], ndethist[i]
		alerts[i], ids[i] = filter.OfZTF(&z), z.Candid
	}
	for _, c := range []struct {
		expr string
		want []int64
	}{
		{"small=abs(candidate.magdiff) < 0.1", []int64{ids[1], ids[2], ids[3]}},
		{"big=abs(candidate.magdiff) > 0.1", []int64{ids[0], ids[4]}},
		{"near3=abs(candidate.ndethist - 3) <= 1", []int64{ids[1], ids[2], ids[3]}},
		{"far3=abs(candidate.ndethist - 3) == 2", []int64{ids[0], ids[4]}},
		{"same=abs(candidate.magdiff) == math.abs(candidate.magdiff)", ids},
	} {
		got := filtertest.Kept(t, filter.ExprSpec(c.expr), alerts...)
		slices.Sort(c.want)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s kept %v, want %v", c.expr, got, c.want)
		}
	}
}

// Calling a function that does not exist says which one was meant, if any,
// and what expressions can call; so does a function called as a method and
// a filter name given as an expression.
func TestUnknownFunctionErrors(t *testing.T) {
	const listing = "; expressions can call functions "
	for _, c := range []struct{ src, why string }{
		{"sqrt(candidate.magpsf) > 1.0", "no function sqrt (did you mean math.sqrt?)" + listing},
		{"fabs(candidate.magdiff) < 0.1", "no function fabs (did you mean abs or has?)" + listing},
		{"math.abz(candidate.magdiff) < 0.1", "no function math.abz (did you mean math.abs?)" + listing},
		{"objectId.startwith('ZTF')", "no method startwith (did you mean startsWith?)" + listing},
		{"candidate.magdiff.abs() < 0.1", "abs is a function, not a method: write abs(x)\n"},
		{"(purity)", "no variable purity (purity is a registered filter: give it as a filter spec, e.g. --filter purity, not as an expression)\n"},
	} {
		_, err := filter.Expr("x", c.src, "ztf")
		if err == nil {
			t.Fatalf("%q compiled", c.src)
		}
		why, ok := strings.CutPrefix(err.Error(), fmt.Sprintf("filter: expression %q for ztf: ", c.src))
		if !ok || !strings.HasPrefix(why, c.why) {
			t.Errorf("%q: error\n%v\nwant it to begin %q", c.src, err, c.why)
			continue
		}
		if !strings.HasSuffix(c.why, listing) {
			continue
		}
		list, _, _ := strings.Cut(why[len(c.why):], "\n")
		for _, want := range []string{"abs, ", "math.abs, ", "math.sqrt, ", "int, ", "size, ", "x.startsWith(), ", "has, ", "math.least, ", "cel.bind, ", "x.exists(), "} {
			if !strings.Contains(list, want) {
				t.Errorf("%q: the listing lacks %q: %s", c.src, want, list)
			}
		}
		for _, operator := range []string{"_+_", "@in", "cel.@block", " in, "} {
			if strings.Contains(list, operator) {
				t.Errorf("%q: the listing names the operator %q: %s", c.src, operator, list)
			}
		}
	}
}

// The macros listed are exactly CEL's standard ones and those of the math
// and bindings extensions, each spelled as users call it.
func TestExprCallablesMacros(t *testing.T) {
	c, err := filter.ExprCallables()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cel.bind", "has", "math.greatest", "math.least"}; !slices.Equal(c.Macros, want) {
		t.Errorf("Macros = %v, want %v", c.Macros, want)
	}
	if want := []string{"all", "exists", "exists_one", "filter", "map", "optFlatMap", "optMap"}; !slices.Equal(c.MethodMacros, want) {
		t.Errorf("MethodMacros = %v, want %v", c.MethodMacros, want)
	}
	for _, f := range []string{"abs", "math.abs"} {
		if !slices.Contains(c.Functions, f) {
			t.Errorf("Functions lacks %s: %v", f, c.Functions)
		}
	}
}
