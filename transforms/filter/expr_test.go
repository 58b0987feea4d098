package filter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

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
			if d := diff(exprIDs, goIDs); d != "" {
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

// An expression given as such is never read as a filter name, and abs is
// declared beside math.abs.
func TestExprSpecAndAbs(t *testing.T) {
	for _, c := range []struct{ in, spec, name string }{
		{"clean=true", "clean=(true)", "clean"},
		{"true", "(true)", ""},
		{"ok=candidate.rb > 0.5", "ok=candidate.rb > 0.5", "ok"},
		{"candidate.rb == 0.5", "candidate.rb == 0.5", ""},
	} {
		spec := filter.ExprSpec(c.in)
		if spec != c.spec {
			t.Errorf("ExprSpec(%q) = %q, want %q", c.in, spec, c.spec)
		}
		f, err := filter.Build(spec, "ztf")
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if c.name != "" && f.Name() != c.name {
			t.Errorf("%q is named %q, want %q", spec, f.Name(), c.name)
		}
	}
	rb := float32(0.3)
	a := filter.OfZTF(&ztf.Alert{Candidate: ztf.Candidate{Rb: &rb, Magpsf: 18}})
	for src, want := range map[string]bool{
		"clean=true":                         true,
		"abs(candidate.magpsf - 19.0) < 1.5": true,
		"abs(-3) == 3":                       true,
		"abs(candidate.rb - 0.5) < 0.1":      false,
	} {
		f, err := filter.Build(filter.ExprSpec(src), "ztf")
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got, err := f.Keep(a); err != nil || got != want {
			t.Errorf("%q kept %v (%v), want %v", src, got, err, want)
		}
	}
}
