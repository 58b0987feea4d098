package pipelines_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

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
	b, err := broker.Start(broker.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	c := sim.Defaults(sim.SurveyZTF)
	c.Night, c.Seed, c.Visits, c.AlertsPerVisit, c.NoCutouts = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 7, 6, 200, true
	spec := pipelines.SpecOf(c)
	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.Produce(s, pipelines.ProduceConfig{Night: spec, Topic: "night", Write: w}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	const n = 20
	g, err := sim.New(spec.Config())
	if err != nil {
		t.Fatal(err)
	}
	byVisit := map[string][]filter.Scored{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		fa := filter.OfZTF(a.ZTF)
		byVisit[fa.Visit().Key()] = append(byVisit[fa.Visit().Key()], filter.Scored{ID: fa.ID(), Score: fa.SNR()})
	}
	var want []string
	for _, as := range byVisit {
		keep, _ := filter.Select(as, n)
		for _, id := range keep {
			want = append(want, strconv.FormatInt(id, 10))
		}
	}
	slices.Sort(want)

	p, s = beam.NewPipelineWithRoot()
	if _, err := pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "cap", StopAtEnd: true, EventTime: "ztf"},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"}, CapPerVisit: n,
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	var got []string
	for _, m := range readTopic(t, b.Addr(), "all", 0) {
		got = append(got, string(m.Key))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the capped output holds %d alerts, want exactly the %d of highest S/N (%d per visit over %d visits)",
			len(got), len(want), n, len(byVisit))
	}
}
