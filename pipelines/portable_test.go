package pipelines_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

// buildPrism builds Beam's standalone prism job server: this network serves
// neither Flink nor Beam's Flink job server, and prism's job server takes the
// exact client path --runner=flink takes.
func buildPrism(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "prism")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building prism: %v\n%s", err, out)
	}
	return bin
}

// setFlag sets one of Beam's global options for this test only.
func setFlag(t *testing.T, name, value string) {
	t.Helper()
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("no flag %s", name)
	}
	old := f.Value.String()
	if err := flag.Set(name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set(name, old) })
}

// Distribute, a filter and the archive run on the portable runner path
// (--runner=flink) against real Kafka, on job servers that runners starts
// through --job_server and always stops; the per-night topics, the filter's
// topic and the archive hold exactly the expected alerts.
func TestIntegrationPortableFlinkPath(t *testing.T) {
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run with `make integration`, which starts real Kafka")
	}
	prism := buildPrism(t)
	_, spatial, err := qa.ParseSpec("spatial=width=0.6")
	if err != nil {
		t.Fatal(err)
	}
	conn := kafkaio.Config{Brokers: []string{addr}}
	// A bleed trail for QA to reject on the same path.
	c := nightOn(7, 9).Config()
	c.Artefacts = append(c.Artefacts, sim.BleedTrail{Visit: 1, N: 20})
	spec := pipelines.SpecOf(c)
	want, perTopic := map[int64][]byte{}, map[string]int{}
	expected(t, spec, want, perTopic)

	// Produce on the direct runner, distribute on the portable path.
	produceNight(t, spec, "ztf_ingest_portable", kafkaio.WriteConfig{Config: conn, Partitions: 4})

	setFlag(t, "runner", "flink")
	setFlag(t, "environment_type", "LOOPBACK")
	logFile := filepath.Join(t.TempDir(), "prism.pid")
	// A wrapper records the job server's pid so the test can check it is gone.
	wrapper := filepath.Join(t.TempDir(), "jobserver.sh")
	script := "#!/bin/sh\necho $$ > " + logFile + "\nexec " + prism + " --job_port=$1 --web_port=$2 --serve_http=false --log_level=warn\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	setFlag(t, "job_server", wrapper+" {port} {port2}")
	t.Logf("runner %s endpoint %q", runners.RunnerName(), *jobopts.Endpoint)

	p, s := beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"ztf_ingest_portable"}, Group: "portable", StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 4}, Survey: "ztf",
	})
	runPipeline(t, p)

	checkNightTopics(t, addr, perTopic, want)
	// A filter behind aggregate QA (its gate's state and timers, and
	// reading kept alerts back) and the archive on the same path.
	var nightTopics []string
	for topic := range perTopic {
		nightTopics = append(nightTopics, topic)
	}
	p, s = beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: nightTopics, Group: "portable-filter", StopAtEnd: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "ztf", Filters: []string{"purity"}, TopicPrefix: "portable.",
		QA: &qa.Config{Spatial: spatial, QATopic: "portable.qa"},
	})
	runPipeline(t, p)
	if flags := kafkatest.ReadTopic(t, addr, "portable.qa"); len(flags) != 1 || !bytes.Contains(flags[0].Value, []byte(`"kind":"bleed-trail"`)) {
		t.Fatalf("portable.qa: %d records, want one for the bleed trail", len(flags))
	}
	root := t.TempDir()
	p, s = beam.NewPipelineWithRoot()
	pipelines.Archive(s, pipelines.ArchiveConfig{
		Read:    kafkaio.ReadConfig{Config: conn, Topics: nightTopics, Group: "portable-archive", StopAtEnd: true},
		Archive: archive.Config{Root: root, Survey: "ztf"}, Write: kafkaio.WriteConfig{Config: conn},
	})
	runPipeline(t, p)

	purity, _ := filter.Build("purity", "ztf")
	g := simtest.New(t, spec.Config())
	pure := 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		if keep, _ := purity.Keep(filter.OfZTF(a.ZTF)); keep && a.Artefact != sim.ArtefactBleedTrail {
			pure++
		}
	}
	if got := kafkatest.ReadTopic(t, addr, "portable.purity"); len(got) != pure {
		t.Fatalf("portable.purity: %d alerts, want %d", len(got), pure)
	}
	rep, err := archive.Verify(context.Background(), root, "ztf", "20260907")
	if err != nil || !rep.OK() || rep.Records != int64(len(want)) {
		t.Fatalf("archive on the portable path: %+v (%v), want %d records", rep, err, len(want))
	}

	pidText, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("the job server never started: %v", err)
	}
	pid, _ := strconv.Atoi(string(bytes.TrimSpace(pidText)))
	if !watch.Until(30*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }) {
		t.Fatalf("job server (pid %d) still running 30 s after the job", pid)
	}
}
