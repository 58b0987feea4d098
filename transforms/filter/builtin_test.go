package filter_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// keptBy runs a spec over a night in plain Go and returns the kept ids.
func keptBy(t *testing.T, n *night, spec string) (kept []int64, missing int) {
	t.Helper()
	f, err := filter.Build(spec, n.cfg.Survey)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range n.alerts {
		out, err := f.Apply(wrap(g))
		switch {
		case errors.Is(err, filter.ErrMissing):
			missing++
		case err != nil:
			t.Fatalf("%s on %d: %v", spec, n.id(g), err)
		case out != nil:
			kept = append(kept, n.id(g))
		}
	}
	slices.Sort(kept)
	return kept, missing
}

// Every built-in keeps exactly the alerts the truth says, on a generated
// night of each survey, and each keeps some and drops some (a cut that
// keeps everything or nothing would pass vacuously).
func TestBuiltinsOnGeneratedNights(t *testing.T) {
	for _, tc := range []struct {
		survey string
		night  *night
		truths map[string]truth
	}{
		{survey: sim.SurveyZTF, night: generate(t, nightConfig(sim.SurveyZTF, 40, true)), truths: ztfTruths()},
		{survey: sim.SurveyLSST, night: generate(t, nightConfig(sim.SurveyLSST, 60, true)), truths: lsstTruths()},
	} {
		n := tc.night
		all := n.all()
		for spec, tr := range tc.truths {
			got, missing := keptBy(t, n, spec)
			want := n.expected(tr)
			if d := testdiff.IDs(got, want); d != "" {
				t.Errorf("%s %s: %s", tc.survey, spec, d)
			}
			transform := spec == "nocutouts" || spec[:min(len(spec), 5)] == "drop:"
			if !transform && (len(want) == 0 || len(want) == len(all)) {
				t.Errorf("%s %s keeps %d of %d alerts: the night does not exercise it", tc.survey, spec, len(want), len(all))
			}
			t.Logf("%s %-40s kept %4d of %d (%d missing a value)", tc.survey, spec, len(got), len(all), missing)
		}
	}
}

// Cross-checks against what the generator knows by construction.
func TestBuiltinsAgreeWithGeneratorLabels(t *testing.T) {
	n := generate(t, nightConfig(sim.SurveyZTF, 40, true))
	history, _ := keptBy(t, n, "history")
	isNew, _ := keptBy(t, n, "new")
	positive, _ := keptBy(t, n, "positive")
	cut, _ := keptBy(t, n, "cutoutsnr")
	for _, g := range n.alerts {
		id := n.id(g)
		_, inHistory := slices.BinarySearch(history, id)
		_, inNew := slices.BinarySearch(isNew, id)
		_, inPositive := slices.BinarySearch(positive, id)
		_, inCut := slices.BinarySearch(cut, id)
		// Bogus detections and asteroids are new objects each time.
		if (g.Bogus || g.Asteroid) && (!inNew || inHistory) {
			t.Errorf("%d (bogus %v, asteroid %v): new %v, history %v", id, g.Bogus, g.Asteroid, inNew, inHistory)
		}
		// Asteroids are never fainter than the template.
		if g.Asteroid && !inPositive {
			t.Errorf("asteroid %d is not positive", id)
		}
		// A detection brighter than 17 mag sits far above the stamp noise.
		if g.ZTF.Candidate.Magpsf < 17 && !inCut {
			t.Errorf("%d at %.2f mag fails cutoutsnr", id, g.ZTF.Candidate.Magpsf)
		}
	}
	if len(history) == 0 {
		t.Error("no alert passes history on a night with 32-minute revisits")
	}
}
