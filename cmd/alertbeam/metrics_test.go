package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/sim"
)

// scrape reads /metrics into series ("name{labels}") and values.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil // not serving yet
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out
}

// sum adds the series of a metric whose labels contain every one of want
// (`topic="x"`).
func sum(m map[string]float64, name string, want ...string) (total float64, n int) {
	for series, v := range m {
		if series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(series, w)
		}
		if ok {
			total += v
			n++
		}
	}
	return total, n
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A streaming distribute, then a streaming filter, each with
// --metrics-addr: /metrics counts exactly the records read, the alerts
// routed per night, the dead letters, each filter's verdicts, and shows
// lag falling to 0 and offsets committed to the end. The latency
// histograms count exactly the messages written per kind of output (with
// a positive sum), and the stage histograms every record each stage
// handled. Then a streaming filter with QA over a night with a bleed
// trail, a streak and a rate spike: QA drops counted by reason equal the
// artefacts' and the spiked visit's alerts exactly.
func TestMetricsCountTheRun(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{})
	f := newShapedNight(t, b.Addr(), "metrics", [2]int{17, 18}, faultShape{visits: 2, perVisit: 200, replication: 1})
	if err := f.produce(0, "0"); err != nil {
		t.Fatal(err)
	}
	if err := f.produce(1, "0"); err != nil {
		t.Fatal(err)
	}
	f.classify()
	total := float64(len(f.good) + len(f.corrupt))
	topic := `topic="` + f.ingest + `"`

	run := func(what string, args []string, settled func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		addr := freeAddr(t)
		cmd, o := launch(t, f.bin, append(args, "--metrics-addr", addr)...)
		var m map[string]float64
		if !watch.Until(3*time.Minute, func() bool { m = scrape(t, addr); return m != nil && settled(m) }) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s: /metrics never settled in 3 minutes; last scrape:\n%v\n%s", what, m, o)
		}
		if what == "distribute" {
			checkStatusPage(t, addr, m)
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(t, cmd, o); code != 0 {
			t.Fatalf("%s exited %d\n%s", what, code, o)
		}
		return m
	}

	committedToEnd := func(group string) func(map[string]float64) bool {
		return func(m map[string]float64) bool {
			read, _ := sum(m, "alertbeam_records_read_total", topic)
			committed, parts := sum(m, "alertbeam_committed_offset", `group="`+group+`"`, topic)
			return read == total && parts == 4 && committed == total
		}
	}
	m := run("distribute", []string{"distribute", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name + "_d",
		"--dead-letter-topic", f.dlq}, committedToEnd(f.name+"_d"))
	routed := 0.0
	for _, night := range f.nights {
		n, _ := sum(m, "alertbeam_messages_written_total", `topic="ztf_`+night+`_programid`)
		routed += n
	}
	dead, _ := sum(m, "alertbeam_deadletters_total", `stage="fanout"`)
	lag, lags := sum(m, "alertbeam_consumer_lag_records", topic)
	if routed != float64(len(f.good)) || dead != float64(len(f.corrupt)) || lag != 0 || lags != 4 {
		t.Fatalf("distribute: routed %v (want %d), dead letters %v (want %d), lag %v over %d partitions (want 0 over 4)",
			routed, len(f.good), dead, len(f.corrupt), lag, lags)
	}
	checkHistogram(t, m, "alertbeam_output_latency_seconds", `output="night"`, len(f.good))
	checkHistogram(t, m, "alertbeam_output_latency_seconds", `output="deadletter"`, len(f.corrupt))
	checkHistogram(t, m, "alertbeam_stage_seconds", `stage="fanout"`, int(total))

	m = run("filter", []string{"filter", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name + "_f",
		"--dead-letter-topic", f.dlq, "--topic-prefix", f.name + "_", "--expr", "all=candidate.jd > 0.0", "--filter", "rb"},
		committedToEnd(f.name+"_f"))
	keptAll, _ := sum(m, "alertbeam_filter_alerts_total", `filter="all"`, `result="kept"`)
	keptRB, _ := sum(m, "alertbeam_filter_alerts_total", `filter="rb"`, `result="kept"`)
	droppedRB, _ := sum(m, "alertbeam_filter_alerts_total", `filter="rb"`, `result="dropped"`)
	wroteRB, _ := sum(m, "alertbeam_messages_written_total", `topic="`+f.name+`_rb"`)
	if keptAll != float64(len(f.good)) || keptRB+droppedRB != float64(len(f.good)) || wroteRB != keptRB || keptRB == 0 {
		t.Fatalf("filter: all kept %v (want %d); rb kept %v, dropped %v, written %v", keptAll, len(f.good), keptRB, droppedRB, wroteRB)
	}
	if got := len(kafkatest.ReadTopic(t, f.addr, f.name+"_rb")); float64(got) != keptRB {
		t.Fatalf("the rb topic holds %d alerts, /metrics says %v kept", got, keptRB)
	}
	checkHistogram(t, m, "alertbeam_output_latency_seconds", `output="filter"`, int(keptAll+keptRB))
	checkHistogram(t, m, "alertbeam_output_latency_seconds", `output="deadletter"`, len(f.corrupt))
	checkHistogram(t, m, "alertbeam_stage_seconds", `stage="filter"`, int(total))

	// QA: TestFilterWithQA's night (pipelines), produced by the CLI, then
	// one later visit whose alerts move the observation-time watermark
	// past the whole night: every exposure of it is decided, streaming.
	qaTopic := f.name + "_qa_ingest"
	night := []string{"--night", "2026-11-25", "--seed", "5", "--visits", "6", "--alerts-per-visit", "300",
		"--spike", "5:4", "--bleed", "2:20", "--streak", "4:100"}
	later := []string{"--night", "2026-11-26", "--seed", "6", "--visits", "1", "--alerts-per-visit", "100"}
	for _, args := range [][]string{night, later} {
		cmd := exec.Command(f.bin, append([]string{"produce", "--brokers", f.addr, "--topic", qaTopic, "--partitions", "4",
			"--speed", "0", "--no-cutouts"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("alertbeam produce: %v\n%s", err, out)
		}
	}
	c := simtest.Night(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 5, 6, 300)
	c.Artefacts = []sim.Artefact{sim.RateSpike{Visit: 5, Factor: 4}, sim.BleedTrail{Visit: 2, N: 20}, sim.Streak{Visit: 4, N: 100}}
	g := simtest.New(t, c)
	clean, spatial, spiked := 0, 0, 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		switch {
		case a.Visit == 5: // the spiked exposure is rejected whole
			spiked++
		case a.Artefact != "":
			spatial++
		default:
			clean++
		}
	}
	qaRead := float64(clean + spatial + spiked + 100)
	qaSeen := `topic="` + qaTopic + `"`
	m = run("filter --qa", []string{"filter", "--brokers", f.addr, "--topic", qaTopic, "--group", f.name + "_qa",
		"--dead-letter-topic", f.dlq, "--topic-prefix", f.name + "_qa_", "--qa", "rate=3x,spatial=width=0.6",
		"--qa-topic", f.name + "_qa_flags", "--expr", "all=candidate.jd > 0.0"},
		func(m map[string]float64) bool {
			read, _ := sum(m, "alertbeam_records_read_total", qaSeen)
			kept, _ := sum(m, "alertbeam_filter_alerts_total", `filter="all"`, `result="kept"`)
			// Latencies are observed when the brokers acknowledge the
			// writes, after the filter counted the alerts kept.
			written, _ := sum(m, "alertbeam_output_latency_seconds_count", `output="filter"`)
			filtered, _ := sum(m, "alertbeam_stage_seconds_count", `stage="filter"`)
			// The spiked exposure is decided on its own path (counts,
			// their history, a CoGroupByKey), which may end after the
			// clean alerts were written: wait for the drops too.
			dropped, _ := sum(m, "alertbeam_qa_dropped_total")
			return read == qaRead && kept == float64(clean) && written == float64(clean) && filtered == float64(clean) &&
				dropped == float64(spatial+spiked)
		})
	bySpatial, _ := sum(m, "alertbeam_qa_dropped_total", `reason="spatial"`)
	byRate, _ := sum(m, "alertbeam_qa_dropped_total", `reason="rate_reject"`)
	byThrottle, _ := sum(m, "alertbeam_qa_dropped_total", `reason="rate_throttle"`)
	if bySpatial != float64(spatial) || byRate != float64(spiked) || byThrottle != 0 {
		t.Fatalf("QA dropped %v for spatial (want %d), %v for rate_reject (want %d), %v for rate_throttle (want 0)",
			bySpatial, spatial, byRate, spiked, byThrottle)
	}
	checkHistogram(t, m, "alertbeam_stage_seconds", `stage="qa"`, int(qaRead))
	checkHistogram(t, m, "alertbeam_stage_seconds", `stage="filter"`, clean)
	checkHistogram(t, m, "alertbeam_output_latency_seconds", `output="filter"`, clean)
}

// checkHistogram checks that the histogram series with label holds
// exactly n observations, in its count and its +Inf bucket, with a
// positive sum.
func checkHistogram(t *testing.T, m map[string]float64, name, label string, n int) {
	t.Helper()
	count, series := sum(m, name+"_count", label)
	inf, _ := sum(m, name+"_bucket", label, `le="+Inf"`)
	total, _ := sum(m, name+"_sum", label)
	if series != 1 || count != float64(n) || inf != float64(n) || (n > 0 && total <= 0) {
		t.Errorf("%s{%s}: count %v over %d series, +Inf bucket %v, sum %v; want count %d and a positive sum",
			name, label, count, series, inf, total, n)
	}
}

// checkStatusPage loads the status page in headless Chromium (Debian's
// chromium, which .ci/deps chromium installs) and finds the numbers of
// /metrics, with no console error. A screenshot goes to
// $ALERTBEAM_ARTIFACTS (default a temporary directory), never into git.
func checkStatusPage(t *testing.T, addr string, m map[string]float64) {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		msg := "no chromium for the status-page test (.ci/deps chromium installs Debian's)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Log(msg + ": skipping the page check")
		return
	}
	dir := cmp.Or(os.Getenv("ALERTBEAM_ARTIFACTS"), t.TempDir())
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	url := "http://" + addr + "/"
	var stderr strings.Builder
	cmd := exec.Command(browser, append(flags, "--dump-dom", url)...)
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "CONSOLE") {
		t.Errorf("the page logged to the console:\n%s", stderr.String())
	}
	read, _ := sum(m, "alertbeam_records_read_total")
	dead, _ := sum(m, "alertbeam_deadletters_total")
	lag, _ := sum(m, "alertbeam_consumer_lag_records")
	for _, want := range []string{
		fmt.Sprintf(`id="read">read %.0f<`, read),
		fmt.Sprintf(`id="dead">dead letters %.0f<`, dead),
		fmt.Sprintf(`id="lag">lag %.0f<`, lag),
		"<td>fanout</td><td>" + fmt.Sprintf("%.0f", dead) + "</td>",
		fmt.Sprintf("<td>night</td><td>%.0f</td>", m[`alertbeam_output_latency_seconds_count{output="night"}`]),
	} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the status page lacks %q:\n%s", want, dom)
		}
	}
	shot := filepath.Join(dir, "status.png")
	if out, err := exec.Command(browser, append(flags, "--screenshot="+shot, "--window-size=1200,1400", url)...).CombinedOutput(); err != nil {
		t.Errorf("screenshot: %v\n%s", err, out)
	}
	t.Logf("status page: %d bytes of DOM, screenshot %s", len(dom), shot)
}
