package pipelines_test

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

// A sharded Distribute (three reads over four partitions, one shard with
// two of them) gives what one read gives: every alert in its night topic
// and once in the archive, exactly the filters' selections in their
// topics, one dead letter per corrupt record, offsets committed to the end.
func TestDistributeShardedDoesWhatOneReadDoes(t *testing.T) {
	in := ingestNight(t, 4)
	root := t.TempDir()
	filters := []string{"purity", "bright:max=19"}
	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: in.conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: in.conn, Partitions: 2}, Survey: "ztf", Archive: &archive.Config{Root: root},
		Filters: filters, FilterTopicPrefix: "sharded.", Shards: 3,
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	in.checkDistributed(t, root, "d")
	checkSelected(t, in.addr, selectedBy(t, in.spec, "sharded.", filters...), in.want)
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
