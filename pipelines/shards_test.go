package pipelines_test

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

// A sharded Distribute (three shards over four partitions, one shard with
// two of them, each shard read twice: by the router, and for the filters
// and the archive) gives what one read gives: every alert in its night
// topic and once in the archive, exactly the filters' selections in their
// topics, one dead letter per corrupt record, offsets committed to the end.
func TestDistributeShardedDoesWhatOneReadDoes(t *testing.T) {
	distributeExactly(t, "sharded", 3, false)
}

// So does one read feeding the router, the filters and the archive.
func TestDistributeOneReadDoesTheSame(t *testing.T) { distributeExactly(t, "oneread", 1, true) }

func distributeExactly(t *testing.T, name string, shards int, oneRead bool) {
	in := ingestNight(t, 4)
	root := t.TempDir()
	filters := []string{"purity", "bright:max=19"}
	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: in.conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: in.conn, Partitions: 2}, Survey: "ztf", Archive: &archive.Config{Root: root},
		Filters: filters, FilterTopicPrefix: name + ".", Shards: shards, OneRead: oneRead,
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	in.checkDistributed(t, root, "d")
	checkSelected(t, in.addr, selectedBy(t, in.spec, name+".", filters...), in.want)
}

// What compares alerts across the stream (QA, per-visit caps, live
// definitions' caps) needs one read: sharding it is refused, naming why.
func TestShardedRefusedWhereAlertsAreCompared(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:9"}} // never dialled
	read := kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "d"}
	w := kafkaio.WriteConfig{Config: conn}
	for _, tc := range []struct {
		name  string
		build func(beam.Scope) error
		want  string
	}{
		{"distribute qa", func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, QA: qaConfig(t), Shards: 2})
			return err
		}, "pipelines: QA needs the whole stream in one read: use 1 shard, not 2"},
		{"filter qa", func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, QA: qaConfig(t), Shards: 2})
			return err
		}, "pipelines: QA needs the whole stream in one read: use 1 shard, not 2"},
		{"filter cap", func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, CapPerVisit: 20, Shards: 3})
			return err
		}, "pipelines: a per-visit cap needs the whole stream in one read: use 1 shard, not 3"},
		{"filter definitions", func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Definitions: "defs", Shards: 2})
			return err
		}, "pipelines: live definitions need the whole stream in one read: use 1 shard, not 2"},
		{"negative", func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf", Shards: -1})
			return err
		}, "pipelines: Shards must not be negative, got -1"},
	} {
		_, s := beam.NewPipelineWithRoot()
		if err := tc.build(s); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
