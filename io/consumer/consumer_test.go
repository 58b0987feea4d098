package consumer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/consumer"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

const partitions = 4

// idle is the Timeout the tests stop on. It is not asserted on; it only
// has to exceed any pause between messages of an already produced topic
// on a busy machine.
const idle = 3 * time.Second

// ztfAlerts generates n small ZTF alerts (no cutouts), a good share of
// them known asteroids so both forms of ssnamenr appear.
func ztfAlerts(t *testing.T, n int, seed int64) []*ztf.Alert {
	var out []*ztf.Alert
	for _, a := range generate(t, sim.SurveyZTF, n, seed) {
		out = append(out, a.ZTF)
	}
	return out
}

func lsstAlerts(t *testing.T, n int) []*lsst.Alert {
	var out []*lsst.Alert
	for _, a := range generate(t, sim.SurveyLSST, n, 0) {
		out = append(out, a.LSST)
	}
	return out
}

// generate is n alerts of one visit of survey, without cutouts; seed 0
// keeps the generator's default. A third of ZTF's are known asteroids.
func generate(t *testing.T, survey string, n int, seed int64) []sim.Generated {
	t.Helper()
	cfg := sim.Defaults(survey)
	cfg.Night = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cfg.Visits, cfg.AlertsPerVisit, cfg.NoCutouts = 1, n, true
	if seed != 0 {
		cfg.Seed = seed
	}
	if survey == sim.SurveyZTF {
		cfg.AsteroidFraction = 0.3
	}
	all, err := sim.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("generated %d %s alerts, want %d", len(all), survey, n)
	}
	return all
}

// sortedCandids is the candidate ids of alerts, in order.
func sortedCandids(alerts []*ztf.Alert) []int64 {
	ids := make([]int64, len(alerts))
	for i, a := range alerts {
		ids[i] = a.Candid
	}
	slices.Sort(ids)
	return ids
}

func encodeZTF(t *testing.T, alerts []*ztf.Alert) [][]byte {
	t.Helper()
	c, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	return encodeAll(t, c, alerts)
}

// encodeAll frames alerts as their survey does, with codec.
func encodeAll[A any](t *testing.T, codec *framing.Codec, alerts []A) [][]byte {
	t.Helper()
	var out [][]byte
	for _, a := range alerts {
		b, err := codec.Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// corrupt returns two messages that are not alerts: a ZTF packet cut in
// half, and text.
func corrupt(good []byte) [][]byte {
	return [][]byte{good[:len(good)/2], []byte("this is not an alert")}
}

// lines is what one Consume call printed, parsed.
type lines struct {
	ztf    []consumer.ZTFSummary
	lsst   []consumer.LSSTSummary
	errors []consumer.ErrorLine
}

func parseLines(t *testing.T, out []byte) lines {
	t.Helper()
	var ls lines
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &keys); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		var err error
		switch {
		case keys["error"] != nil:
			var e consumer.ErrorLine
			err = json.Unmarshal(sc.Bytes(), &e)
			ls.errors = append(ls.errors, e)
		case keys["candid"] != nil:
			var s consumer.ZTFSummary
			err = json.Unmarshal(sc.Bytes(), &s)
			ls.ztf = append(ls.ztf, s)
		case keys["diaSourceId"] != nil:
			var s consumer.LSSTSummary
			err = json.Unmarshal(sc.Bytes(), &s)
			ls.lsst = append(ls.lsst, s)
		default:
			t.Fatalf("unknown line %q", sc.Text())
		}
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
	}
	return ls
}

func (ls lines) candids() []int64 {
	var ids []int64
	for _, s := range ls.ztf {
		ids = append(ids, s.Candid)
	}
	slices.Sort(ids)
	return ids
}

// consume runs Consume with a deadline that only guards against a hang.
func consume(t *testing.T, opts consumer.Options) (lines, consumer.Stats) {
	t.Helper()
	ls, st, err := consumeErr(t, opts)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	return ls, st
}

func consumeErr(t *testing.T, opts consumer.Options) (lines, consumer.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	st, err := consumer.Consume(ctx, opts, &out)
	if ctx.Err() != nil {
		t.Fatal("Consume did not stop by itself")
	}
	return parseLines(t, out.Bytes()), st, err
}

func sum(m map[int32]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// wantZTF is the summary line of a, taken from the generator's truth.
func wantZTF(topic string, p kafkatest.Produced, a *ztf.Alert) consumer.ZTFSummary {
	c := a.Candidate
	s := consumer.ZTFSummary{
		Source:   consumer.Source{Topic: topic, Partition: p.Partition, Offset: p.Offset},
		ObjectID: a.ObjectID, Candid: a.Candid,
		Jd: &c.Jd, RA: &c.RA, Dec: &c.Dec, Magpsf: &c.Magpsf, Sigmapsf: &c.Sigmapsf,
		Fid: c.Fid, Rb: c.Rb, Drb: c.Drb, Isdiffpos: c.Isdiffpos, Programid: c.Programid,
		Ndethist: c.Ndethist,
	}
	if c.Ssnamenr != nil && *c.Ssnamenr != "null" {
		s.Ssnamenr = c.Ssnamenr
	}
	if a.PrvCandidates != nil {
		s.NPrv = len(*a.PrvCandidates)
	}
	return s
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConsumeZTF(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic, n = "ztf_20261124_programid1", 40
	alerts := ztfAlerts(t, n, 1)
	values := encodeZTF(t, alerts)
	values = append(values, corrupt(values[0])...)
	msgs := kafkatest.Produce(t, b.Addr(), topic, partitions, values)

	save := t.TempDir()
	var progress bytes.Buffer
	opts := consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: "g1",
		Timeout: idle, SaveDir: save, Progress: &progress}
	ls, st := consume(t, opts)

	// Every alert once, each line equal to the generator's truth.
	if len(ls.ztf) != n {
		t.Fatalf("%d alert lines, want %d", len(ls.ztf), n)
	}
	want := map[int64]string{}
	var nullSS, namedSS int
	for i, a := range alerts {
		want[a.Candid] = jsonOf(t, wantZTF(topic, msgs[i], a))
		if *a.Candidate.Ssnamenr == "null" {
			nullSS++
		} else {
			namedSS++
		}
	}
	if nullSS == 0 || namedSS == 0 {
		t.Fatalf("test data lacks a form of ssnamenr: %d null, %d named", nullSS, namedSS)
	}
	for _, s := range ls.ztf {
		if got := jsonOf(t, s); got != want[s.Candid] {
			t.Errorf("candid %d:\n got %s\nwant %s", s.Candid, got, want[s.Candid])
		}
		delete(want, s.Candid)
	}
	if len(want) != 0 {
		t.Errorf("%d candids missing (or repeated lines)", len(want))
	}

	// Both corrupt messages, by coordinates.
	var gotBad, wantBad []string
	for _, e := range ls.errors {
		gotBad = append(gotBad, fmt.Sprintf("%d/%d", e.Partition, e.Offset))
		if e.Topic != topic || e.Error == "" {
			t.Errorf("error line %+v", e)
		}
	}
	for _, m := range msgs[n:] {
		wantBad = append(wantBad, fmt.Sprintf("%d/%d", m.Partition, m.Offset))
	}
	slices.Sort(gotBad)
	slices.Sort(wantBad)
	if !slices.Equal(gotBad, wantBad) {
		t.Errorf("error lines at %v, want %v", gotBad, wantBad)
	}
	var bytesIn int64
	for _, v := range values {
		bytesIn += int64(len(v))
	}
	if st.Alerts != n || st.Errors != 2 || st.Bytes != bytesIn {
		t.Errorf("stats %+v, want %d alerts, 2 errors, %d bytes", st, n, bytesIn)
	}

	// Saved packets are the produced bytes, and nothing else is there.
	files, err := os.ReadDir(filepath.Join(save, topic))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n {
		t.Errorf("%d files saved, want %d", len(files), n)
	}
	for i, a := range alerts {
		got, err := os.ReadFile(filepath.Join(save, topic, fmt.Sprintf("%d.avro", a.Candid)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msgs[i].Value) {
			t.Errorf("saved packet %d differs from the produced one", a.Candid)
		}
	}

	if p := progress.String(); !strings.HasPrefix(p, "\r") || !strings.HasSuffix(p, "\n") ||
		!strings.Contains(p, "40 alerts") || !strings.Contains(p, "2 errors") {
		t.Errorf("progress output %q", p)
	}

	// Everything was committed: the group reads nothing new ...
	if got := sum(kafkatest.Committed(t, b.Addr(), "g1", topic, partitions)); got != int64(len(values)) {
		t.Errorf("group committed offsets sum to %d, want %d", got, len(values))
	}
	opts.SaveDir, opts.Progress = "", nil
	ls, st = consume(t, opts)
	if len(ls.ztf)+len(ls.errors) != 0 || st.Alerts+st.Errors != 0 {
		t.Errorf("second run of the group read %d alerts and %d errors, want none", len(ls.ztf), len(ls.errors))
	}
	// ... while a new group reads it all again.
	opts.Group = "g2"
	ls, _ = consume(t, opts)
	if len(ls.ztf) != n || len(ls.errors) != 2 {
		t.Errorf("new group read %d alerts and %d errors, want %d and 2", len(ls.ztf), len(ls.errors), n)
	}
}

// A limit prints and commits exactly that many alerts; the next run of the
// group gets exactly the rest (Genesis's alerts1 + alerts2 == alerts).
func TestConsumeLimit(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic, n, limit = "limited", 30, 7
	alerts := ztfAlerts(t, n, 2)
	kafkatest.Produce(t, b.Addr(), topic, partitions, encodeZTF(t, alerts))
	save := t.TempDir()
	opts := consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: "lim", Limit: limit, SaveDir: save}

	first, st := consume(t, opts)
	if len(first.ztf) != limit || st.Alerts != limit {
		t.Fatalf("%d lines (stats %+v), want exactly %d", len(first.ztf), st, limit)
	}
	if got := sum(kafkatest.Committed(t, b.Addr(), "lim", topic, partitions)); got != limit {
		t.Errorf("committed offsets sum to %d, want %d", got, limit)
	}
	if files, err := os.ReadDir(filepath.Join(save, topic)); err != nil || len(files) != limit {
		t.Errorf("%d files saved (%v), want %d", len(files), err, limit)
	}

	opts.Limit, opts.Timeout, opts.SaveDir = 0, idle, ""
	rest, _ := consume(t, opts)
	all := append(first.candids(), rest.candids()...)
	slices.Sort(all)
	if want := sortedCandids(alerts); !slices.Equal(all, want) {
		t.Errorf("the two runs read %d and %d alerts, together not each alert once", len(first.ztf), len(rest.ztf))
	}
}

// Two members of one group share the partitions and, between them, print
// every alert exactly once; stopping them commits everything printed.
func TestConsumeGroupMembers(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic, group, n = "shared", "pair", 60
	if err := b.CreateTopic(topic, partitions, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	opts := consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: group}
	var wg sync.WaitGroup
	outs := []*watch.Output{{}, {}}
	for _, out := range outs {
		wg.Go(func() {
			if _, err := consumer.Consume(ctx, opts, out); err != nil {
				t.Error(err)
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()

	// Produce only once both members hold partitions, so both get some.
	admin := kafkatest.Admin(t, b.Addr())
	poll(t, "both members to be assigned partitions", func() bool {
		ds, err := admin.DescribeConsumerGroups([]string{group})
		if err != nil || len(ds) != 1 || ds[0].State != "Stable" || len(ds[0].Members) != 2 {
			return false
		}
		for _, m := range ds[0].Members {
			if a, err := m.GetMemberAssignment(); err != nil || a == nil || len(a.Topics[topic]) == 0 {
				return false
			}
		}
		return true
	})
	alerts := ztfAlerts(t, n, 3)
	kafkatest.Produce(t, b.Addr(), topic, partitions, encodeZTF(t, alerts))
	poll(t, "every alert to be printed", func() bool {
		return strings.Count(outs[0].String(), "\n")+strings.Count(outs[1].String(), "\n") >= n
	})
	cancel()
	wg.Wait()

	var all []int64
	for i, out := range outs {
		ids := parseLines(t, []byte(out.String())).candids()
		if len(ids) == 0 {
			t.Errorf("member %d printed nothing", i)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	if want := sortedCandids(alerts); !slices.Equal(all, want) {
		t.Errorf("the members printed %d alerts between them, not each of the %d once", len(all), n)
	}
	if got := sum(kafkatest.Committed(t, b.Addr(), group, topic, partitions)); got != n {
		t.Errorf("committed offsets sum to %d, want %d", got, n)
	}
}

// poll waits for cond, for at most a minute.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !watch.Until(time.Minute, cond) {
		t.Fatalf("timed out waiting a minute for %s", what)
	}
}

// A topic mixing LSST wire-format alerts (resolved through an in-process
// registry) and ZTF containers is decoded message by message.
func TestConsumeLSSTAndDetection(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	codec, srv := registrytest.LSST(t)
	const topic, n = "lsst-alerts", 20
	la := lsstAlerts(t, n)
	values := encodeAll(t, codec, la)
	za := ztfAlerts(t, 5, 4)
	values = append(values, encodeZTF(t, za)...)
	// A schema id the registry does not know is the message's fault.
	values = append(values, framing.AppendWire(nil, 9999, []byte{2, 4}))
	msgs := kafkatest.Produce(t, b.Addr(), topic, partitions, values)

	save := t.TempDir()
	ls, st := consume(t, consumer.Options{Brokers: []string{b.Addr()}, Topic: topic,
		Timeout: idle, Registry: srv.URL(), SaveDir: save})
	if len(ls.lsst) != n || len(ls.ztf) != len(za) || len(ls.errors) != 1 {
		t.Fatalf("%d LSST, %d ZTF and %d error lines, want %d, %d and 1", len(ls.lsst), len(ls.ztf), len(ls.errors), n, len(za))
	}
	if st.Alerts != n+len(za) || st.Errors != 1 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(ls.errors[0].Error, "unknown schema id") {
		t.Errorf("error line %+v, want an unknown schema id", ls.errors[0])
	}
	byID := map[int64]consumer.LSSTSummary{}
	for _, s := range ls.lsst {
		byID[s.DiaSourceID] = s
	}
	for i, a := range la {
		s, ok := byID[a.DiaSourceID]
		if !ok {
			t.Errorf("diaSourceId %d missing", a.DiaSourceID)
			continue
		}
		d := a.DiaSource
		if s.Partition != msgs[i].Partition || s.Offset != msgs[i].Offset || s.Visit != d.Visit ||
			s.Detector != d.Detector || *s.MidpointMjdTai != d.MidpointMjdTai || *s.RA != d.RA ||
			!sameInt64(s.DiaObjectID, d.DiaObjectID) || !sameString(s.Band, d.Band) ||
			!sameFloat32(s.PsfFlux, d.PsfFlux) || !sameFloat32(s.Reliability, d.Reliability) {
			t.Errorf("diaSourceId %d: line %s does not match the alert", a.DiaSourceID, jsonOf(t, s))
		}
		if a.PrvDiaSources != nil && s.NPrv != len(*a.PrvDiaSources) {
			t.Errorf("diaSourceId %d: n_prv %d, want %d", a.DiaSourceID, s.NPrv, len(*a.PrvDiaSources))
		}
		got, err := os.ReadFile(filepath.Join(save, topic, fmt.Sprintf("%d.avro", a.DiaSourceID)))
		if err != nil || !bytes.Equal(got, msgs[i].Value) {
			t.Errorf("saved packet %d differs from the produced one (%v)", a.DiaSourceID, err)
		}
	}
}

// Without a registry an LSST message stops the consumer instead of
// becoming an error line, and its offset is not committed: committing it
// would skip the user's stream.
func TestConsumeLSSTWithoutRegistry(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic = "lsst-noreg"
	za := ztfAlerts(t, 1, 5)
	kafkatest.Produce(t, b.Addr(), topic, partitions, [][]byte{framing.AppendWire(nil, 1000, []byte{0})})
	kafkatest.Produce(t, b.Addr(), topic, partitions, encodeZTF(t, za)) // partition 0, after it
	_, _, err := consumeErr(t, consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: "noreg", Timeout: idle})
	if err == nil || !strings.Contains(err.Error(), "registry") {
		t.Fatalf("Consume error %v, want one asking for a registry", err)
	}
	if off, ok := kafkatest.Committed(t, b.Addr(), "noreg", topic, partitions)[0]; ok && off > 0 {
		t.Errorf("partition 0 committed up to %d, want nothing committed", off)
	}
}

// Cancelling ctx is a normal stop: Consume returns nil and commits what it
// printed.
func TestConsumeCancel(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic, n = "cancelled", 8
	kafkatest.Produce(t, b.Addr(), topic, partitions, encodeZTF(t, ztfAlerts(t, n, 6)))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &cancelAfter{n: n, cancel: cancel}
	st, err := consumer.Consume(ctx, consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: "c"}, w)
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != n {
		t.Errorf("%d alerts, want %d", st.Alerts, n)
	}
	if got := sum(kafkatest.Committed(t, b.Addr(), "c", topic, partitions)); got != n {
		t.Errorf("committed offsets sum to %d, want %d", got, n)
	}
}

// cancelAfter cancels once n lines were written, as a user's Ctrl-C would.
type cancelAfter struct {
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n--; w.n == 0 {
		w.cancel()
	}
	return len(p), nil
}

// A failing output stops the consumer with that error, and the line it
// could not write is not committed.
func TestConsumeOutputFails(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	const topic = "broken-pipe"
	kafkatest.Produce(t, b.Addr(), topic, partitions, encodeZTF(t, ztfAlerts(t, 3, 7)))
	boom := errors.New("broken pipe")
	_, err := consumer.Consume(t.Context(), consumer.Options{Brokers: []string{b.Addr()}, Topic: topic, Group: "bp", Timeout: idle},
		failingWriter{boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Consume error %v, want %v", err, boom)
	}
	if got := sum(kafkatest.Committed(t, b.Addr(), "bp", topic, partitions)); got != 0 {
		t.Errorf("committed offsets sum to %d, want 0", got)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestOptionsValidation(t *testing.T) {
	ok := consumer.Options{Brokers: []string{"localhost:9092"}, Topic: "t"}
	for name, mod := range map[string]func(*consumer.Options){
		"no brokers":   func(o *consumer.Options) { o.Brokers = nil },
		"bad broker":   func(o *consumer.Options) { o.Brokers = []string{"localhost"} },
		"no topic":     func(o *consumer.Options) { o.Topic = "" },
		"from":         func(o *consumer.Options) { o.From = "yesterday" },
		"limit":        func(o *consumer.Options) { o.Limit = -1 },
		"timeout":      func(o *consumer.Options) { o.Timeout = -time.Second },
		"survey":       func(o *consumer.Options) { o.Survey = "panstarrs" },
		"lsst, no reg": func(o *consumer.Options) { o.Survey = "lsst" },
		"bad registry": func(o *consumer.Options) { o.Registry = "localhost:8081" },
		"sasl (not yet)": func(o *consumer.Options) {
			o.Security = kafkaio.Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", Username: "u"}
		},
	} {
		o := ok
		mod(&o)
		if _, err := consumer.Consume(t.Context(), o, &bytes.Buffer{}); err == nil || !strings.HasPrefix(err.Error(), "consumer: ") {
			t.Errorf("%s: error %v, want a consumer: error", name, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in      string
		brokers []string
		topic   string
		err     string // substring; "" for success
	}{
		{"kafka://localhost:9092/ztf", []string{"localhost:9092"}, "ztf", ""},
		{"kafka://a:1,b:2/ztf_20261124_programid1", []string{"a:1", "b:2"}, "ztf_20261124_programid1", ""},
		{"KAFKA://alerts.example.org/small", []string{"alerts.example.org:9092"}, "small", ""},
		{"kafka://[::1]:19092/t.x-y", []string{"[::1]:19092"}, "t.x-y", ""},
		{"kafka://[::1]/t", []string{"[::1]:9092"}, "t", ""},
		{"kafka://a:1, b:2/t", nil, "", "not a host name"},
		{"localhost:9092/ztf", nil, "", "want kafka://"},
		{"http://localhost:9092/ztf", nil, "", "scheme"},
		{"kafka://localhost:9092", nil, "", "no topic"},
		{"kafka://localhost:9092/", nil, "", "no topic"},
		{"kafka:///ztf", nil, "", "no broker"},
		{"kafka://a:1,,b:2/t", nil, "", "empty broker"},
		{"kafka://a:99999/t", nil, "", "port"},
		{"kafka://a:x/t", nil, "", "port"},
		{"kafka://:9092/t", nil, "", "no host"},
		{"kafka://me@host:9092/t", nil, "", "--group"},
		{"kafka://host:9092/a/b", nil, "", "'/'"},
		{"kafka://host:9092/bad topic", nil, "", "not a Kafka topic"},
		{"kafka://host:9092/..", nil, "", "not a Kafka topic"},
		{"kafka://host:9092/t?x=1", nil, "", "query"},
	} {
		brokers, topic, err := consumer.ParseURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseURL(%q) error %v, want one mentioning %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(brokers, c.brokers) || topic != c.topic {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", c.in, brokers, topic, err, c.brokers, c.topic)
		}
	}
}

func sameInt64(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func sameString(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// sameFloat32 compares a line's value with the alert's, where the line has
// null for NaN.
func sameFloat32(line, alert *float32) bool {
	if alert == nil || *alert != *alert {
		return line == nil
	}
	return line != nil && *line == *alert
}
