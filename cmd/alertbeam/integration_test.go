package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// bootWrapper strips the quotes prism v2.77 puts around --id='X' (it starts
// the command without a shell) and execs Beam's boot program.
const bootWrapper = `#!/bin/sh
args=""
for a in "$@"; do
  case "$a" in
    --id=\'*\') a="--id=$(echo "$a" | sed "s/^--id='\(.*\)'$/\1/")" ;;
  esac
  args="$args $a"
done
exec BOOT $args
`

// removeBootCopies removes, when the test ends, the copies of the worker
// binary Beam's boot program made meanwhile: it copies the staged binary
// (~290 MB) to /tmp/binNNN/worker, ignoring TMPDIR, and leaves it there.
func removeBootCopies(t *testing.T) {
	t.Helper()
	before, _ := filepath.Glob("/tmp/bin*")
	t.Cleanup(func() {
		after, _ := filepath.Glob("/tmp/bin*")
		for _, d := range after {
			if slices.Contains(before, d) {
				continue
			}
			if _, err := os.Stat(filepath.Join(d, "worker")); err == nil {
				os.RemoveAll(d)
			}
		}
	})
}

// shippedLDFlags are the Makefile's LDFLAGS: the binaries the tests start
// are built as make build and make crosscompile build them (stripped; the
// Makefile's build tags reach go build through GOFLAGS).
const shippedLDFlags = "-ldflags=-s -w"

// goBuild builds pkg into out, as shipped when it is alertbeam.
func goBuild(t *testing.T, out, pkg string, env ...string) {
	t.Helper()
	args := []string{"build", "-o", out}
	if pkg == "github.com/alertbeam/alertbeam/cmd/alertbeam" {
		args = append(args, shippedLDFlags)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// The CLI as Dataflow and PROCESS/DOCKER environments run it: Beam's boot
// program fetches the staged alertbeam binary and starts it with worker
// flags and no subcommand. Distribute, submitted with --runner=flink to a
// job server the CLI starts itself, runs to completion on real Kafka with
// the staged binary as its worker, and the job server is gone afterwards.
func TestIntegrationProcessWorkerMode(t *testing.T) {
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run with `make integration`, which starts real Kafka")
	}
	dir := t.TempDir()
	bin, prism, boot := filepath.Join(dir, "alertbeam"), filepath.Join(dir, "prism"), filepath.Join(dir, "boot")
	goBuild(t, bin, "github.com/alertbeam/alertbeam/cmd/alertbeam", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	goBuild(t, prism, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	goBuild(t, boot, "github.com/apache/beam/sdks/v2/go/container")
	wrapper := filepath.Join(dir, "boot.sh")
	if err := os.WriteFile(wrapper, []byte(strings.Replace(bootWrapper, "BOOT", boot, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	removeBootCopies(t)

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		// The job server and Beam's boot program fetch the worker
		// binary (~290 MB) into a temporary directory they leave: let
		// it be the test's.
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("alertbeam %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	run("produce", "--brokers", addr, "--topic", "ztf_ingest_process", "--visits", "1", "--alerts-per-visit", "80",
		"--speed", "0", "--night", "2026-08-03", "--seed", "11")
	out := run("distribute", "--brokers", addr, "--topic", "ztf_ingest_process", "--stop-at-end", "--group", "process-mode",
		"--runner=flink", "--job_server="+prism+" --job_port={port} --web_port={port2} --serve_http=false --log_level=warn",
		"--environment_type=PROCESS", `--environment_config={"command":"`+wrapper+`"}`, "--worker_binary="+bin)

	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sarama.NewClient([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := cl.Topics()
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, topic := range topics {
		if !strings.HasPrefix(topic, "ztf_20260803_programid") {
			continue
		}
		parts, _ := cl.Partitions(topic)
		for _, p := range parts {
			n, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	if total != 80 {
		t.Fatalf("%d alerts in the night's topics, want 80; distribute said:\n%s", total, out)
	}
	if b, _ := exec.Command("pgrep", "-f", prism).Output(); len(strings.TrimSpace(string(b))) > 0 {
		t.Fatalf("the job server is still running: pids %s", b)
	}
}
