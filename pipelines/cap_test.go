package pipelines_test

import (
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Filter with a per-visit cap over a night read from Kafka (bounded, so
// every alert arrives ahead of the watermark): each visit keeps exactly
// its N alerts of highest S/N.
func TestFilterCapPerVisit(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	c := simtest.Night(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 7, 6, 200)
	spec := pipelines.SpecOf(c)
	produceNight(t, spec, "night", w)

	const n = 20
	keep, _, visits := capped(t, spec, n, func(int) bool { return true })
	want := slices.Sorted(maps.Keys(keep))

	p, s := beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "cap", StopAtEnd: true, EventTime: "ztf"},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"}, CapPerVisit: n,
	})
	runPipeline(t, p)
	var got []string
	for _, m := range kafkatest.ReadTopic(t, b.Addr(), "all") {
		got = append(got, string(m.Key))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the capped output holds %d alerts, want exactly the %d of highest S/N (%d per visit over %d visits)",
			len(got), len(want), n, visits)
	}
}

// The per-visit cap on a live, unbounded read, while the night arrives
// visit by visit: each decided visit (its window passed by the
// watermark) holds exactly its N alerts of highest S/N in the output, no
// more, however far alerts ran ahead of the watermark; the last, still
// open visit has none yet.
func TestFilterCapPerVisitStreaming(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"live": 2}})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	const n, maxDelay = 20, 5 * time.Second
	c := simtest.Night(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 8, 8, 200)
	spec := pipelines.SpecOf(c)
	want, pending, visits := capped(t, spec, n, decidedLive(t, spec, maxDelay, filter.DefaultCapWindow, 0))

	run := startFilter(t, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"live"}, Group: "cap-live", MaxDelay: maxDelay},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"}, CapPerVisit: n,
	})
	sendNight(t, b.Addr(), "live", spec)

	run.until("the decided visits' capped alerts published", func() bool { return kafkatest.Messages(t, b.Addr(), "all") >= int64(len(want)) })
	run.Stop()
	seen := readKeys(t, b.Addr(), "all", func(m *sarama.ConsumerMessage) string {
		k := string(m.Key)
		switch {
		case pending[k]:
			return "alert " + k + " of the open visit passed the cap before its visit was decided"
		case !want[k]:
			return "alert " + k + " is over its visit's cap"
		}
		return ""
	})
	if len(seen) != len(want) {
		t.Fatalf("the capped output holds %d alerts, want exactly the %d of highest S/N of the %d decided visits", len(seen), len(want), visits)
	}
}

// capped is what a per-visit cap of n keeps of spec's night: the ids, as
// record keys, of each decided visit's n alerts of highest S/N (keep), the
// ids of the visits not yet decided (open), and how many visits were
// decided.
func capped(t *testing.T, spec pipelines.NightSpec, n int, decided func(visit int) bool) (keep, open map[string]bool, visits int) {
	t.Helper()
	all, err := sim.Generate(spec.Config())
	if err != nil {
		t.Fatal(err)
	}
	byVisit, open := map[string][]filter.Scored{}, map[string]bool{}
	for _, a := range all {
		fa := filter.OfZTF(a.ZTF)
		if !decided(a.Visit) {
			open[strconv.FormatInt(fa.ID(), 10)] = true
			continue
		}
		byVisit[fa.Visit().Key()] = append(byVisit[fa.Visit().Key()], filter.Scored{ID: fa.ID(), Score: fa.SNR()})
	}
	keep = map[string]bool{}
	for _, as := range byVisit {
		ids, _ := filter.Select(as, n)
		for _, id := range ids {
			keep[strconv.FormatInt(id, 10)] = true
		}
	}
	return keep, open, len(byVisit)
}

// decidedLive says which visits of spec a live pipeline that groups them in
// event-time windows of window has decided once the whole night has
// arrived, the watermark maxDelay behind the last visit: those whose window
// has ended by then. The tests want visits up to first decided and the last
// one open.
func decidedLive(t *testing.T, spec pipelines.NightSpec, maxDelay, window time.Duration, first int) func(visit int) bool {
	t.Helper()
	g := simtest.New(t, spec.Config())
	lastSeen := g.VisitTime(g.Visits() - 1).Add(-maxDelay)
	decided := func(v int) bool {
		end := g.VisitTime(v).Truncate(window).Add(window)
		return !end.After(lastSeen)
	}
	if !decided(first) || decided(g.Visits()-1) {
		t.Fatalf("the test wants visits 0-%d decided and the last one pending", first)
	}
	return decided
}
