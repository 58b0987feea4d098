package pipelines_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// qaConfig is QA with both checks on, at settings any stream passes.
func qaConfig(t *testing.T) *qa.Config {
	t.Helper()
	rate, spatial, err := qa.ParseSpec("rate=3x,spatial")
	if err != nil {
		t.Fatal(err)
	}
	return &qa.Config{Rate: rate, Spatial: spatial}
}

// TestEveryStageHasAnOutput builds each pipeline and checks that the
// outputs of its Kafka writes and its commit are read, and that its sinks
// (transforms with no outputs) read after a Reshuffle (discard.All, the
// commit gauge). prism busy-waits through every bundle of a stage without
// outputs (see package discard), so a write whose acks were dropped would
// cost a core for as long as it runs. (Other outputs nobody reads, such as
// each filter's kept messages next to the written union of them, are
// produced in stages that have outputs; reading them after a Reshuffle
// would move every kept alert between stages.)
func TestEveryStageHasAnOutput(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:9"}} // never dialled: the pipelines are only built
	read := kafkaio.ReadConfig{Config: conn, Topics: []string{"ztf_ingest"}, Group: "g"}
	w := kafkaio.WriteConfig{Config: conn}
	dir := t.TempDir()
	packet := filepath.Join(dir, "packet.avro")
	if err := os.WriteFile(packet, []byte("not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	arch := archive.Config{Root: dir, Survey: "ztf"}
	replay := archive.ReadConfig{Root: dir, Survey: "ztf", Night: "20261120"}
	filters := []string{"rb", "bright"}
	build := map[string]func(beam.Scope) error{
		"produce": func(s beam.Scope) error {
			_, err := pipelines.TryProduce(s, pipelines.ProduceConfig{Night: night(20), Topic: "t", Write: w})
			return err
		},
		"produce-files": func(s beam.Scope) error {
			_, err := pipelines.TryProduceFiles(s, pipelines.ProduceFilesConfig{Paths: []string{packet}, Survey: "ztf", Topic: "t", Write: w})
			return err
		},
		"distribute": func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf"})
			return err
		},
		"distribute-full-qa": func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf",
				Archive: &arch, Filters: filters, QA: qaConfig(t)})
			return err
		},
		"distribute-full-sharded": func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf",
				Archive: &arch, Filters: filters, Shards: 3})
			return err
		},
		"filter-qa-gw-definitions": func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf", Filters: filters,
				QA: qaConfig(t), GWTopic: "igwn.gwalert", Definitions: "defs"})
			return err
		},
		"filter-from-archive": func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Archive: &replay, Write: w,
				Survey: "ztf", Filters: filters})
			return err
		},
		"archive": func(s beam.Scope) error {
			return pipelines.TryArchive(s, pipelines.ArchiveConfig{Read: read, Archive: arch, Write: w})
		},
		"replay": func(s beam.Scope) error {
			return pipelines.TryReplay(s, pipelines.ReplayConfig{Archive: replay, Topic: "t", Write: w})
		},
	}
	for name, f := range build {
		t.Run(name, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			if err := f(s); err != nil {
				t.Fatal(err)
			}
			edges, _, err := p.Build()
			if err != nil {
				t.Fatal(err)
			}
			readBy := map[*graph.Node][]*graph.MultiEdge{}
			for _, e := range edges {
				for _, in := range e.Input {
					readBy[in.From] = append(readBy[in.From], e)
				}
			}
			producer := map[*graph.Node]*graph.MultiEdge{}
			sinks := 0
			for _, e := range edges {
				for _, out := range e.Output {
					producer[out.To] = e
					if len(readBy[out.To]) == 0 && doesIO(e) {
						t.Errorf("%s: output %v of %s is read by nothing: end it with discard.All", name, out.To, e.Name())
					}
				}
			}
			for _, e := range edges {
				if len(e.Output) > 0 || e.Op == graph.Impulse {
					continue
				}
				sinks++
				if len(e.Input) != 1 || producer[e.Input[0].From] == nil || producer[e.Input[0].From].Op != graph.Reshuffle {
					t.Errorf("%s: sink %s does not read after a Reshuffle, so its stage may be one with no outputs", name, e.Name())
				}
			}
			if sinks == 0 {
				t.Errorf("%s: no sinks found: the check saw %d transforms and none that ends the graph", name, len(edges))
			}
			if testing.Verbose() {
				t.Logf("%s: %d transforms, %d sinks", name, len(edges), sinks)
			}
		})
	}
}

// doesIO says whether e is a Kafka write or commit, whose stage's bundles
// take network round trips.
func doesIO(e *graph.MultiEdge) bool {
	n := e.Name()
	return strings.Contains(n, "kafkaio.writeFn") || strings.Contains(n, "kafkaio.commitFn")
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
		if _, err := pipelines.TryDistribute(s, cfg); err != nil {
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
