package pipelines_test

import (
	"context"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

// A sharded Distribute (three reads over four partitions, one shard with
// two of them) gives what one read gives: every alert in its night topic
// and once in the archive, exactly the filters' selections in their
// topics, one dead letter per corrupt record, offsets committed to the end.
func TestDistributeShardedDoesWhatOneReadDoes(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 4})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}
	root := t.TempDir()

	spec := night(24)
	want, perTopic := map[int64][]byte{}, map[string]int{}
	expected(t, spec, want, perTopic)
	produceNight(t, spec, "ingest", kafkaio.WriteConfig{Config: conn, Partitions: 4})
	corrupt := [][]byte{[]byte("not an alert"), want[firstKey(want)][:700]}
	sendRaw(t, b.Addr(), "ingest", corrupt)

	filters := []string{"purity", "bright:max=19"}
	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
		Write: w, Survey: "ztf", Archive: &archive.Config{Root: root},
		Filters: filters, FilterTopicPrefix: "sharded.", Shards: 3,
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	total := 0
	for topic, n := range perTopic {
		if got := kafkatest.ReadTopic(t, b.Addr(), topic); len(got) != n {
			t.Fatalf("%s: %d alerts, want %d", topic, len(got), n)
		}
		total += n
	}
	rep, err := archive.Verify(context.Background(), root, "ztf", "20261124")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != int64(len(want)) || total != len(want) {
		t.Fatalf("archive: %d records (%d duplicates, %d unreadable), topics %d; want %d once each", rep.Records, len(rep.Duplicates), len(rep.Unreadable), total, len(want))
	}
	checkSelected(t, b.Addr(), selectedBy(t, spec, "sharded.", filters...), want)
	if dead := kafkatest.ReadTopic(t, b.Addr(), deadletter.DefaultTopic); len(dead) != len(corrupt) {
		t.Fatalf("%d dead letters, want one per corrupt record (%d)", len(dead), len(corrupt))
	}
	if lag := groupLag(t, b.Addr(), "d", "ingest"); lag != 0 {
		t.Fatalf("group d is %d records behind the end of ingest after a bounded run", lag)
	}
}

// QA compares alerts across the stream; a sharded Distribute with QA is
// refused, naming the fix.
func TestDistributeShardedRefusesQA(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:9"}} // never dialled
	_, s := beam.NewPipelineWithRoot()
	_, err := pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "d"},
		Write: kafkaio.WriteConfig{Config: conn}, Survey: "ztf", Filters: []string{"purity"}, QA: qaConfig(t), Shards: 2,
	})
	if want := "pipelines: QA needs the whole stream in one read: use 1 shard, not 2"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
