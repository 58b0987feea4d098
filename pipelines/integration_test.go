package pipelines_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/consumer"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

func nightOn(day, month int) pipelines.NightSpec {
	s := night(day)
	s.Night = time.Date(2026, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return s
}

// produceAndDistribute runs Produce for each night then Distribute, bounded,
// on the brokers at addr, and returns the expected bytes and topic counts.
func produceAndDistribute(t *testing.T, addr, ingest, group string, nights ...pipelines.NightSpec) (map[int64][]byte, map[string]int) {
	t.Helper()
	conn := kafkaio.Config{Brokers: []string{addr}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 4}
	want, perTopic := map[int64][]byte{}, map[string]int{}
	for _, spec := range nights {
		expected(t, spec, want, perTopic)
		produceNight(t, spec, ingest, w)
	}
	p, s := beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{ingest}, Group: group, StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 16, Retention: 14 * 24 * time.Hour}, Survey: "ztf",
	})
	runPipeline(t, p)
	return want, perTopic
}

// The produce → distribute flow against real Kafka, read back by `consume`.
func TestIntegrationDistributeAndConsumeRealKafka(t *testing.T) {
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run with `make integration`, which starts real Kafka")
	}
	want, perTopic := produceAndDistribute(t, addr, "ztf_ingest_it", "it-distribute", nightOn(1, 10), nightOn(2, 10))
	checkNightTopics(t, addr, perTopic, want)

	// An astronomer's consumer reads one night topic back: every candid.
	topic := slices.Sorted(maps.Keys(perTopic))[0]
	var out bytes.Buffer
	stats, err := consumer.Consume(context.Background(), consumer.Options{Brokers: []string{addr}, Topic: topic,
		Group: "it-consume", Limit: perTopic[topic], Timeout: time.Minute}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Alerts != perTopic[topic] || stats.Errors != 0 {
		t.Fatalf("consume: %+v, want %d alerts", stats, perTopic[topic])
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		found := false
		for id := range want {
			if strings.Contains(line, `"candid":`+strconv.FormatInt(id, 10)) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("consume printed an alert that was not produced: %s", line)
		}
	}
}

// kcat, a standard librdkafka client, reads our per-night topics from the
// embedded broker: the keys it prints are exactly the candids.
func TestIntegrationKcatReadsEmbeddedBroker(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatal("kcat is not installed: `make integration` installs it (.ci/deps)")
	}
	b := kafkatest.Start(t, broker.Options{Partitions: 4})
	want, perTopic := produceAndDistribute(t, b.Addr(), "ztf_ingest", "kcat-distribute", nightOn(5, 11))
	var keys []int64
	for topic := range perTopic {
		cmd := exec.Command("kcat", "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k %S\n")
		outb, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat %s: %v", topic, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(outb)), "\n") {
			k, size, _ := strings.Cut(line, " ")
			id, _ := strconv.ParseInt(k, 10, 64)
			if strconv.Itoa(len(want[id])) != size {
				t.Fatalf("kcat: %s has %s bytes, want %d", k, size, len(want[id]))
			}
			keys = append(keys, id)
		}
	}
	slices.Sort(keys)
	if d := testdiff.IDs(keys, slices.Sorted(maps.Keys(want))); d != "" {
		t.Fatalf("kcat read keys: %s", d)
	}
}

// The live filter definitions flow of TestFilterLiveDefinitions against
// real Kafka: a run with a flag filter takes definitions from a compacted
// topic while alerts arrive (add b, redefine a, two bad definitions, remove
// b), and each output holds exactly what its definitions kept, by header and
// by offset, with the rejections on the status topic.
func TestIntegrationFilterLiveDefinitionsRealKafka(t *testing.T) {
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run with `make integration`, which starts real Kafka")
	}
	// Topic and group names of their own: a broker kept between runs
	// still holds the last run's.
	liveDefinitionsFlow(t, addr, "it-live-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-")
}
