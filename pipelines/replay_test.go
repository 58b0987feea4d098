package pipelines_test

import (
	"bytes"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

// A night distributed and archived on one broker, replayed from the archive
// through Distribute on a fresh broker, gives the same per-night topics with
// the same bytes.
func TestReplayReproducesNightTopics(t *testing.T) {
	root := t.TempDir()
	start := func() (*broker.Broker, kafkaio.Config) {
		b := kafkatest.Start(t, broker.Options{Partitions: 2})
		return b, kafkaio.Config{Brokers: []string{b.Addr()}}
	}
	distribute := func(conn kafkaio.Config, ingest string) {
		p, s := beam.NewPipelineWithRoot()
		pipelines.Distribute(s, pipelines.DistributeConfig{
			Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{ingest}, Group: "d", StopAtEnd: true},
			Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "ztf",
		})
		runPipeline(t, p)
	}

	a, connA := start()
	want, perTopic := map[int64][]byte{}, map[string]int{}
	spec := night(23)
	expected(t, spec, want, perTopic)
	produceNight(t, spec, "ingest", kafkaio.WriteConfig{Config: connA})
	distribute(connA, "ingest")
	p, s := beam.NewPipelineWithRoot()
	var topics []string
	for topic := range perTopic {
		topics = append(topics, topic)
	}
	pipelines.Archive(s, pipelines.ArchiveConfig{
		Read:    kafkaio.ReadConfig{Config: connA, Topics: topics, Group: "arch", StopAtEnd: true},
		Archive: archive.Config{Root: root, Survey: "ztf"}, Write: kafkaio.WriteConfig{Config: connA},
	})
	runPipeline(t, p)

	b, connB := start()
	p, s = beam.NewPipelineWithRoot()
	pipelines.Replay(s, pipelines.ReplayConfig{Archive: archive.ReadConfig{Survey: "ztf", Root: root, Night: "20261123"},
		Topic: "replayed", Write: kafkaio.WriteConfig{Config: connB}})
	runPipeline(t, p)
	distribute(connB, "replayed")

	for topic, n := range perTopic {
		orig := kafkatest.ReadTopic(t, a.Addr(), topic)
		again := kafkatest.ReadTopic(t, b.Addr(), topic)
		if len(orig) != n || len(again) != n {
			t.Fatalf("%s: %d originally, %d after replay, want %d", topic, len(orig), len(again), n)
		}
		byKey := map[string][]byte{}
		for _, m := range orig {
			byKey[string(m.Key)] = m.Value
		}
		for _, m := range again {
			if !bytes.Equal(byKey[string(m.Key)], m.Value) {
				t.Fatalf("%s: %s differs after replay", topic, m.Key)
			}
		}
	}
}
