package pipelines_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/transforms/fanout"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func night(day int) pipelines.NightSpec {
	c := sim.Defaults(sim.SurveyZTF)
	c.Night = time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC)
	c.Seed, c.Visits, c.AlertsPerVisit = int64(day), 2, 120
	return pipelines.SpecOf(c)
}

// expected encodes a night as Produce does: candid → bytes, and topic → count.
func expected(t *testing.T, spec pipelines.NightSpec, msgs map[int64][]byte, topics map[string]int) {
	t.Helper()
	g := simtest.New(t, spec.Config())
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		b, err := codec.Encode(a.ZTF)
		if err != nil {
			t.Fatal(err)
		}
		msgs[a.ZTF.Candid] = b
		topics[alert.ZTFTopic(a.ZTF.Candidate.Jd, a.ZTF.Candidate.Programid)]++
	}
}

// checkNightTopics asserts that each night topic holds exactly its count of
// alerts, that every produced alert is in one of them, once, and that each
// has the bytes produced for it (want, by candid).
func checkNightTopics(t *testing.T, addr string, perTopic map[string]int, want map[int64][]byte) {
	t.Helper()
	seen := map[int64]string{}
	for topic, n := range perTopic {
		got := kafkatest.ReadTopic(t, addr, topic)
		if len(got) != n {
			t.Fatalf("%s: %d messages, want %d", topic, len(got), n)
		}
		for _, m := range got {
			id, err := strconv.ParseInt(string(m.Key), 10, 64)
			if err != nil {
				t.Fatalf("%s: key %q is not a candid", topic, m.Key)
			}
			if prev, dup := seen[id]; dup {
				t.Fatalf("candid %d in %s and %s", id, prev, topic)
			}
			seen[id] = topic
			if !bytes.Equal(m.Value, want[id]) {
				t.Fatalf("%s: candid %d bytes differ from what was produced", topic, id)
			}
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d alerts distributed, want %d", len(seen), len(want))
	}
}

func runPipeline(t *testing.T, p *beam.Pipeline) {
	t.Helper()
	start := time.Now()
	if _, err := runners.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Logf("pipeline ran in %v", time.Since(start))
}

// produceNight runs Produce on its own: the night spec into topic, written
// with w.
func produceNight(t *testing.T, spec pipelines.NightSpec, topic string, w kafkaio.WriteConfig) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	pipelines.Produce(s, pipelines.ProduceConfig{Night: spec, Topic: topic, Write: w})
	runPipeline(t, p)
}

// Produce two nights, add corrupt messages, distribute: every alert is in its
// night's topic exactly once with identical bytes, and each corrupt message is
// in the dead-letter topic with its error and source.
func TestProduceThenDistributeTwoNights(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 4})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 4}

	want, perTopic := map[int64][]byte{}, map[string]int{}
	for _, day := range []int{20, 21} {
		spec := night(day)
		expected(t, spec, want, perTopic)
		produceNight(t, spec, "ztf_ingest", w)
	}
	corrupt := [][]byte{[]byte("not an alert"), want[firstKey(want)][:500], append([]byte("Obj\x02"), want[firstKey(want)][4:]...)}
	sendRaw(t, b.Addr(), "ztf_ingest", corrupt)

	p, s := beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"ztf_ingest"}, Group: "distribute", StopAtEnd: true},
		Write: w, Survey: "ztf",
	})
	runPipeline(t, p)

	if len(perTopic) < 2 {
		t.Fatalf("the generated nights should give at least two topics, got %v", perTopic)
	}
	checkNightTopics(t, b.Addr(), perTopic, want)

	dead := kafkatest.ReadTopic(t, b.Addr(), deadletter.DefaultTopic)
	if len(dead) != len(corrupt) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(corrupt))
	}
	var values []string
	for _, m := range dead {
		h := headers(m)
		if h[deadletter.HeaderStage] != fanout.Stage || h[deadletter.HeaderError] == "" || h[deadletter.HeaderTopic] != "ztf_ingest" || h[deadletter.HeaderOffset] == "" {
			t.Fatalf("dead letter headers incomplete: %v", h)
		}
		values = append(values, string(m.Value))
	}
	sort.Strings(values)
	var wantValues []string
	for _, c := range corrupt {
		wantValues = append(wantValues, string(c))
	}
	sort.Strings(wantValues)
	if fmt.Sprint(values) != fmt.Sprint(wantValues) {
		t.Fatal("dead letters do not carry the original bytes")
	}
}

func firstKey(m map[int64][]byte) int64 {
	var k int64 = -1
	for id := range m {
		if k < 0 || id < k {
			k = id
		}
	}
	return k
}

func headers(m *sarama.ConsumerMessage) map[string]string {
	h := map[string]string{}
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	return h
}

func sendRaw(t *testing.T, addr, topic string, values [][]byte) {
	t.Helper()
	p := kafkatest.Producer(t, addr)
	defer p.Close()
	for _, v := range values {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
}

// LSST alerts, wire-framed with Rubin's schema ids, are routed to their
// dayObs topics through the registry; a v11.1 writer (Rubin's sample) mixes
// with the generated v10.0 stream.
func TestDistributeLSSTThroughRegistry(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	reg := registrytest.Serve(t)
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}

	c := sim.Defaults(sim.SurveyLSST)
	c.Night, c.Seed, c.Visits, c.AlertsPerVisit = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 3, 2, 40
	spec := pipelines.SpecOf(c)
	produceNight(t, spec, "lsst_ingest", kafkaio.WriteConfig{Config: conn, Partitions: 2})
	p, s := beam.NewPipelineWithRoot()
	pipelines.ProduceFiles(s, pipelines.ProduceFilesConfig{Paths: []string{samples.Path(t, "data", "lsst", "fakeAlert-v11_1.avro")},
		Survey: "lsst", Topic: "lsst_ingest", Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}})
	runPipeline(t, p)

	p, s = beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"lsst_ingest"}, Group: "d", StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "lsst", Registry: reg.URL(),
	})
	runPipeline(t, p)

	// 80 generated alerts on dayObs 2026-11-20; Rubin's sample (2025-08-15
	// 23:49 UTC) on dayObs 2025-08-15.
	if got := kafkatest.ReadTopic(t, b.Addr(), "lsst_20261120"); len(got) != 80 {
		t.Fatalf("lsst_20261120: %d alerts, want 80", len(got))
	}
	got := kafkatest.ReadTopic(t, b.Addr(), "lsst_20250815")
	if len(got) != 1 || string(got[0].Key) != "1231321321" {
		t.Fatalf("lsst_20250815: want Rubin's sample, got %d messages", len(got))
	}
	if id, _, err := framing.ParseWire(got[0].Value); err != nil || id != 1101 {
		t.Fatalf("the v11.1 sample should keep its schema id 1101, got %d (%v)", id, err)
	}
}

// live is a streaming pipeline that a test runs in the background on the
// direct runner.
type live struct {
	*watch.Run
	t *testing.T
}

// runLive starts p in the background. Stop ends it; so does the test's
// end, for a test that fails first.
func runLive(t *testing.T, p *beam.Pipeline) live {
	return live{watch.Start(t, func(ctx context.Context) error {
		_, err := runners.Run(ctx, p)
		return err
	}), t}
}

// startFilter builds the filter pipeline cfg describes and runs it live.
func startFilter(t *testing.T, cfg pipelines.FilterConfig) live {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	pipelines.Filter(s, cfg)
	return runLive(t, p)
}

// until polls ok until it holds, failing the test if the pipeline ends
// first or after 3 minutes.
func (l live) until(what string, ok func() bool) {
	l.t.Helper()
	l.Until(l.t, 3*time.Minute, what, ok)
}

// readKeys reads topic back and returns its messages' keys, failing the
// test for a key seen twice and for a message wrong complains of (its
// complaint; "" for a message that may be there).
func readKeys(t *testing.T, addr, topic string, wrong func(m *sarama.ConsumerMessage) string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range kafkatest.ReadTopic(t, addr, topic) {
		k := string(m.Key)
		if why := wrong(m); why != "" {
			t.Errorf("%s: %s", topic, why)
		} else if seen[k] {
			t.Errorf("%s: alert %s is there twice", topic, k)
		}
		seen[k] = true
	}
	return seen
}
