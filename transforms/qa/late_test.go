package qa_test

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func init() {
	register.DoFn2x1[int64, func(kafkaio.Record), error](&alertFn{})
}

// alertFn turns an offset (visit*1e6 + index) into that alert's record,
// so a TestStream can release single alerts in any order.
type alertFn struct {
	Night nightSpec

	codec  *framing.Codec
	visits map[int][]sim.Generated
}

func (fn *alertFn) Setup() (err error) {
	fn.codec, err = framing.New(fn.Night.Survey, nil)
	fn.visits = map[int][]sim.Generated{}
	return err
}

func (fn *alertFn) ProcessElement(off int64, emit func(kafkaio.Record)) error {
	v, k := int(off/1_000_000), int(off%1_000_000)
	if fn.visits[v] == nil {
		g, err := sim.New(fn.Night.config())
		if err != nil {
			return err
		}
		fn.visits[v] = g.Visit(v)
	}
	b, err := encode(fn.codec, fn.visits[v][k])
	if err != nil {
		return err
	}
	emit(kafkaio.Record{Source: sourceOf(v, k), Value: b})
	return nil
}

// Alerts arrive out of order and late, on a TestStream. Out of order
// within a window changes nothing. An exposure is decided when the
// watermark passes its window, from the alerts that arrived by then; its
// late alerts pass unjudged: within the allowed lateness a late pane
// reports them on the QA topic, after it nothing does.
func TestLateAlerts(t *testing.T) {
	n := nightSpec{Survey: sim.SurveyZTF, Seed: 3, Visits: 6, PerVisit: 40, SpikeVisit: 4, SpikeFactor: 3, TrailVisit: -1, StreakVisit: -1}
	tr := truthOf(t, n)
	g := simtest.New(t, n.config())
	ms := func(v int) int64 { return g.VisitTime(v).UnixMilli() }
	minute := time.Minute.Milliseconds()
	windowEnd := func(v int) int64 { return (ms(v)/minute + 1) * minute }
	if windowEnd(0) != windowEnd(1) || windowEnd(4) != windowEnd(5) || windowEnd(1) == windowEnd(2) || windowEnd(3) == windowEnd(4) {
		t.Fatal("the test assumes visits 0-1 and 4-5 share a window, and 2, 3 have their own")
	}
	ts := teststream.NewConfig()
	add := func(v int, ks ...int) {
		t.Helper()
		for _, k := range ks {
			if err := ts.AddElements(ms(v), offset(v, k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	advance := func(to int64) {
		t.Helper()
		if err := ts.AdvanceWatermark(to); err != nil {
			t.Fatal(err)
		}
	}
	count := func(v int) int { return g.VisitAlerts(v) }
	span := func(lo, hi int) []int {
		var ks []int
		for k := lo; k < hi; k++ {
			ks = append(ks, k)
		}
		return ks
	}
	reverse := func(ks []int) []int {
		for i, j := 0, len(ks)-1; i < j; i, j = i+1, j-1 {
			ks[i], ks[j] = ks[j], ks[i]
		}
		return ks
	}
	// Window 1: the second exposure first, the first one backwards.
	add(1, span(0, count(1))...)
	add(0, reverse(span(0, count(0)))...)
	advance(windowEnd(1))
	add(2, reverse(span(0, count(2)))...)
	advance(windowEnd(2))
	add(3, span(0, count(3))...)
	advance(windowEnd(3))
	// Window 4: the spiked exposure (120 alerts) with 15 held back, and
	// the next exposure interleaved with it.
	spike := count(4)
	onTime := spike - 15
	for k := range onTime {
		add(4, k)
		if k < count(5) {
			add(5, k)
		}
	}
	advance(windowEnd(4))
	// Late, within the allowed lateness of two minutes.
	add(4, span(onTime, onTime+10)...)
	advance(windowEnd(4) + minute)
	// Past the allowed lateness.
	advance(windowEnd(4) + 3*minute)
	add(4, span(onTime+10, spike)...)
	if err := ts.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	recs := beam.ParDo(s, &alertFn{Night: n}, teststream.Create(s, ts))
	out, err := qa.TryApply(s, qa.Config{Survey: n.Survey, Rate: &qa.RateConfig{Limit: 100},
		AllowedLateness: 2 * time.Minute, QATopic: "qa-test", Reread: serveNight(t, n)}, recs)

	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sinkAll(s, dir, out)
	r := execute(t, p, dir)

	var rejected, late []int64
	for k := range spike {
		if k < onTime {
			rejected = append(rejected, offset(4, k))
		} else {
			late = append(late, offset(4, k))
		}
	}
	if d := testdiff.IDs(tr.idsAt(offsets(r.acks)), tr.idsAt(rejected)); d != "" {
		t.Errorf("rejected: %s", d)
	}
	keptWant := tr.ids(func(a sim.Generated) bool { return a.Visit != 4 })
	keptWant = append(keptWant, tr.idsAt(late)...)
	if d := testdiff.IDs(tr.idsAt(offsets(r.kept)), sortedIDs(keptWant)); d != "" {
		t.Errorf("kept: %s", d)
	}
	checkOnce(t, tr, r)

	exposure := flagKey(tr, 4)
	lateCount, latePanes := 0, 0
	rate := 0
	for _, f := range r.flags {
		switch {
		case f.Check == "rate" && f.Key == exposure && f.Count == onTime && f.Threshold == 100 && f.Action == "reject" && f.Kept == 0:
			rate++
		case f.Check == "late" && f.Key == exposure && f.Action == "pass" && f.Kept == f.Count:
			lateCount += f.Count
			latePanes++
		default:
			t.Errorf("unexpected flag %+v", f)
		}
	}
	t.Logf("%d alerts kept, %d rejected, %d late alerts reported in %d late panes", len(r.kept), len(r.acks), lateCount, latePanes)
	if rate != 1 || lateCount != 10 {
		t.Errorf("%d rate flags for the spike, %d alerts reported late; want 1 and 10 (the 5 past the allowed lateness go unreported)", rate, lateCount)
	}
	checkQA(t, r)
}
