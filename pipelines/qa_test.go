package pipelines_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// Filter with QA over a night read from Kafka (bounded): one QA record per
// artefact, listing exactly its alerts; every clean alert reaches the
// filter, and nothing else but artefact alerts that prism let through
// undecided (issue #8); offsets are committed to the end.
func TestFilterWithQA(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	c := sim.Defaults(sim.SurveyZTF)
	c.Night, c.Seed, c.Visits, c.AlertsPerVisit, c.NoCutouts = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 5, 6, 300, true
	c.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 2, N: 20}, sim.Streak{Visit: 4, N: 100}}
	spec := pipelines.SpecOf(c)
	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.Produce(s, pipelines.ProduceConfig{Night: spec, Topic: "night", Write: w}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	g, err := sim.New(spec.Config())
	if err != nil {
		t.Fatal(err)
	}
	clean, artefact := map[string]bool{}, map[string][]int64{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		if a.Artefact != "" {
			artefact[a.Artefact] = append(artefact[a.Artefact], a.ZTF.Candid)
			continue
		}
		clean[strconv.FormatInt(a.ZTF.Candid, 10)] = true
	}
	if len(artefact[sim.ArtefactBleedTrail]) != 20 || len(artefact[sim.ArtefactStreak]) != 100 {
		t.Fatalf("the night's artefacts: %d bleed-trail, %d streak alerts; want 20 and 100", len(artefact[sim.ArtefactBleedTrail]), len(artefact[sim.ArtefactStreak]))
	}

	rate, spatial, err := qa.ParseSpec("spatial=width=0.6")
	if err != nil {
		t.Fatal(err)
	}
	p, s = beam.NewPipelineWithRoot()
	if _, err := pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "qa", StopAtEnd: true},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"},
		QA: &qa.Config{Rate: rate, Spatial: spatial, QATopic: "qa"},
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	// Exactly one QA record per artefact, with exactly its alerts.
	flags := readTopic(t, b.Addr(), "qa", 2)
	got := map[string][]int64{}
	for _, m := range flags {
		var f struct {
			Kind     string `json:"kind"`
			Action   string `json:"action"`
			Geometry struct {
				Members []int64 `json:"members"`
			} `json:"geometry"`
		}
		if err := json.Unmarshal(m.Value, &f); err != nil {
			t.Fatalf("QA record %s: %v", m.Value, err)
		}
		if f.Action != qa.ActionReject {
			t.Errorf("QA record for %s says %q, want reject", f.Kind, f.Action)
		}
		got[f.Kind] = f.Geometry.Members
	}
	for kind, ids := range artefact {
		slices.Sort(ids)
		g := slices.Sorted(slices.Values(got[kind]))
		if !slices.Equal(g, ids) {
			t.Fatalf("QA record for %s lists %d alerts, want exactly its %d", kind, len(g), len(ids))
		}
	}
	if len(flags) != 2 {
		t.Fatalf("%d QA records, want one per artefact", len(flags))
	}
	// Every clean alert reaches the filter. Rejected alerts may reach it
	// too on prism: it runs the join that drops them before their
	// exposure's decision is ready when the decision comes later (issue
	// #8 stays open for a hold-back); count them, and allow nothing else.
	passed := 0
	seen := map[string]bool{}
	for _, m := range readTopic(t, b.Addr(), "all", len(clean)+120) {
		k := string(m.Key)
		seen[k] = true
		if !clean[k] {
			id, _ := strconv.ParseInt(k, 10, 64)
			if !slices.Contains(artefact[sim.ArtefactBleedTrail], id) && !slices.Contains(artefact[sim.ArtefactStreak], id) {
				t.Fatalf("the filter saw %s, which is not in the night", k)
			}
			passed++
		}
	}
	for k := range clean {
		if !seen[k] {
			t.Fatalf("clean alert %s was rejected", k)
		}
	}
	t.Logf("%d clean alerts kept; %d of 120 artefact alerts passed before their exposure's decision", len(clean), passed)
	if lag := groupLag(t, b.Addr(), "qa", "night"); lag != 0 {
		t.Fatalf("group qa is %d records behind after a bounded run", lag)
	}
}
