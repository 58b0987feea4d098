package qa_test

import (
	"cmp"
	"encoding/json"
	"slices"
	"testing"

	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// ztfNight is 22 exposures of 1,000 alerts with a rate spike (3x) on one,
// a bleed trail of 20 candidates on another and a satellite streak of 100
// on a third: 24,120 alerts.
var ztfNight = nightSpec{Survey: sim.SurveyZTF, Seed: 1, Visits: 22, PerVisit: 1000,
	SpikeVisit: 7, SpikeFactor: 3, TrailVisit: 12, TrailN: 20, StreakVisit: 17, StreakN: 100}

// The spec the generated-night tests run: reject exposures with more than
// twice the running median of alerts; reject clumps of more than 5 within
// 10" and lines of more than 8 within 0.6" (the generator puts trails and
// streaks within 0.3" and 0.5" of their line).
const nightQA = "rate=2x,spatial=width=0.6"

// On a generated ZTF night the pipeline rejects exactly the artefacts:
// every alert of the spiked exposure (by rate), and the bleed trail and the
// streak (by the spatial check, with their kinds); every other alert is
// kept, every record is accounted for once, and each flagged group is
// reported once, on the QA topic too.
func TestGeneratedZTFNight(t *testing.T) {
	tr := truthOf(t, ztfNight)
	r := runNight(t, ztfNight, nightQA)
	checkNight(t, tr, r)
}

// checkNight asserts the outcome of nightQA on a generated night.
func checkNight(t *testing.T, tr *truth, r run) {
	t.Helper()
	artefact := func(kind string) func(sim.Generated) bool {
		return func(g sim.Generated) bool { return g.Artefact == kind }
	}
	clean := func(g sim.Generated) bool { return g.Artefact == "" }
	checkArtefactsRejected(t, tr, r)
	if d := testdiff.IDs(tr.idsAt(offsets(r.kept)), tr.ids(clean)); d != "" {
		t.Errorf("kept: %s", d)
	}
	checkOnce(t, tr, r)

	var kinds []string
	for _, f := range r.flags {
		kinds = append(kinds, f.Check+"/"+f.Kind)
		switch f.Check + "/" + f.Kind {
		case "rate/exposure":
			spike := tr.ids(artefact(sim.ArtefactRateSpike))
			if f.Count != len(spike) || f.Kept != 0 || f.Action != "reject" || f.Median != float64(len(spike)/3) || f.Threshold != 2*f.Median {
				t.Errorf("rate flag %+v, want %d alerts over twice a median of %d, rejected", f, len(spike), len(spike)/3)
			}
		case "spatial/bleed-trail", "spatial/streak":
			want := tr.ids(artefact(f.Kind))
			if d := testdiff.IDs(f.Members, want); d != "" {
				t.Errorf("%s members: %s", f.Kind, d)
			}
			if f.Count != len(want) || f.Kept != 0 || f.Action != "reject" || f.Width > 0.6 || !(f.Length > 0) {
				t.Errorf("%s flag %+v", f.Kind, f)
			}
		default:
			t.Errorf("unexpected flag %+v", f)
		}
	}
	if !slices.Equal(kinds, []string{"rate/exposure", "spatial/bleed-trail", "spatial/streak"}) && !slices.Equal(sortedCopy(kinds), []string{"rate/exposure", "spatial/bleed-trail", "spatial/streak"}) {
		t.Errorf("flags %v, want one rate/exposure, one spatial/bleed-trail, one spatial/streak", kinds)
	}
	checkQA(t, r)
}

// checkArtefactsRejected: nothing was dead-lettered, and the records QA
// rejected are exactly the generated artefacts.
func checkArtefactsRejected(t *testing.T, tr *truth, r run) {
	t.Helper()
	if len(r.dead) > 0 {
		t.Errorf("%d dead letters, e.g. %+v", len(r.dead), r.dead[0])
	}
	if d := testdiff.IDs(tr.idsAt(offsets(r.acks)), tr.ids(func(g sim.Generated) bool { return g.Artefact != "" })); d != "" {
		t.Errorf("rejected: %s", d)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// checkOnce: every generated record is kept, acknowledged or
// dead-lettered exactly once, acks and dead letters with one unit.
func checkOnce(t *testing.T, tr *truth, r run) {
	t.Helper()
	checkOnceUnits(t, tr, r, 1, nil)
}

// checkOnceUnits: every generated record and every extra offset is kept,
// acknowledged or dead-lettered exactly once, acks and dead letters with
// units.
func checkOnceUnits(t *testing.T, tr *truth, r run, units int, extra []int64) {
	t.Helper()
	seen := map[int64]int{}
	for _, l := range r.kept {
		seen[l.Offset]++
	}
	for _, ls := range [][]line{r.acks, r.dead} {
		for _, l := range ls {
			if l.Units != units {
				t.Fatalf("ack or dead letter of offset %d with %d units, want %d", l.Offset, l.Units, units)
			}
			seen[l.Offset]++
		}
	}
	for _, off := range extra {
		if seen[off] != 1 {
			t.Fatalf("record at offset %d came out %d times", off, seen[off])
		}
		delete(seen, off)
	}
	for off := range tr.alerts {
		if seen[off] != 1 {
			t.Fatalf("record at offset %d came out %d times", off, seen[off])
		}
		delete(seen, off)
	}
	if len(seen) > 0 {
		t.Fatalf("%d outputs for offsets never read", len(seen))
	}
}

// checkQA: the QA topic carries one JSON record per flag, without a
// source.
func checkQA(t *testing.T, r run) {
	t.Helper()
	if len(r.qa) != len(r.flags) {
		t.Fatalf("%d QA messages for %d flags", len(r.qa), len(r.flags))
	}
	keys := map[string]int{}
	for _, f := range r.flags {
		keys[f.Key]++
	}
	for _, m := range r.qa {
		var v map[string]any
		if m.Topic != "qa-test" || m.Offset != -1 || m.Units != 0 || json.Unmarshal([]byte(m.Value), &v) != nil || v["key"] != m.Key {
			t.Fatalf("QA message %+v", m)
		}
		keys[m.Key]--
	}
	for k, n := range keys {
		if n != 0 {
			t.Errorf("QA messages for %s do not match its flags", k)
		}
	}
}

// A clean night of 21,000 alerts: nothing flagged, everything kept.
func TestCleanZTFNight(t *testing.T) {
	n := nightSpec{Survey: sim.SurveyZTF, Seed: 2, Visits: 21, PerVisit: 1000, SpikeVisit: -1, TrailVisit: -1, StreakVisit: -1}
	tr := truthOf(t, n)
	r := runNight(t, n, nightQA)
	if len(r.flags) > 0 || len(r.qa) > 0 || len(r.acks) > 0 || len(r.dead) > 0 {
		t.Errorf("clean night: %d flags (e.g. %+v), %d QA messages, %d acks, %d dead letters", len(r.flags), first(r.flags), len(r.qa), len(r.acks), len(r.dead))
	}
	if len(r.kept) != len(tr.alerts) {
		t.Errorf("kept %d of %d", len(r.kept), len(tr.alerts))
	}
	checkOnce(t, tr, r)
}

func first(fs []flagLine) any {
	if len(fs) == 0 {
		return nil
	}
	return fs[0]
}

// lsstNight is three Rubin visits of 10,000 alerts, one with a bleed
// trail, one with a streak: 30,060 alerts.
var lsstNight = nightSpec{Survey: sim.SurveyLSST, Seed: 1, Visits: 3, PerVisit: 10000,
	SpikeVisit: -1, TrailVisit: 1, TrailN: 20, StreakVisit: 2, StreakN: 40}

// The spatial check on a Rubin night rejects exactly the bleed trail and
// the streak. (The rate check has no history to judge three visits by.)
func TestGeneratedLSSTNight(t *testing.T) {
	tr := truthOf(t, lsstNight)
	r := runNight(t, lsstNight, nightQA)
	checkArtefactsRejected(t, tr, r)
	checkOnce(t, tr, r)
	var kinds []string
	for _, f := range r.flags {
		kinds = append(kinds, f.Check+"/"+f.Kind)
		want := tr.ids(func(g sim.Generated) bool { return g.Artefact == f.Kind })
		if d := testdiff.IDs(f.Members, want); d != "" || f.Action != "reject" || f.Units == nil || len(f.Units) != 1 {
			t.Errorf("%s/%s flag %+v: %s", f.Check, f.Kind, f, d)
		}
	}
	if !slices.Equal(sortedCopy(kinds), []string{"spatial/bleed-trail", "spatial/streak"}) {
		t.Errorf("flags %v, want one spatial/bleed-trail and one spatial/streak", kinds)
	}
	checkQA(t, r)
}

// A throttled exposure keeps the 50 alerts of highest S/N (ties by the
// lower id) and acknowledges the rest with the configured units; records
// that are not alerts are dead-lettered once, with the same units.
func TestThrottleAndDeadLetters(t *testing.T) {
	n := nightSpec{Survey: sim.SurveyZTF, Seed: 4, Corrupt: 3, Visits: 8, PerVisit: 200, SpikeVisit: 6, SpikeFactor: 5,
		TrailVisit: -1, StreakVisit: -1}
	tr := truthOf(t, n)
	r := runNight(t, n, "rate=3x:throttle=50", func(c *qa.Config) { c.Units = 2 })

	// The truth: the spiked exposure's alerts ranked by S/N, then id.
	var spike []sim.Generated
	for _, a := range tr.alerts {
		if a.Artefact == sim.ArtefactRateSpike {
			spike = append(spike, a)
		}
	}
	snr := func(a sim.Generated) float64 { return filter.OfZTF(a.ZTF).SNR() }
	slices.SortFunc(spike, func(a, b sim.Generated) int {
		if c := cmp.Compare(snr(b), snr(a)); c != 0 {
			return c
		}
		return cmp.Compare(id(a), id(b))
	})
	var keep, drop []int64
	for i, a := range spike {
		if i < 50 {
			keep = append(keep, id(a))
		} else {
			drop = append(drop, id(a))
		}
	}
	if d := testdiff.IDs(tr.idsAt(offsets(r.acks)), sortedIDs(drop)); d != "" {
		t.Errorf("throttled away: %s", d)
	}
	// Kept records are the originals, byte for byte, with their source.
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range r.kept {
		b, err := encode(codec, tr.alerts[l.Offset])
		if err != nil {
			t.Fatal(err)
		}
		if l.Topic != "night" || l.Value != testdiff.ShortSum(b) {
			t.Fatalf("kept record at offset %d is not the original", l.Offset)
		}
	}
	kept := tr.idsAt(offsets(r.kept))
	for _, k := range keep {
		if _, ok := slices.BinarySearch(kept, k); !ok {
			t.Fatalf("alert %d, in the top 50 by S/N, was not kept", k)
		}
	}
	var dead []int64
	for _, l := range r.dead {
		if l.Topic != "dlq" || l.Stage != qa.Stage || l.Key != "bad" {
			t.Errorf("dead letter %+v", l)
		}
		dead = append(dead, l.Offset)
	}
	slices.Sort(dead)
	extra := []int64{corruptOffset, corruptOffset + 1, corruptOffset + 2}
	if !slices.Equal(dead, extra) {
		t.Errorf("dead letters at %v, want %v", dead, extra)
	}
	checkOnceUnits(t, tr, r, 2, extra)
	if len(r.flags) != 1 {
		t.Fatalf("flags %+v, want one", r.flags)
	}
	f := r.flags[0]
	if f.Check != "rate" || f.Kind != "exposure" || f.Count != 1000 || f.Median != 200 || f.Threshold != 600 ||
		f.Action != "throttle" || f.Kept != 50 || f.Key != flagKey(tr, 6) {
		t.Errorf("throttle flag %+v", f)
	}
	checkQA(t, r)
}
