package pipelines_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Each config's Validate says what its Try function would: nothing for a
// good config, the function's own error for a bad one, with no broker or
// storage behind the names (Validate reaches neither); and the function
// without Try panics with that error, as Beam's transforms do.
func TestValidate(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:1"}}
	read := kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "g"}
	w := kafkaio.WriteConfig{Config: conn}
	packet := filepath.Join(t.TempDir(), "alert.avro")
	if err := os.WriteFile(packet, []byte("not checked before the run"), 0o644); err != nil {
		t.Fatal(err)
	}
	night := pipelines.NightSpec{Survey: "ztf", Night: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Visits: 1, AlertsPerVisit: 1}
	for _, tc := range []struct {
		name  string
		good  interface{ Validate() error }
		bad   interface{ Validate() error }
		want  string
		build func(beam.Scope, any) // the panicking form on bad
	}{
		{"distribute", pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf", Filters: []string{"purity"}},
			pipelines.DistributeConfig{Read: read, Write: w, Survey: "ztf", Shards: -1},
			"pipelines: Shards must not be negative, got -1",
			func(s beam.Scope, c any) { pipelines.Distribute(s, c.(pipelines.DistributeConfig)) }},
		{"filter", pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf", Filters: []string{"purity"}},
			pipelines.FilterConfig{Read: read, Write: w, Survey: "ztf", Filters: []string{"purity"}, CapPerVisit: 20, Shards: 3},
			"pipelines: a per-visit cap needs the whole stream in one read: use 1 shard, not 3",
			func(s beam.Scope, c any) { pipelines.Filter(s, c.(pipelines.FilterConfig)) }},
		{"archive", pipelines.ArchiveConfig{Read: read, Write: w, Archive: archive.Config{Root: t.TempDir(), Survey: "ztf"}},
			pipelines.ArchiveConfig{Read: kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}}, Write: w, Archive: archive.Config{Root: t.TempDir(), Survey: "ztf"}},
			"pipelines: archive needs a consumer group (--group) to commit offsets to",
			func(s beam.Scope, c any) { pipelines.Archive(s, c.(pipelines.ArchiveConfig)) }},
		{"replay", pipelines.ReplayConfig{Topic: "again", Write: w, Archive: archive.ReadConfig{Pattern: t.TempDir() + "/ztf/20261120/*.avro", Survey: "ztf"}},
			pipelines.ReplayConfig{Write: w, Archive: archive.ReadConfig{Pattern: t.TempDir() + "/ztf/20261120/*.avro", Survey: "ztf"}},
			"pipelines: replay needs a topic (--topic)",
			func(s beam.Scope, c any) { pipelines.Replay(s, c.(pipelines.ReplayConfig)) }},
		{"produce", pipelines.ProduceConfig{Night: night, Topic: "ingest", Write: w},
			pipelines.ProduceConfig{Night: night, Topic: "ingest", Write: w, Speed: -1},
			"pipelines: --speed must be 0 (as fast as possible) or positive, got -1",
			func(s beam.Scope, c any) { pipelines.Produce(s, c.(pipelines.ProduceConfig)) }},
		{"produce files", pipelines.ProduceFilesConfig{Paths: []string{packet}, Survey: "ztf", Topic: "ingest", Write: w},
			pipelines.ProduceFilesConfig{Paths: []string{packet}, Survey: "ztf", Write: w},
			"pipelines: produce needs a topic (--topic)",
			func(s beam.Scope, c any) { pipelines.ProduceFiles(s, c.(pipelines.ProduceFilesConfig)) }},
	} {
		if err := tc.good.Validate(); err != nil {
			t.Errorf("%s: a good config: %v", tc.name, err)
		}
		if err := tc.bad.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		func() {
			defer func() {
				if err, _ := recover().(error); err == nil || err.Error() != tc.want {
					t.Errorf("%s: the panicking form panicked with %v, want %q", tc.name, err, tc.want)
				}
			}()
			tc.build(beam.NewPipeline().Root(), tc.bad)
		}()
	}
}
