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

	"github.com/alertbeam/alertbeam/io/broker"
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
// lag falling to 0 and offsets committed to the end.
func TestMetricsCountTheRun(t *testing.T) {
	b, err := broker.Start(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
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
		cmd := exec.Command(f.bin, append(args, "--metrics-addr", addr)...)
		o := &output{}
		cmd.Stdout, cmd.Stderr = o, o
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var m map[string]float64
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			if m = scrape(t, addr); m != nil && settled(m) {
				break
			}
			if time.Now().After(deadline) { // a guard against a hang, not a measure of speed
				_ = cmd.Process.Kill()
				t.Fatalf("%s: /metrics never settled; last scrape:\n%v\n%s", what, m, o)
			}
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
	if got := len(readTopic(t, f.addr, f.name+"_rb")); float64(got) != keptRB {
		t.Fatalf("the rb topic holds %d alerts, /metrics says %v kept", got, keptRB)
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
