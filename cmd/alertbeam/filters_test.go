package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// filtersNight puts 120 generated alerts on a one-partition topic in
// generation order: the first 60 stamped an hour before at, the last 60 at
// at. It returns their candids in order and a function telling whether a
// spec keeps an alert, computed from the packets, not the topic.
func filtersNight(t *testing.T, addr, topic string, at time.Time) ([]int64, func(spec string, i int) bool) {
	t.Helper()
	n := newTestNight(t, addr, topic)
	n.send(0, 60, at.Add(-time.Hour))
	n.send(60, 120, at)
	return n.ids, n.keeps
}

// testNight is 120 generated alerts (two visits of 60) to send to a topic
// in generation order, a stretch at a time.
type testNight struct {
	t      *testing.T
	addr   string
	topic  string
	ids    []int64
	alerts []*filter.Alert
	values [][]byte
}

func newTestNight(t *testing.T, addr, topic string) *testNight {
	t.Helper()
	c := simtest.Night(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 11, 2, 60)
	g := simtest.New(t, c)
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	n := &testNight{t: t, addr: addr, topic: topic}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		v, err := codec.Encode(a.ZTF)
		if err != nil {
			t.Fatal(err)
		}
		n.ids = append(n.ids, a.ZTF.Candid)
		n.alerts = append(n.alerts, filter.OfZTF(a.ZTF))
		n.values = append(n.values, v)
	}
	if len(n.ids) != 120 {
		t.Fatalf("generated %d alerts, want 120", len(n.ids))
	}
	return n
}

// send publishes alerts [from, to), stamped ts (the producer's clock if
// zero).
func (n *testNight) send(from, to int, ts time.Time) {
	n.t.Helper()
	prod := kafkatest.Producer(n.t, n.addr)
	defer prod.Close()
	for i := from; i < to; i++ {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: n.topic, Key: sarama.StringEncoder(strconv.FormatInt(n.ids[i], 10)),
			Value: sarama.ByteEncoder(n.values[i]), Timestamp: ts}); err != nil {
			n.t.Fatal(err)
		}
	}
}

// keeps tells whether spec keeps alert i, from the packet.
func (n *testNight) keeps(spec string, i int) bool {
	n.t.Helper()
	f, err := filter.Build(spec, "ztf")
	if err != nil {
		n.t.Fatal(err)
	}
	k, err := f.Keep(n.alerts[i])
	if err != nil {
		n.t.Fatal(err)
	}
	return k
}

// filters try samples a topic's end and counts exactly what a spec keeps,
// publishing nothing.
func TestFiltersTry(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 1})
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ids, keeps := filtersNight(t, b.Addr(), "in", at)
	const spec = "candidate.rb > 0.5 && candidate.magpsf < 19.0"
	for _, tc := range []struct {
		args     []string
		from, to int // the alerts tried: ids[from:to]
	}{
		{[]string{"--last", "50"}, 70, 120},
		{[]string{"--last", "500"}, 0, 120},
		{[]string{"--since", at.Add(-30 * time.Minute).Format(time.RFC3339Nano)}, 60, 120},
		{[]string{"--since", "2h"}, 0, 120},
	} {
		var kept []string
		for i := tc.from; i < tc.to; i++ {
			if keeps(spec, i) {
				kept = append(kept, strconv.FormatInt(ids[i], 10))
			}
		}
		if len(kept) == 0 || len(kept) == tc.to-tc.from {
			t.Fatalf("%v: the spec should keep some alerts, not %d of %d", tc.args, len(kept), tc.to-tc.from)
		}
		args := append([]string{"filters", "try", spec, "--brokers", b.Addr(), "--topic", "in", "--ids", "3"}, tc.args...)
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v exited %d: %s", tc.args, code, errOut)
		}
		want := fmt.Sprintf("keeps %d of %d alerts", len(kept), tc.to-tc.from)
		if !strings.Contains(out, want) || !strings.Contains(out, "kept ids: "+strings.Join(kept[:3], " ")+"\n") ||
			!regexp.MustCompile(`cost: \S+ per alert filtering`).MatchString(out) {
			t.Fatalf("%v: want %q and the first 3 kept ids %v, got:\n%s", tc.args, want, kept[:3], out)
		}
		t.Logf("%v: %s", tc.args, strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
	}
	if code, _, errOut := runCLI(t, "filters", "try", "candidate.rbb > 1", "--brokers", b.Addr(), "--topic", "in", "--last", "5"); code != 1 || !strings.Contains(errOut, "no field rbb") {
		t.Fatalf("a spec that does not type-check: exit %d, %s", code, errOut)
	}
}

// filters add versions each name's definitions and refuses a bad spec;
// list shows what stands; rm removes it; add --from backfills exactly the
// alerts written since a time into the filter's topic, stamped with its
// version.
func TestFiltersAddListRmAndBackfill(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 1})
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	n := newTestNight(t, b.Addr(), "in")
	n.send(0, 60, at.Add(-time.Hour))
	n.send(60, 120, at)
	ids, keeps := n.ids, n.keeps
	conn := []string{"--brokers", b.Addr(), "--definitions", "defs", "--status-topic", "defstatus"}
	cli := func(want int, args ...string) string {
		t.Helper()
		return runExit(t, want, append(args, conn...)...)
	}
	if out := cli(0, "filters", "add", "b", "candidate.rb > 0.5", "--owner", "bob"); !strings.Contains(out, "published b version 1 to defs") {
		t.Fatal(out)
	}
	if out := cli(1, "filters", "add", "b", "candidate.rbb > 0.5", "--owner", "bob"); !strings.Contains(out, "no field rbb") {
		t.Fatal(out)
	}
	if out := cli(1, "filters", "add", "c", "nosuch:x=1"); !strings.Contains(out, `no filter named "nosuch"`) {
		t.Fatal(out)
	}
	if out := cli(1, "filters", "add", "c", "purity", "--cap", "-1"); !strings.Contains(out, "--cap: want a positive number") {
		t.Fatal(out)
	}
	if out := cli(0, "filters", "add", "b", "rb:min=0.8", "--owner", "bob"); !strings.Contains(out, "published b version 2 to defs") {
		t.Fatal(out)
	}
	cli(0, "filters", "add", "a", "purity", "--owner", "alice")
	list := cli(0, "filters", "list")
	if !regexp.MustCompile(`(?m)^a\s+1\s+alice\s+\S+\s+pending \(no run has read it\)\s+purity$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^b\s+2\s+bob\s+.*rb:min=0.8$`).MatchString(list) || strings.Count(list, "\n") != 3 {
		t.Fatalf("filters list:\n%s", list)
	}
	if out := cli(0, "filters", "rm", "b"); !strings.Contains(out, "removed b from defs") {
		t.Fatal(out)
	}
	if out := cli(1, "filters", "rm", "b"); !strings.Contains(out, `no filter "b" stands`) {
		t.Fatal(out)
	}
	if list := cli(0, "filters", "list"); strings.Contains(list, "\nb ") || !strings.Contains(list, "\na ") {
		t.Fatalf("after rm b:\n%s", list)
	}
	recs, err := filter.ReadDefinitions(context.Background(), kafkaio.Config{Brokers: []string{b.Addr()}}, "defs")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		v := "tombstone"
		if r.Def != nil {
			v = fmt.Sprintf("v%d %s %s", r.Def.Version, r.Def.Owner, r.Def.Spec)
		}
		got = append(got, r.Name+" "+v)
	}
	if want := "b v1 bob candidate.rb > 0.5|b v2 bob rb:min=0.8|a v1 alice purity|b tombstone"; strings.Join(got, "|") != want {
		t.Fatalf("the definitions topic holds %q, want %q", strings.Join(got, "|"), want)
	}

	// Backfill: no run is reading, so it goes ahead at once (--wait 0).
	const spec = "candidate.magpsf < 18.5"
	want := map[string]bool{}
	for i := 60; i < 120; i++ {
		if keeps(spec, i) {
			want[strconv.FormatInt(ids[i], 10)] = true
		}
	}
	out := cli(0, "filters", "add", "c", spec, "--owner", "carol", "--from", at.Add(-30*time.Minute).Format(time.RFC3339Nano),
		"--topic", "in", "--topic-prefix", "live.", "--wait", "0s", "--partitions", "2")
	if !strings.Contains(out, "published c version 1") || !strings.Contains(out, "backfilled c version 1") {
		t.Fatal(out)
	}
	gotIDs := published(t, b.Addr(), "live.c", "c", "1")
	if len(want) == 0 || len(want) == 60 || fmt.Sprint(gotIDs) != fmt.Sprint(want) {
		t.Fatalf("live.c holds %d alerts, want the %d of the last 60 that %s keeps", len(gotIDs), len(want), spec)
	}
	t.Logf("backfill kept %d of the 60 alerts since --from", len(want))

	// A capped definition's backfill keeps each visit's 2 alerts of
	// highest S/N among those its filter keeps.
	byVisit := map[string][]filter.Scored{}
	for i := 60; i < 120; i++ {
		if keeps(spec, i) {
			a := n.alerts[i]
			byVisit[a.Visit().Key()] = append(byVisit[a.Visit().Key()], filter.Scored{ID: a.ID(), Score: a.SNR()})
		}
	}
	wantCapped := map[string]bool{}
	for _, as := range byVisit {
		keep, _ := filter.Select(as, 2)
		for _, id := range keep {
			wantCapped[strconv.FormatInt(id, 10)] = true
		}
	}
	out = cli(0, "filters", "add", "d", spec, "--cap", "2", "--from", at.Add(-30*time.Minute).Format(time.RFC3339Nano),
		"--topic", "in", "--topic-prefix", "live.", "--wait", "0s", "--partitions", "2")
	if !strings.Contains(out, "backfilled d version 1") {
		t.Fatal(out)
	}
	gotCapped := published(t, b.Addr(), "live.d", "d", "1")
	if len(wantCapped) != 2*len(byVisit) || fmt.Sprint(gotCapped) != fmt.Sprint(wantCapped) {
		t.Fatalf("live.d holds %v, want the 2 of highest S/N of each of the %d visits: %v", gotCapped, len(byVisit), wantCapped)
	}
	t.Logf("the capped backfill kept %d alerts from %d visits", len(wantCapped), len(byVisit))
}

// A streaming `alertbeam filter --definitions` run follows `filters add`
// and `filters rm` given mid-stream: b holds exactly the alerts sent while
// it stood, a (from flags) every alert it keeps, and `filters list` says
// when the run took b in.
func TestFilterRunFollowsFiltersAddAndRm(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 1})
	addr := b.Addr()
	n := newTestNight(t, addr, "in")
	conn := []string{"--brokers", addr, "--definitions", "defs", "--status-topic", "defstatus"}
	cli := func(want int, args ...string) string {
		t.Helper()
		return runExit(t, want, append(args, conn...)...)
	}
	n.send(0, 40, time.Time{})

	filtering := watch.Start(t, func(ctx context.Context) error {
		var out, errb strings.Builder
		code := run(ctx, append([]string{"filter", "--topic", "in", "--group", "live", "--filter", "a=candidate.magpsf < 18.0",
			"--topic-prefix", "live."}, conn...), &out, &errb)
		return fmt.Errorf("exit %d:\n%s", code, errb.String())
	})
	// The run's DoFns share this process's reader of the definitions
	// topic: the test sees what they see.
	kc := kafkaio.Config{Brokers: []string{addr}}
	live, err := filter.FollowDefinitions(filter.Definitions{Conn: kc, Topic: "defs"}, filter.DefinitionEnv{Survey: "ztf"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	until := func(what string, ok func() bool) { t.Helper(); filtering.Until(t, 3*time.Minute, what, ok) }
	committed := func(want int64) func() bool {
		return func() bool { return kafkatest.Committed(t, addr, "live", "in", 1)[0] == want }
	}
	until("the first 40 alerts processed", committed(40))

	cli(0, "filters", "add", "b", "candidate.rb > 0.5", "--owner", "bob")
	until("b read", func() bool { _, ok := live.Get("b"); return ok })
	n.send(40, 80, time.Time{})
	until("alerts 40-79 processed", committed(80))
	until("b reported", func() bool {
		sts, err := filter.ReadStatuses(context.Background(), kc, "defstatus")
		return err == nil && len(sts) == 1
	})
	list := cli(0, "filters", "list")
	if !regexp.MustCompile(`(?m)^b\s+1\s+bob\s+\S+\s+20\d\d-\d\d-\d\dT\S+Z\s+candidate.rb > 0.5$`).MatchString(list) {
		t.Fatalf("filters list should say when the run took b in:\n%s", list)
	}

	cli(0, "filters", "rm", "b")
	until("b removed", func() bool { _, ok := live.Get("b"); return !ok })
	n.send(80, 120, time.Time{})
	until("alerts 80-119 processed", committed(120))
	filtering.Stop()

	want := func(spec string, from, to int) map[string]bool {
		m := map[string]bool{}
		for i := from; i < to; i++ {
			if n.keeps(spec, i) {
				m[strconv.FormatInt(n.ids[i], 10)] = true
			}
		}
		return m
	}
	for _, out := range []struct {
		topic, name, version string
		want                 map[string]bool
	}{
		{"live.a", "a", "0", want("candidate.magpsf < 18.0", 0, 120)},
		{"live.b", "b", "1", want("candidate.rb > 0.5", 40, 80)},
	} {
		got := published(t, addr, out.topic, out.name, out.version)
		if len(out.want) == 0 || fmt.Sprint(got) != fmt.Sprint(out.want) {
			t.Fatalf("%s holds %d alerts, want the %d its definition keeps", out.topic, len(got), len(out.want))
		}
		t.Logf("%s: %d alerts", out.topic, len(got))
	}
}

// filters add --from --archive backfills from the archived night: exactly
// the alerts observed at or after --from that the filter keeps.
func TestFiltersAddBackfillsFromArchive(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	root := t.TempDir()
	night := []string{"--night", "2026-11-20", "--visits", "2", "--alerts-per-visit", "60", "--no-cutouts"}
	for _, args := range [][]string{
		append([]string{"produce", "--brokers", b.Addr(), "--topic", "in", "--speed", "0"}, night...),
		{"distribute", "--brokers", b.Addr(), "--topic", "in", "--stop-at-end", "--archive", root},
	} {
		if code, out, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("%v exited %d:\n%s%s", args, code, out, errOut)
		}
	}
	// The truth, from the same generated night: --from halfway between
	// the two visits.
	cfg := simtest.Night(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1, 2, 60)
	g := simtest.New(t, cfg)
	const spec = "candidate.magpsf < 18.5"
	f, err := filter.Build(spec, "ztf")
	if err != nil {
		t.Fatal(err)
	}
	var alerts []*filter.Alert
	var first, last time.Time // of the second visit, and of the first
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		fa := filter.OfZTF(a.ZTF)
		if len(alerts) < 60 {
			last = maxTime(last, fa.Time())
		} else if first.IsZero() || fa.Time().Before(first) {
			first = fa.Time()
		}
		alerts = append(alerts, fa)
	}
	if !last.Before(first) {
		t.Fatalf("the visits overlap in time: first ends %v, second starts %v", last, first)
	}
	from := last.Add(first.Sub(last) / 2)
	want := map[string]bool{}
	for _, a := range alerts {
		if k, _ := f.Keep(a); k && !a.Time().Before(from) {
			want[strconv.FormatInt(a.ID(), 10)] = true
		}
	}
	code, out, errOut := runCLI(t, "filters", "add", "c", spec, "--from", from.Format(time.RFC3339Nano), "--archive", root,
		"--topic-prefix", "arch.", "--wait", "0s", "--brokers", b.Addr(), "--definitions", "defs", "--status-topic", "defstatus")
	if code != 0 || !strings.Contains(out, "backfilled c version 1") {
		t.Fatalf("filters add --archive exited %d:\n%s%s", code, out, errOut)
	}
	got := published(t, b.Addr(), "arch.c", "c", "1")
	if len(want) == 0 || len(want) == 60 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("arch.c holds %d alerts, want the %d of the second visit that %s keeps", len(got), len(want), spec)
	}
	t.Logf("the archive backfill kept %d of the 60 alerts observed since --from", len(want))
}

// published is the set of alert ids (record keys) on topic, each of which
// must be there once, stamped by filter name at version.
func published(t *testing.T, addr, topic, name, version string) map[string]bool {
	t.Helper()
	msgs, err := kafkaio.Tail(context.Background(), kafkaio.TailConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Topic: topic, Since: time.UnixMilli(0)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range msgs {
		if string(m.Header(filter.HeaderName)) != name || string(m.Header(filter.HeaderVersion)) != version || got[string(m.Key)] {
			t.Fatalf("%s: alert %s with headers %v (or twice)", topic, m.Key, m.Headers)
		}
		got[string(m.Key)] = true
	}
	return got
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
