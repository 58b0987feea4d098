package main

import (
	"bytes"
	"context"
	"flag"
	imagepng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/picture"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func TestMain(m *testing.M) {
	code := ptest.MainRet(m)
	// The fault tests' binary (240 MB) would otherwise stay in the temp
	// directory after every run.
	if faultBin != "" {
		os.RemoveAll(filepath.Dir(faultBin))
	}
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// runExit runs the CLI, fails the test unless it exits want, and returns
// what it printed (stdout, then stderr).
func runExit(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != want {
		t.Fatalf("%v exited %d, want %d:\n%s%s", args, code, want, out, errOut)
	}
	return out + errOut
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

// show --png draws every shared sample (ZTF and LSST) and a simulated
// packet, each into DIR/<name>.png, a PNG of the picture's layout size,
// and reports the detections it plotted (the picture package's tests
// check them against the packets).
func TestShowPNG(t *testing.T) {
	simDir := t.TempDir()
	if code, _, errOut := runCLI(t, "simulate", "--survey", "lsst", "--out", simDir, "--visits", "1", "--alerts-per-visit", "1",
		"--night", "2026-11-20"); code != 0 {
		t.Fatalf("simulate exited %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(simDir, "*.avro"))
	for _, survey := range []string{"ztf", "lsst"} {
		found, _ := filepath.Glob(samples.Path(t, "data", survey, "*.avro"))
		files = append(files, found...)
	}
	if len(files) < 5 {
		t.Fatalf("%d packets to draw; want the simulated one and the four shared samples", len(files))
	}
	dir := filepath.Join(t.TempDir(), "pictures")
	code, out, errOut := runCLI(t, append([]string{"show", "--png", dir}, files...)...)
	if code != 0 {
		t.Fatalf("show --png exited %d: %s", code, errOut)
	}
	for _, f := range files {
		png := filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".avro")+".png")
		if !strings.Contains(out, f+": "+png+" (") {
			t.Errorf("show --png does not report %s:\n%s", png, out)
		}
		r, err := os.Open(png)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := imagepng.DecodeConfig(r)
		r.Close()
		if err != nil || cfg.Width != picture.Width || cfg.Height != picture.Height {
			t.Fatalf("%s: %dx%d (%v), want a %dx%d PNG", png, cfg.Width, cfg.Height, err, picture.Width, picture.Height)
		}
	}
	if !strings.Contains(out, "472263571115115000.png (1 detections, 11 other light-curve points)") {
		t.Fatalf("the ZTF sample 472263571115115000 has 1 detection and 11 upper limits:\n%s", out)
	}
}

// The demo's counts add up: what it produced is distributed or dead-lettered.
func TestDemoAddsUp(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--visits", "2", "--alerts-per-visit", "60", "--night", "2026-11-20")
	if code != 0 {
		t.Fatalf("demo exited %d:\n%s\n%s", code, out, errOut)
	}
	// 2 × 60 alerts, a bleed trail of 20 and a streak of 100 that QA
	// rejects, and 3 corrupt messages.
	for _, want := range []string{`243 read = 240 distributed \+ 3 dead-lettered: adds up`,
		`spatial bleed-trail +1\n`, `spatial streak +1\n`, `alerts rejected by QA +120\n`, `alerts kept by QA \(qa.kept\) +120\n`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("summary without %q:\n%s", want, out)
		}
	}
}

// distribute --archive keeps the night; replay --speed --filter runs it
// straight into a filter, whose topic then holds exactly the alerts the
// filter selects.
func TestDistributeArchiveThenReplayIntoFilter(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	root := t.TempDir()
	night := []string{"--night", "2026-11-20", "--visits", "2", "--alerts-per-visit", "60", "--no-cutouts"}
	steps := [][]string{
		append([]string{"produce", "--brokers", b.Addr(), "--topic", "in", "--speed", "0"}, night...),
		{"distribute", "--brokers", b.Addr(), "--topic", "in", "--stop-at-end", "--archive", root},
		{"archive", "verify", root, "--night", "20261120"},
		{"replay", root, "--night", "20261120", "--speed", "200", "--brokers", b.Addr(), "--filter", "purity", "--topic-prefix", "r."},
	}
	var outs []string
	for _, args := range steps {
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v exited %d:\n%s%s", args, code, out, errOut)
		}
		outs = append(outs, out+errOut)
	}
	if !strings.Contains(outs[2], "120 records, 0 duplicate ids, 0 unreadable files") {
		t.Fatalf("archive verify: %s", outs[2])
	}
	if !strings.Contains(outs[3], "at 200× the original cadence") {
		t.Fatalf("replay did not say it paces: %s", outs[3])
	}
	// The truth: purity applied to the same generated night.
	cfg := simtest.Night(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1, 2, 60)
	g := simtest.New(t, cfg)
	purity, _ := filter.Build("purity", "ztf")
	want := 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		if k, _ := purity.Keep(filter.OfZTF(a.ZTF)); k {
			want++
		}
	}
	code, out, errOut := runCLI(t, "consume", "--brokers", b.Addr(), "--topic", "r.purity", "--limit", strconv.Itoa(want+1), "--timeout", "3s", "--quiet")
	if got := strings.Count(out, "\n"); code != 0 || got != want || want == 0 {
		t.Fatalf("r.purity: %d alerts (exit %d, %s), want the %d purity selects", got, code, errOut, want)
	}
}

// A pipeline command with --runner=dataflow --dry_run writes the job it
// would submit to stdout, with no credentials and no network: one JSON
// document holding Dataflow's job request (streaming, with the name asked
// for) and the pipeline model with the command's transforms: the Kafka
// read, what the command does and the writes. The filters of --expr
// 'clean=true' and 'n = ...' are named clean and n.
func TestDataflowDryRunPrintsJob(t *testing.T) {
	dataflow := []string{"--brokers", "localhost:1", "--topic", "ingest", "--runner=dataflow", "--dry_run",
		"--project", "alertbeam-test", "--region", "us-central1", "--staging_location", "gs://bucket/staging"}
	for _, c := range []struct {
		args       []string
		job        string
		transforms []string
		stderr     string // a line the command prints
	}{
		{append([]string{"distribute", "--job_name", "ztf-distribute"}, dataflow...), "ztf-distribute",
			[]string{"Distribute/kafkaio.Read/kafkaio.readFn", "Distribute/fanout.Route/fanout.routeFn", "Distribute/kafkaio.Write/kafkaio.writeFn"},
			"distributing ingest on localhost:1 (group alertbeam-distribute) on the dataflow runner\n"},
		{append([]string{"filter", "--job_name", "ztf-filter", "--expr", "clean=true", "--expr", "n = candidate.rb >= 0.5"}, dataflow...), "ztf-filter",
			[]string{"Filter/kafkaio.Read/kafkaio.readFn", "Filter/filter.Apply/filter.applyFn", "Filter/kafkaio.Write/kafkaio.writeFn"},
			"filtering ingest with 2 filters on the dataflow runner:\n  clean -> clean\n  n -> n\n"},
	} {
		cmd := exec.Command(alertbeamBinary(t), c.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", c.args[0], err, stderr.String())
		}
		got, err := runners.SummarizeDryRun(stdout.Bytes())
		if err != nil {
			t.Fatalf("%s: stdout: %v\n%.2000s", c.args[0], err, stdout.String())
		}
		if !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("%s: stderr lacks %q:\n%s", c.args[0], c.stderr, stderr.String())
		}
		if got.ProjectID != "alertbeam-test" || got.Type != "JOB_TYPE_STREAMING" || got.Name != c.job {
			t.Errorf("%s: job %+v, want the streaming job %s of project alertbeam-test", c.args[0], got, c.job)
		}
		for _, want := range c.transforms {
			if !got.Has(want) {
				t.Errorf("%s: the pipeline has no transform %s", c.args[0], want)
			}
		}
	}
}

// filter --help lists what expressions can call, abs and math.abs among
// the functions, and the macros as they are called.
func TestFilterHelpListsFunctions(t *testing.T) {
	code, _, errOut := runCLI(t, "filter", "--help")
	help := strings.Join(strings.Fields(errOut), " ")
	for _, want := range []string{
		"Functions: abs, bool,", " math.abs, ", " math.sqrt, ", "Methods, x.f(...): charAt, contains,", " startsWith, ",
		"Macros: cel.bind, has, math.greatest, math.least; on lists and maps, x.f(v, p): all, exists, exists_one, filter, map, optFlatMap, optMap.",
		"abs(x) and math.abs(x) are the same.",
	} {
		if code != 0 || !strings.Contains(help, want) {
			t.Errorf("filter --help (exit %d) lacks %q", code, want)
		}
	}
}
