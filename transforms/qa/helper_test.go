package qa_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/registry"
	"github.com/alertbeam/alertbeam/transforms/deadletter"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func init() {
	register.DoFn2x1[int64, func(kafkaio.Record), error](&genFn{})
	register.Emitter1[kafkaio.Record]()
	register.DoFn1x1[beam.X, error](&sinkFn{})
}

// nightSpec describes a generated night and its artefacts in fields a DoFn
// can carry; a negative visit means no such artefact.
type nightSpec struct {
	Survey      string
	Seed        int64
	Corrupt     int // records that are not alerts, sent with the first visit
	Visits      int
	PerVisit    int
	SpikeVisit  int
	SpikeFactor int
	TrailVisit  int
	TrailN      int
	StreakVisit int
	StreakN     int
}

func (n nightSpec) config() sim.Config {
	c := sim.Defaults(n.Survey)
	c.Seed = n.Seed
	c.Night = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	c.Visits, c.AlertsPerVisit = n.Visits, n.PerVisit
	c.NoCutouts = true
	if n.SpikeVisit >= 0 {
		c.Artefacts = append(c.Artefacts, sim.RateSpike{Visit: n.SpikeVisit, Factor: n.SpikeFactor})
	}
	if n.TrailVisit >= 0 {
		c.Artefacts = append(c.Artefacts, sim.BleedTrail{Visit: n.TrailVisit, N: n.TrailN})
	}
	if n.StreakVisit >= 0 {
		c.Artefacts = append(c.Artefacts, sim.Streak{Visit: n.StreakVisit, N: n.StreakN})
	}
	return c
}

// offset is where alert k of a visit sits in the test's one partition.
func offset(visit, k int) int64 { return int64(visit)*1_000_000 + int64(k) }

// truth is a generated night laid out by offset.
type truth struct {
	alerts map[int64]sim.Generated
}

var truths = struct {
	sync.Mutex
	m map[nightSpec]*truth
}{m: map[nightSpec]*truth{}}

func truthOf(t testing.TB, n nightSpec) *truth {
	t.Helper()
	truths.Lock()
	defer truths.Unlock()
	if tr, ok := truths.m[n]; ok {
		return tr
	}
	g, err := sim.New(n.config())
	if err != nil {
		t.Fatal(err)
	}
	tr := &truth{alerts: map[int64]sim.Generated{}}
	for v := range g.Visits() {
		for k, a := range g.Visit(v) {
			tr.alerts[offset(v, k)] = a
		}
	}
	truths.m[n] = tr
	return tr
}

func id(g sim.Generated) int64 {
	if g.ZTF != nil {
		return g.ZTF.Candid
	}
	return g.LSST.DiaSourceID
}

// ids returns the sorted ids of the alerts at offsets that pass keep.
func (tr *truth) ids(keep func(sim.Generated) bool) []int64 {
	var out []int64
	for _, a := range tr.alerts {
		if keep(a) {
			out = append(out, id(a))
		}
	}
	slices.Sort(out)
	return out
}

func (tr *truth) idsAt(offsets []int64) []int64 {
	out := make([]int64, 0, len(offsets))
	for _, off := range offsets {
		a, ok := tr.alerts[off]
		if !ok {
			panic(fmt.Sprintf("no alert at offset %d", off))
		}
		out = append(out, id(a))
	}
	slices.Sort(out)
	return out
}

// genFn generates one visit of a night as Kafka records, so the pipeline
// holds visit numbers rather than packets.
type genFn struct {
	Night nightSpec
	Dir   string // where to note when each visit was sent, for latencies

	codec *framing.Codec
}

func (fn *genFn) Setup() (err error) {
	fn.codec, err = framing.New(fn.Night.Survey, nil)
	return err
}

func (fn *genFn) ProcessElement(visit int64, emit func(kafkaio.Record)) error {
	g, err := sim.New(fn.Night.config())
	if err != nil {
		return err
	}
	for k, a := range g.Visit(int(visit)) {
		b, err := encode(fn.codec, a)
		if err != nil {
			return err
		}
		off := offset(int(visit), k)
		emit(kafkaio.Record{Source: kafkaio.Source{Topic: "night", Offset: off, Prev: off - 1}, Value: b})
	}
	if fn.Dir != "" {
		b, _ := json.Marshal(line{Offset: visit, At: time.Now()})
		if err := os.WriteFile(filepath.Join(fn.Dir, "sent."+strconv.FormatInt(visit, 10)), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if visit == 0 {
		for i := range fn.Night.Corrupt {
			off := corruptOffset + int64(i)
			emit(kafkaio.Record{Source: kafkaio.Source{Topic: "night", Offset: off, Prev: off - 1}, Key: []byte("bad"),
				Value: []byte("not an alert " + strconv.Itoa(i))})
		}
	}
	return nil
}

// corruptOffset is where nightSpec.Corrupt records sit.
const corruptOffset = 999_000_000

func encode(c *framing.Codec, a sim.Generated) ([]byte, error) {
	if a.ZTF != nil {
		return c.Encode(a.ZTF)
	}
	return c.Encode(a.LSST)
}

// sinkFn writes what reaches an output to a file per bundle, one JSON
// line per element; the test reads them after the run.
type sinkFn struct {
	Dir, Kind string
	lines     []string
}

func (fn *sinkFn) StartBundle() { fn.lines = nil }

func (fn *sinkFn) ProcessElement(v beam.X) error {
	l := sunk(v)
	l.At = time.Now()
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	fn.lines = append(fn.lines, string(b))
	return nil
}

func (fn *sinkFn) FinishBundle() error {
	if len(fn.lines) == 0 {
		return nil
	}
	f, err := os.CreateTemp(fn.Dir, fn.Kind+".*")
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strings.Join(fn.lines, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// line is what a sink writes of any element.
type line struct {
	Offset int64
	Units  int
	Topic  string
	Key    string
	Stage  string
	Value  string
	Flag   *flagLine
	At     time.Time // when the sink saw it
}

// flagLine is a qa.Flag without its JSON form, so tests see the Go values.
type flagLine struct {
	Check, Kind, Key, Exposure, Action string
	Time                               time.Time
	Count, Kept                        int
	Threshold, Median                  float64
	Members                            []int64
	Units                              []int32
	Length, Width, Radius              float64
	at                                 time.Time
}

func sunk(v any) line {
	switch e := v.(type) {
	case kafkaio.Record:
		return line{Offset: e.Offset, Topic: e.Topic, Value: shortSum(e.Value)}
	case kafkaio.Ack:
		return line{Offset: e.Offset, Units: e.Units, Topic: e.Topic}
	case kafkaio.Message:
		l := line{Offset: e.Source.Offset, Units: e.Units, Topic: e.Topic, Key: string(e.Key)}
		for _, h := range e.Headers {
			if h.Key == deadletter.HeaderStage {
				l.Stage = string(h.Value)
			}
		}
		if e.Source.Topic == "" {
			l.Offset = -1
			l.Value = string(e.Value)
		}
		return l
	case qa.Flag:
		return line{Flag: &flagLine{Check: e.Check, Kind: e.Kind, Key: e.Key, Exposure: e.Exposure, Action: e.Action,
			Time: e.Time, Count: e.Count, Kept: e.Kept, Threshold: e.Threshold, Median: e.Median,
			Members: e.Members, Units: e.Units, Length: e.Length, Width: e.Width, Radius: e.Radius}}
	}
	panic(fmt.Sprintf("sink of %T", v))
}

// run is what one pipeline run produced, by output.
type run struct {
	kept, acks, dead, qa []line
	flags                []flagLine
	flagsAt              []time.Time
	sent                 map[int64]time.Time // visit → when the generator finished sending it
	took                 time.Duration
}

// sinkAll attaches sinks to every output of Apply.
func sinkAll(s beam.Scope, dir string, out qa.Outputs) {
	beam.ParDo0(s, &sinkFn{Dir: dir, Kind: "kept"}, out.Kept)
	beam.ParDo0(s, &sinkFn{Dir: dir, Kind: "acks"}, out.Acks)
	beam.ParDo0(s, &sinkFn{Dir: dir, Kind: "dead"}, out.Dead)
	beam.ParDo0(s, &sinkFn{Dir: dir, Kind: "qa"}, out.QA)
	beam.ParDo0(s, &sinkFn{Dir: dir, Kind: "flags"}, out.Flags)
}

func execute(t *testing.T, p *beam.Pipeline, dir string) run {
	t.Helper()
	start := time.Now()
	if _, err := runners.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	r := run{took: time.Since(start), sent: map[int64]time.Time{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, path := range files {
		base := filepath.Base(path)
		kind := base[:strings.LastIndex(base, ".")]
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "kept":
				r.kept = append(r.kept, l)
			case "acks":
				r.acks = append(r.acks, l)
			case "dead":
				r.dead = append(r.dead, l)
			case "qa":
				r.qa = append(r.qa, l)
			case "flags":
				r.flags = append(r.flags, *l.Flag)
				r.flagsAt = append(r.flagsAt, l.At)
			case "sent":
				r.sent[l.Offset] = l.At
			}
		}
		f.Close()
	}
	for i := range r.flags {
		r.flags[i].at = r.flagsAt[i]
	}
	slices.SortFunc(r.flags, func(a, b flagLine) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Check+a.Kind, b.Check+b.Kind)
	})
	return r
}

// runNight runs Apply over a generated night on the direct runner, with
// the checks of spec and the config changes of opts.
func runNight(t *testing.T, n nightSpec, spec string, opts ...func(*qa.Config)) run {
	t.Helper()
	rate, spatial, err := qa.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	cfg := qa.Config{Survey: n.Survey, Rate: rate, Spatial: spatial, QATopic: "qa-test", DeadLetterTopic: "dlq"}
	for _, o := range opts {
		o(&cfg)
	}
	if n.Survey == schemas.LSST {
		srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		cfg.Registry = srv.URL()
	}
	dir := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	recs := beam.ParDo(s, &genFn{Night: n, Dir: dir}, visitStream(t, s, n))
	out, err := qa.Apply(s, recs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sinkAll(s, dir, out)
	r := execute(t, p, dir)
	t.Logf("%s night of %d visits: pipeline ran in %v", n.Survey, n.Visits, r.took.Round(time.Millisecond))
	logLatency(t, truthOf(t, n), r)
	return r
}

// logLatency reports, per visit, the wall-clock time from the generator
// finishing the visit to the last of its alerts leaving QA (kept or
// acknowledged), and to each flag: what a decision costs on prism once
// the watermark passes (the stream releases a window's visits, then
// moves the watermark past it). Reported, not asserted.
func logLatency(t *testing.T, tr *truth, r run) {
	t.Helper()
	last := map[int64]time.Time{}
	for _, ls := range [][]line{r.kept, r.acks} {
		for _, l := range ls {
			v := l.Offset / 1_000_000
			if l.At.After(last[v]) {
				last[v] = l.At
			}
		}
	}
	var out []time.Duration
	for v, at := range last {
		if sent, ok := r.sent[v]; ok {
			out = append(out, at.Sub(sent))
		}
	}
	var flags []time.Duration
	for _, f := range r.flags {
		for v := range r.sent {
			if flagKey(tr, int(v)) == f.Exposure {
				flags = append(flags, f.at.Sub(r.sent[v]))
			}
		}
	}
	if len(out) == 0 {
		return
	}
	slices.Sort(out)
	slices.Sort(flags)
	t.Logf("sent → last alert out: median %v, max %v over %d visits; sent → flag: %v",
		out[len(out)/2].Round(time.Millisecond), out[len(out)-1].Round(time.Millisecond), len(out), roundAll(flags))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// visitStream releases the visits of a night window by window, each at
// its observation time, and moves the watermark to the end of a window
// once its visits are in, so windows close one after another (and the
// runner holds a window's packets, not the night's). Prism gives a ParDo's
// main-input elements an empty side input when they arrive before their
// window's side input is ready (see the package documentation), so no
// visit of the next window is released before the watermark passes the
// current one.
func visitStream(t *testing.T, s beam.Scope, n nightSpec) beam.PCollection {
	t.Helper()
	g, err := sim.New(n.config())
	if err != nil {
		t.Fatal(err)
	}
	window := qa.DefaultWindow.Milliseconds()
	ts := teststream.NewConfig()
	for v := range g.Visits() {
		at := g.VisitTime(v).UnixMilli()
		if err := ts.AddElements(at, int64(v)); err != nil {
			t.Fatal(err)
		}
		end := (at/window + 1) * window
		if v+1 == g.Visits() || g.VisitTime(v+1).UnixMilli() >= end {
			if err := ts.AdvanceWatermark(end); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := ts.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	return teststream.Create(s, ts)
}

func offsets(ls []line) []int64 {
	out := make([]int64, len(ls))
	for i, l := range ls {
		out[i] = l.Offset
	}
	return out
}

// diff describes how two sorted id sets differ, "" when equal.
func diff(got, want []int64) string {
	var extra, lost []int64
	for _, v := range got {
		if _, ok := slices.BinarySearch(want, v); !ok {
			extra = append(extra, v)
		}
	}
	for _, v := range want {
		if _, ok := slices.BinarySearch(got, v); !ok {
			lost = append(lost, v)
		}
	}
	if len(extra) == 0 && len(lost) == 0 && len(got) == len(want) {
		return ""
	}
	head := func(s []int64) []int64 { return s[:min(len(s), 5)] }
	return fmt.Sprintf("%d ids, want %d: %d unexpected (e.g. %v), %d missing (e.g. %v)", len(got), len(want), len(extra), head(extra), len(lost), head(lost))
}

func sortedIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// flagKey is the exposure key QA gives visit v of a generated night.
func flagKey(tr *truth, v int) string {
	for off, a := range tr.alerts {
		if int(off/1_000_000) == v {
			if a.ZTF != nil {
				return filter.OfZTF(a.ZTF).Visit().Key()
			}
			return filter.OfLSST(a.LSST).Visit().Key()
		}
	}
	return ""
}

func shortSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
