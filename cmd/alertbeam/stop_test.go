package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
)

// The commands that run their own loops or several pipelines stop like the
// streaming pipelines do: the first SIGINT drains what is in flight and the
// command exits 0 with no ERROR line, saying it stopped early; a second
// signal exits at once with 130.

// A paced replay, stopped between two visits, publishes what it had read
// and exits 0 instead of waiting for the next visit's time.
func TestShutdownReplay(t *testing.T) {
	f := shutdownNight(t, "replay", [2]int{21, 22})
	if err := f.produce(0, "0"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(f.bin, "archive", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name,
		"--dead-letter-topic", f.dlq, "--root", f.root, "--stop-at-end").CombinedOutput(); err != nil {
		t.Fatalf("archive: %v\n%s", err, out)
	}
	topic := f.name + "_out"
	// At the original cadence the night's visits are minutes apart: the
	// first comes out at once, the second not before the stop.
	cmd, o := startCmd(t, f.bin, "replay", f.root, "--night", f.nights[0], "--speed", "1", "--brokers", f.addr, "--topic", topic)
	perVisit := f.shape.perVisit
	waitFor(t, o, func() bool { return len(kafkatest.ReadTopic(t, f.addr, topic)) >= perVisit }, "the first visit replayed")
	stopAt := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := exitCode(t, cmd, o)
	n := len(kafkatest.ReadTopic(t, f.addr, topic))
	t.Logf("replay drained and exited %d in %v with %d of %d alerts replayed", code, time.Since(stopAt).Round(time.Millisecond), n, f.shape.perNight())
	if code != 0 || strings.Contains(o.String(), "level=ERROR") {
		t.Fatalf("replay exited %d after SIGINT (want 0, no ERROR line):\n%s", code, o)
	}
	if n >= f.shape.perNight() {
		t.Fatalf("the replay published all %d alerts: it was not stopped mid-night", n)
	}
}

// The demo, stopped mid-way, finishes the step it is in and stops there.
func TestShutdownDemo(t *testing.T) {
	cmd, o := startCmd(t, alertbeamBinary(t), "demo", "--visits", "20", "--alerts-per-visit", "200")
	waitFor(t, o, func() bool { return strings.Contains(o.String(), "distributing to per-night topics ...") }, "the distribute step")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := exitCode(t, cmd, o)
	if code != 0 || strings.Contains(o.String(), "level=ERROR") || !strings.Contains(o.String(), "stopped before the end") {
		t.Fatalf("demo exited %d after SIGINT (want 0, no ERROR line, a word that it stopped early):\n%s", code, o)
	}
	if strings.Contains(o.String(), "filtering the night topics") {
		t.Fatalf("the demo went on to the next step after the stop:\n%s", o)
	}
}

// bench in its live phase (the full pipeline in a child process) drains
// the child on the first signal and prints what it measured so far; on a
// second signal it exits at once and takes its child with it.
func TestShutdownBench(t *testing.T) {
	for _, signals := range []int{1, 2} {
		t.Run(map[int]string{1: "drain", 2: "at-once"}[signals], func(t *testing.T) {
			f := shutdownNight(t, "bench"+strings.Repeat("x", signals), [2]int{23, 24})
			topic := f.name + "_ingest_bench"
			cmd, o := startCmd(t, f.bin, "bench", "--brokers", f.addr, "--topic", topic, "--alerts", "100", "--partitions", "2",
				"--phases", "raw,live", "--visits", "1000", "--burst", "50", "--cadence", "1s")
			waitFor(t, o, func() bool { return len(kafkatest.ReadTopic(t, f.addr, topic+"_live")) >= 150 }, "live visits")
			if !childRunning(t, topic) {
				t.Fatal("no live phase process found")
			}
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if signals == 2 {
				waitFor(t, o, func() bool { return strings.Contains(o.String(), "alertbeam: stopping") }, "the first signal handled")
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				if code := exitCode(t, cmd, o); code != 130 {
					t.Fatalf("bench exited %d after two signals, want 130\n%s", code, o)
				}
				waitFor(t, o, func() bool { return !childRunning(t, topic) }, "the live phase's process gone")
				return
			}
			code := exitCode(t, cmd, o)
			if code != 0 || strings.Contains(o.String(), "level=ERROR") || !strings.Contains(o.String(), "stopped before the end") {
				t.Fatalf("bench exited %d after SIGINT (want 0, no ERROR line, a word that it stopped early):\n%s", code, o)
			}
			if !strings.Contains(o.String(), "\n  raw ") {
				t.Fatalf("the stopped bench did not report its finished raw phase:\n%s", o)
			}
			if childRunning(t, topic) {
				t.Fatal("the live phase's process outlived the bench")
			}
			// A drained bench removes the archives of its phases.
			tmp := strings.TrimPrefix(cmd.Env[len(cmd.Env)-1], "TMPDIR=")
			if left, _ := filepath.Glob(filepath.Join(tmp, "alertbeam-bench-archive-*")); len(left) > 0 {
				t.Fatalf("the stopped bench left its archives: %v", left)
			}
		})
	}
}

// startCmd starts the binary with args, its output collected.
func startCmd(t *testing.T, bin string, args ...string) (*exec.Cmd, *watch.Output) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// What a process stopped at once leaves in its temporary directory
	// goes with the test's.
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	o := startWith(t, cmd)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, o
}

// waitFor polls cond; the deadline guards against a hang and measures
// nothing.
func waitFor(t *testing.T, o *watch.Output, cond func() bool, what string) {
	t.Helper()
	if !watch.Until(3*time.Minute, cond) {
		t.Fatalf("waited 3 minutes for %s\n%s", what, o)
	}
}

// childRunning reports whether a process whose command line names topic
// (bench's phase processes are given it) is running.
func childRunning(t *testing.T, topic string) bool {
	t.Helper()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to look for child processes in: %v", err)
	}
	for _, p := range procs {
		cl, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := bytes.Split(cl, []byte{0})
		phase, named := false, false
		for _, a := range args {
			phase = phase || string(a) == "--phase"
			named = named || strings.HasPrefix(string(a), topic)
		}
		if phase && named {
			if st, err := os.ReadFile("/proc/" + p.Name() + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie has exited
			}
			return true
		}
	}
	return false
}
