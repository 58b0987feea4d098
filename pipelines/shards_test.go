package pipelines_test

import (
	"strings"
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
// So does one read feeding them all (OneRead).
func TestDistributeShardedDoesWhatOneReadDoes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shards  int
		oneRead bool
	}{{"sharded", 3, false}, {"oneread", 1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			in := ingestNight(t, 4)
			root := t.TempDir()
			filters := []string{"purity", "bright:max=19"}
			p, s := beam.NewPipelineWithRoot()
			if _, err := pipelines.Distribute(s, pipelines.DistributeConfig{
				Read:  kafkaio.ReadConfig{Config: in.conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
				Write: kafkaio.WriteConfig{Config: in.conn, Partitions: 2}, Survey: "ztf", Archive: &archive.Config{Root: root},
				Filters: filters, FilterTopicPrefix: tc.name + ".", Shards: tc.shards, OneRead: tc.oneRead,
			}); err != nil {
				t.Fatal(err)
			}
			runPipeline(t, p)
			in.checkDistributed(t, root, "d")
			checkSelected(t, in.addr, selectedBy(t, in.spec, tc.name+".", filters...), in.want)
		})
	}
}

// The router reads the stream on its own when there are filters or an
// archive, so night copies never queue behind their work; OneRead, and a
// pipeline that only routes, read once (per shard).
func TestTheRouterReadsApart(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:9"}} // never dialled: the pipelines are only built
	read := kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "d"}
	w := kafkaio.WriteConfig{Config: conn}
	arch := &archive.Config{Root: t.TempDir()}
	for _, tc := range []struct {
		name string
		cfg  pipelines.DistributeConfig
		want int
	}{
		{"route only", pipelines.DistributeConfig{}, 1},
		{"filters", pipelines.DistributeConfig{Filters: []string{"purity"}}, 2},
		{"archive", pipelines.DistributeConfig{Archive: arch}, 2},
		{"filters and archive, 3 shards", pipelines.DistributeConfig{Filters: []string{"purity"}, Archive: arch, Shards: 3}, 6},
		{"one read", pipelines.DistributeConfig{Filters: []string{"purity"}, Archive: arch, OneRead: true}, 1},
		{"one read, 2 shards", pipelines.DistributeConfig{Archive: arch, OneRead: true, Shards: 2}, 2},
	} {
		cfg := tc.cfg
		cfg.Read, cfg.Write, cfg.Survey = read, w, "ztf"
		p, s := beam.NewPipelineWithRoot()
		if _, err := pipelines.Distribute(s, cfg); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		edges, _, err := p.Build()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		reads := 0
		for _, e := range edges {
			if strings.Contains(e.Name(), "kafkaio.readFn") {
				reads++
			}
		}
		if reads != tc.want {
			t.Errorf("%s: %d reads of the stream, want %d", tc.name, reads, tc.want)
		}
	}
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
			_, err := pipelines.Distribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, QA: qaConfig(t), Shards: 2})
			return err
		}, "pipelines: QA needs the whole stream in one read: use 1 shard, not 2"},
		{"filter qa", func(s beam.Scope) error {
			_, err := pipelines.Filter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, QA: qaConfig(t), Shards: 2})
			return err
		}, "pipelines: QA needs the whole stream in one read: use 1 shard, not 2"},
		{"filter cap", func(s beam.Scope) error {
			_, err := pipelines.Filter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Filters: []string{"purity"}, CapPerVisit: 20, Shards: 3})
			return err
		}, "pipelines: a per-visit cap needs the whole stream in one read: use 1 shard, not 3"},
		{"filter definitions", func(s beam.Scope) error {
			_, err := pipelines.Filter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf",
				Definitions: "defs", Shards: 2})
			return err
		}, "pipelines: live definitions need the whole stream in one read: use 1 shard, not 2"},
		{"negative", func(s beam.Scope) error {
			_, err := pipelines.Distribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf", Shards: -1})
			return err
		}, "pipelines: Shards must not be negative, got -1"},
	} {
		_, s := beam.NewPipelineWithRoot()
		if err := tc.build(s); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
