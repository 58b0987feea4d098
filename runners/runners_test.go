package runners_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func setFlags(t *testing.T, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		f := flag.Lookup(kv[i])
		if f == nil {
			t.Fatalf("no flag %s", kv[i])
		}
		old := f.Value.String()
		if err := flag.Set(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(f.Name, old) })
	}
}

// captured collects Beam's log output, where a Dataflow dry run prints the job.
type captured struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (c *captured) Log(_ context.Context, _ log.Severity, _ int, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.WriteString(msg)
	c.buf.WriteString("\n")
}

// Every streaming pipeline builds a valid Dataflow job offline: the dry run
// writes one JSON document, the job (a streaming job with the name asked for)
// and the pipeline model holding the pipeline's transforms, logs that it
// submitted nothing, and needs neither credentials nor the network.
func TestDataflowDryRunBuildsStreamingJobs(t *testing.T) {
	setFlags(t, "runner", "dataflow", "dry_run", "true", "project", "alertbeam-test", "region", "us-central1",
		"staging_location", "gs://alertbeam-test/staging", "temp_location", "gs://alertbeam-test/tmp",
		"worker_binary", os.Args[0], "job_name", "alertbeam-dry-run-test")
	conn := kafkaio.Config{Brokers: []string{"kafka-0.example.org:9092"}}
	read := kafkaio.ReadConfig{Config: conn, Topics: []string{"ztf_ingest"}, Group: "g"}
	for _, tc := range []struct {
		name  string
		build func(s beam.Scope) error
		// transforms are unique names the model must hold: the Kafka
		// read, what the pipeline does, its writes and the offset commit.
		transforms []string
	}{
		{"distribute", func(s beam.Scope) error {
			_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{Read: read, Write: kafkaio.WriteConfig{Config: conn}, Survey: "ztf"})
			return err
		}, []string{"Distribute/kafkaio.Read/kafkaio.readFn", "Distribute/fanout.Route", "Distribute/kafkaio.Write/kafkaio.writeFn", "Distribute/kafkaio.Commit"}},
		{"filter", func(s beam.Scope) error {
			_, err := pipelines.TryFilter(s, pipelines.FilterConfig{Read: read, Write: kafkaio.WriteConfig{Config: conn}, Survey: "ztf",
				Filters: []string{"purity", "candidate.rb > 0.8"}, CapPerVisit: 20})
			return err
		}, []string{"Filter/kafkaio.Read/kafkaio.readFn", "Filter/filter.Apply/purity", "Filter/kafkaio.Write/kafkaio.writeFn", "Filter/kafkaio.Commit"}},
		{"archive", func(s beam.Scope) error {
			return pipelines.TryArchive(s, pipelines.ArchiveConfig{Read: read, Archive: archive.Config{Root: "gs://alertbeam-test/archive", Survey: "ztf"},
				Write: kafkaio.WriteConfig{Config: conn}})
		}, []string{"Archive/kafkaio.Read/kafkaio.readFn", "Archive/archive.Write/archive.writeFn", "Archive/kafkaio.Commit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, out := &captured{}, &bytes.Buffer{}
			runners.DryRunLog, runners.DryRunOutput = logs, out
			defer func() { runners.DryRunLog, runners.DryRunOutput = &log.Structural{}, os.Stdout }()
			p, s := beam.NewPipelineWithRoot()
			if err := tc.build(s); err != nil {
				t.Fatal(err)
			}
			if _, err := runners.Run(context.Background(), p); err != nil {
				t.Fatalf("dry run: %v", err)
			}
			got, err := runners.SummarizeDryRun(out.Bytes())
			if err != nil {
				t.Fatalf("%v\n%.2000s", err, out.String())
			}
			if got.Name != "alertbeam-dry-run-test" || got.ProjectID != "alertbeam-test" || got.Type != "JOB_TYPE_STREAMING" {
				t.Errorf("job = %+v, want the streaming job alertbeam-dry-run-test of alertbeam-test", got)
			}
			for _, want := range tc.transforms {
				if !got.Has(want) {
					t.Errorf("the pipeline has no transform %s; it has %v", want, got.Transforms)
				}
			}
			if !strings.Contains(logs.buf.String(), "Dry-run: not submitting job") {
				t.Error("the dry run did not say it submitted nothing")
			}
		})
	}
}

func TestCheckNamesMissingFlags(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"runner", "dataflow", "project", "", "region", "", "staging_location", ""}, "--project, --region, --staging_location"},
		{[]string{"runner", "dataflow", "project", "p", "region", "r", "staging_location", "/tmp/x"}, "must be a gs:// path"},
		{[]string{"runner", "flink", "endpoint", "", "job_server", ""}, "--endpoint"},
		{[]string{"runner", "sparkle"}, "unknown --runner"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			setFlags(t, tc.flags...)
			err := runners.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// The launcher refuses a command without a place for the port, and reports
// a job server that exits instead of listening.
func TestJobServerLauncherErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := runners.StartJobServer(ctx, "sleep 60", 0); err == nil || !strings.Contains(err.Error(), "{port}") {
		t.Fatalf("want an error asking for {port}, got %v", err)
	}
	if _, err := runners.StartJobServer(ctx, "false {port}", time.Minute); err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Fatalf("want an exit error, got %v", err)
	}
}
