package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/schemas/samples"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// Beam's worker flags are recognised before any subcommand parsing.
func TestWorkerModeIsDetected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--worker=true", "--id=1", "--control_endpoint=localhost:1"}, true},
		{[]string{"-worker", "--id=x"}, true},
		{[]string{"distribute", "--topic", "worker"}, false},
		{[]string{"show", "file"}, false},
	} {
		if got := isWorker(tc.args); got != tc.want {
			t.Errorf("isWorker(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	code, out, _ := runCLI(t, "help")
	if code != 0 {
		t.Fatalf("help exited %d", code)
	}
	for name := range commands {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("help does not list %s", name)
		}
	}
	code, _, errOut := runCLI(t, "distribute", "--help")
	if code != 0 || !strings.Contains(errOut, "--dead-letter-topic") || !strings.Contains(errOut, "--runner") || !strings.Contains(errOut, "--job_name") {
		t.Fatalf("distribute --help should explain its own and Beam's flags (exit %d):\n%s", code, errOut)
	}
}

func TestFlinkWithoutEndpointFailsEarly(t *testing.T) {
	// --runner lives in Go's global flag set, as Beam's options do.
	t.Cleanup(func() { _ = flag.Set("runner", "direct") })
	code, _, errOut := runCLI(t, "distribute", "--runner=flink", "--topic", "x")
	if code != 2 || !strings.Contains(errOut, "--endpoint") {
		t.Fatalf("want exit 2 naming --endpoint, got %d: %s", code, errOut)
	}
}

func TestSimulateThenShow(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "simulate", "--out", dir, "--visits", "2", "--alerts-per-visit", "10", "--night", "2026-11-20", "--bleed", "1:5")
	if code != 0 {
		t.Fatalf("simulate exited %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.avro"))
	if len(files) != 25 || !strings.Contains(out, "wrote 25 ztf alerts") || !strings.Contains(out, "5 bleed-trail") {
		t.Fatalf("want 25 files (20 + 5 bleed-trail), got %d: %s", len(files), out)
	}
	code, out, errOut = runCLI(t, "show", "--compact", files[0])
	if code != 0 || !strings.Contains(out, `"schema":"ztf.alert"`) || !strings.Contains(out, `"stampData":{"bytes":`) {
		t.Fatalf("show exited %d: %s %s", code, out[:min(len(out), 300)], errOut)
	}
}

func TestShowRealSample(t *testing.T) {
	code, out, errOut := runCLI(t, "show", "--compact", samples.Path(t, "data", "ztf", "472263571115115000.avro"))
	if code != 0 || !strings.Contains(out, `"objectId":"ZTF17aaajnnn"`) || !strings.Contains(out, `"candid":472263571115115000`) {
		t.Fatalf("show exited %d: %s", code, errOut)
	}
	if _, err := os.Stat(samples.Path(t, "data", "lsst", "fakeAlert-v11_1.avro")); err == nil {
		code, out, _ = runCLI(t, "show", "--compact", samples.Path(t, "data", "lsst", "fakeAlert-v11_1.avro"))
		if code != 0 || !strings.Contains(out, `"diaSourceId":1231321321`) {
			t.Fatalf("show of the LSST sample exited %d", code)
		}
	}
}

// The demo's counts add up: what it produced is distributed or dead-lettered.
func TestDemoAddsUp(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--visits", "2", "--alerts-per-visit", "60", "--night", "2026-11-20")
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "123 read = 120 distributed + 3 dead-lettered: adds up") {
		t.Fatalf("unexpected summary:\n%s", out)
	}
}
