package pipelines_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// Filter with QA over a night read from Kafka (bounded, so every alert
// arrives ahead of the watermark): one QA record per artefact, listing
// exactly its alerts; exactly the clean alerts reach the filter, each
// once and unchanged; offsets are committed to the end.
func TestFilterWithQA(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	c := simtest.Night(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 5, 6, 300)
	c.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 2, N: 20}, sim.Streak{Visit: 4, N: 100}, sim.RateSpike{Visit: 5, Factor: 4}}
	spec := pipelines.SpecOf(c)
	produceNight(t, spec, "night", w)

	g := simtest.New(t, spec.Config())
	// The spiked exposure is rejected whole, its ordinary alerts too.
	clean, artefact, spiked := map[string]bool{}, map[string][]int64{}, 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		switch {
		case a.Visit == 5:
			spiked++
		case a.Artefact != "":
			artefact[a.Artefact] = append(artefact[a.Artefact], a.ZTF.Candid)
		default:
			clean[strconv.FormatInt(a.ZTF.Candid, 10)] = true
		}
	}
	if len(artefact[sim.ArtefactBleedTrail]) != 20 || len(artefact[sim.ArtefactStreak]) != 100 || spiked != 1200 {
		t.Fatalf("the night's artefacts: %d bleed-trail, %d streak, %d spiked alerts; want 20, 100 and 1200",
			len(artefact[sim.ArtefactBleedTrail]), len(artefact[sim.ArtefactStreak]), spiked)
	}

	rate, spatial, err := qa.ParseSpec("rate=3x,spatial=width=0.6")
	if err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "qa", StopAtEnd: true},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"},
		QA: &qa.Config{Rate: rate, Spatial: spatial, QATopic: "qa"},
	})
	runPipeline(t, p)

	night := map[string][]byte{}
	for _, m := range kafkatest.ReadTopic(t, b.Addr(), "night") {
		night[string(m.Key)] = m.Value
	}
	checkQA(t, b.Addr(), "", qaNight{clean: clean, artefact: artefact, spiked: spiked, bytes: night})
	if lag := kafkatest.Lag(t, b.Addr(), "qa", "night"); lag != 0 {
		t.Fatalf("group qa is %d records behind after a bounded run", lag)
	}

	// The same night archived, then replayed from the archive through the
	// same QA and filter: the same answer. Kept alerts are read back from
	// the archive.
	root := t.TempDir()
	p, s = beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "d", StopAtEnd: true},
		Write: w, Survey: "ztf", Archive: &archive.Config{Root: root},
	})
	runPipeline(t, p)
	p, s = beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Archive: &archive.ReadConfig{Survey: "ztf", Root: root, Night: "20261125"},
		Write:   w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"}, TopicPrefix: "replay.",
		QA: &qa.Config{Rate: rate, Spatial: spatial, QATopic: "replay.qa"},
	})
	runPipeline(t, p)
	checkQA(t, b.Addr(), "replay.", qaNight{clean: clean, artefact: artefact, spiked: spiked})
}

// qaNight is what QA should make of TestFilterWithQA's night.
type qaNight struct {
	clean    map[string]bool    // keys of the alerts QA keeps
	artefact map[string][]int64 // ids of each spatial artefact
	spiked   int                // alerts of the spiked exposure
	bytes    map[string][]byte  // the night's messages by key; nil: not compared
}

// checkQA checks the QA records and the filter output of a run that
// published them with the topic prefix.
func checkQA(t *testing.T, addr, prefix string, n qaNight) {
	t.Helper()
	// Exactly one QA record per artefact, with exactly its alerts.
	flags := kafkatest.ReadTopic(t, addr, prefix+"qa")
	got := map[string][]int64{}
	for _, m := range flags {
		var f struct {
			Kind     string `json:"kind"`
			Action   string `json:"action"`
			Count    int    `json:"count"`
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
		if f.Kind == qa.ByExposure && f.Count != n.spiked {
			t.Errorf("the rate record counts %d alerts, want the spiked exposure's %d", f.Count, n.spiked)
		}
	}
	if _, ok := got[qa.ByExposure]; !ok {
		t.Error("no rate record for the spiked exposure")
	}
	for kind, ids := range n.artefact {
		slices.Sort(ids)
		g := slices.Sorted(slices.Values(got[kind]))
		if !slices.Equal(g, ids) {
			t.Fatalf("QA record for %s lists %d alerts, want exactly its %d", kind, len(g), len(ids))
		}
	}
	if len(flags) != 3 {
		t.Fatalf("%d QA records, want one per artefact", len(flags))
	}
	// The filter saw exactly the clean alerts, each once, and with the
	// bytes the night topic holds when asked: kept alerts are read back.
	seen := readKeys(t, addr, prefix+"all", func(m *sarama.ConsumerMessage) string {
		k := string(m.Key)
		switch {
		case !n.clean[k]:
			return "the filter saw " + k + ", which QA rejected or the night does not hold"
		case n.bytes != nil && !bytes.Equal(m.Value, n.bytes[k]):
			return "alert " + k + " reached the filter changed"
		}
		return ""
	})
	if len(seen) != len(n.clean) {
		t.Fatalf("the filter saw %d alerts, want the night's %d clean ones", len(seen), len(n.clean))
	}
}

// Filter with QA on a live (unbounded) read while the night arrives: an
// exposure is decided once later visits move the watermark past its
// window. Every alert of a decided window that QA keeps reaches the filter
// exactly once and no rejected one does; alerts of windows the watermark
// has not passed yet wait in the gate and reach nothing.
func TestFilterWithQAStreaming(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"live": 2}})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	const maxDelay = 5 * time.Second
	c := simtest.Night(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), 6, 8, 200)
	c.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 2, N: 20}, sim.Streak{Visit: 4, N: 100}}
	spec := pipelines.SpecOf(c)
	decided := decidedLive(t, spec, maxDelay, qa.DefaultWindow, 4)
	g := simtest.New(t, spec.Config())
	kept, pending, rejected := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		k := strconv.FormatInt(a.ZTF.Candid, 10)
		switch {
		case !decided(a.Visit):
			pending[k] = true
		case a.Artefact != "":
			rejected[k] = true
		default:
			kept[k] = true
		}
	}

	rate, spatial, err := qa.ParseSpec("spatial=width=0.6")
	if err != nil {
		t.Fatal(err)
	}
	run := startFilter(t, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"live"}, Group: "qa-live", MaxDelay: maxDelay},
		Write: w, Survey: "ztf", Filters: []string{"all=candidate.jd > 0.0"},
		QA: &qa.Config{Rate: rate, Spatial: spatial, QATopic: "qa"},
	})

	// The night arrives while the pipeline runs (from plain sarama: one
	// process runs one direct-runner job at a time).
	sendNight(t, b.Addr(), "live", spec)

	run.until("the decided windows' kept alerts and both QA records published", func() bool {
		return kafkatest.Messages(t, b.Addr(), "all") >= int64(len(kept)) && kafkatest.Messages(t, b.Addr(), "qa") >= 2
	})
	run.Stop()

	seen := readKeys(t, b.Addr(), "all", func(m *sarama.ConsumerMessage) string {
		k := string(m.Key)
		switch {
		case rejected[k]:
			return "rejected alert " + k + " reached the filter"
		case pending[k]:
			return "alert " + k + " of an undecided window reached the filter"
		}
		return ""
	})
	if len(seen) != len(kept) {
		t.Fatalf("the filter saw %d alerts, want the %d kept of the decided windows", len(seen), len(kept))
	}
	if n := kafkatest.Messages(t, b.Addr(), "qa"); n != 2 {
		t.Fatalf("%d QA records, want one for the trail and one for the streak", n)
	}
}

// sendNight publishes a night as Produce does (the bytes of expected,
// keyed by candid), visit by visit, with plain sarama.
func sendNight(t *testing.T, addr, topic string, spec pipelines.NightSpec) {
	t.Helper()
	msgs := map[int64][]byte{}
	expected(t, spec, msgs, map[string]int{})
	g := simtest.New(t, spec.Config())
	prod := kafkatest.Producer(t, addr)
	defer prod.Close()
	for v := range g.Visits() {
		var batch []*sarama.ProducerMessage
		for _, a := range g.Visit(v) {
			batch = append(batch, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(strconv.FormatInt(a.ZTF.Candid, 10)),
				Value: sarama.ByteEncoder(msgs[a.ZTF.Candid])})
		}
		if err := prod.SendMessages(batch); err != nil {
			t.Fatal(err)
		}
	}
}
