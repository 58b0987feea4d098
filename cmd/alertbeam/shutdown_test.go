package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
)

// A streaming `distribute --archive`, stopped with SIGINT mid-night,
// drains: it exits 0 with no ERROR line, and what it had read is in the
// night topics, the archive and the committed offsets, so the run that
// resumes the group delivers the rest with no alert twice.
func TestShutdownDrains(t *testing.T) {
	f := shutdownNight(t, "drain", [2]int{11, 12})
	cmd, out, produced := f.midNight("3") // visits 15 s apart
	f.ongoing(produced)
	took := drain(t, "distribute", cmd, out)
	t.Logf("drained and exited in %v with %d alerts in the night topics", took, f.delivered())
	f.fed(produced)
	f.classify()
	cmd, out = f.distribute(true)
	f.wait(cmd, out)
	if dup := f.check(); dup != 0 {
		t.Fatalf("%d alerts were delivered twice: the drain did not commit what it had delivered", dup)
	}
}

// A second signal exits at once (130); nothing is lost: the next run
// delivers the rest.
func TestShutdownSecondSignalExits(t *testing.T) {
	f := shutdownNight(t, "twice", [2]int{13, 14})
	cmd, out, produced := f.midNight("3")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Signals of one kind are not queued: wait until the first one is
	// handled before sending the second.
	if !watch.Until(time.Minute, func() bool { return strings.Contains(out.String(), "alertbeam: stopping") }) {
		t.Fatalf("no sign of stopping a minute after SIGTERM\n%s", out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd, out); code != 130 {
		t.Fatalf("distribute exited %d after two signals, want 130\n%s", code, out)
	}
	f.fed(produced)
	f.classify()
	cmd, out = f.distribute(true)
	f.wait(cmd, out)
	f.check()
}

// shutdownNight is a fault-test night on an embedded broker of the test's
// own.
func shutdownNight(t *testing.T, name string, days [2]int) *faultNight {
	b := kafkatest.Start(t, broker.Options{})
	return newFaultNightAt(t, b.Addr(), "shutdown_"+name, days)
}

// drain stops a streaming run of command with SIGINT and fails the test
// unless it exits 0 with no ERROR line; it returns how long that took.
func drain(t *testing.T, command string, cmd *exec.Cmd, out *watch.Output) time.Duration {
	t.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code := exitCode(t, cmd, out)
	took := time.Since(start).Round(time.Millisecond)
	if code != 0 || strings.Contains(out.String(), "level=ERROR") {
		t.Fatalf("%s exited %d after SIGINT (want 0, no ERROR line):\n%s", command, code, out)
	}
	return took
}

// exitCode waits for a process that was signalled, killing it (and failing
// the test) if it hangs.
func exitCode(t *testing.T, cmd *exec.Cmd, out *watch.Output) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 2 minutes after the signal\n%s", out)
		return -1
	}
}

// A streaming `filter`, stopped with SIGINT mid-night, drains the same way:
// exit 0 with no ERROR line, and the run that resumes its group publishes
// the rest, so the output holds every good alert exactly once.
func TestShutdownDrainsFilter(t *testing.T) {
	f := shutdownNight(t, "filter", [2]int{15, 16})
	out := f.name + "_all"
	start := func(bounded bool) (*exec.Cmd, *watch.Output) {
		args := []string{"filter", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name, "--dead-letter-topic", f.dlq,
			"--topic-prefix", f.name + "_", "--expr", "all=candidate.jd > 0.0"}
		if bounded {
			args = append(args, "--stop-at-end")
		}
		return launch(t, f.bin, args...)
	}
	kept := func() int { return len(kafkatest.ReadTopic(t, f.addr, out)) }
	waitKept := func(n int) {
		t.Helper()
		if !watch.Until(3*time.Minute, func() bool { return kept() >= n }) {
			t.Fatalf("%d of %d alerts in %s after 3 minutes", kept(), n, out)
		}
	}
	cmd, o := start(false)
	if err := f.produce(1, "0"); err != nil {
		t.Fatal(err)
	}
	waitKept(f.shape.perNight())
	produced := f.feed(0, "3") // visits 15 s apart
	waitKept(f.shape.perNight() + 200)
	f.ongoing(produced)
	took := drain(t, "filter", cmd, o)
	t.Logf("drained and exited in %v with %d alerts in %s", took, kept(), out)
	f.fed(produced)
	f.classify()
	cmd, o = start(true)
	f.wait(cmd, o)
	ids := map[string]int{}
	for _, m := range kafkatest.ReadTopic(t, f.addr, out) {
		ids[string(m.Key)]++
	}
	for id := range f.good {
		if ids[id] != 1 {
			t.Fatalf("alert %s is in %s %d times, want once: the drain must commit what it published", id, out, ids[id])
		}
	}
	if len(ids) != len(f.good) {
		t.Fatalf("%s holds %d distinct alerts, want the %d good ones", out, len(ids), len(f.good))
	}
}

// A streaming `archive`, stopped with SIGINT mid-night, drains too: exit 0
// with no ERROR line, its open windows closed into final files; the run
// that resumes its group archives the rest, and the archive holds each
// good alert exactly once.
func TestShutdownDrainsArchive(t *testing.T) {
	f := shutdownNight(t, "archive", [2]int{19, 20})
	start := func(bounded bool) (*exec.Cmd, *watch.Output) {
		args := []string{"archive", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name, "--dead-letter-topic", f.dlq,
			"--root", f.root, "--window", "5s"}
		if bounded {
			args = append(args, "--stop-at-end")
		}
		return launch(t, f.bin, args...)
	}
	archived := func() int64 {
		var n int64
		for _, night := range f.nights {
			if rep, err := archive.Verify(context.Background(), f.root, "ztf", night); err == nil {
				n += rep.Records
			}
		}
		return n
	}
	waitArchived := func(n int64) {
		t.Helper()
		if !watch.Until(3*time.Minute, func() bool { return archived() >= n }) {
			t.Fatalf("%d of %d alerts archived after 3 minutes", archived(), n)
		}
	}
	cmd, o := start(false)
	if err := f.produce(1, "0"); err != nil {
		t.Fatal(err)
	}
	waitArchived(int64(f.shape.perNight()))
	produced := f.feed(0, "3") // visits 15 s apart
	waitArchived(int64(f.shape.perNight()) + 200)
	f.ongoing(produced)
	took := drain(t, "archive", cmd, o)
	t.Logf("drained and exited in %v with %d alerts archived", took, archived())
	f.fed(produced)
	f.classify()
	cmd, o = start(true)
	f.wait(cmd, o)
	for _, night := range f.nights {
		rep, err := archive.Verify(context.Background(), f.root, "ztf", night)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Records != int64(f.shape.perNight()) {
			t.Fatalf("night %s: %d records, %d duplicates, unreadable %v; want each of the %d once", night, rep.Records, len(rep.Duplicates), rep.Unreadable, f.shape.perNight())
		}
	}
	if dead := len(f.read(f.dlq)); dead != len(f.corrupt) {
		t.Fatalf("%d dead letters, want one per corrupt message (%d)", dead, len(f.corrupt))
	}
}
