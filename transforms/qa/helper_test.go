package qa_test

import (
	"context"
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

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/linefile"
	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
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

// offset names alert k of a visit in the tests' expectations.
func offset(visit, k int) int64 { return int64(visit)*1_000_000 + int64(k) }

// nightTopic holds a night on the embedded broker: partition 0 the corrupt
// records, partition v+1 visit v's alerts in order, so a Source maps back
// to its offset(v, k).
const nightTopic = "night"

func sourceOf(visit, k int) kafkaio.Source {
	return kafkaio.Source{Topic: nightTopic, Partition: int32(visit + 1), Offset: int64(k), Prev: int64(k - 1)}
}

func offsetOf(s kafkaio.Source) int64 {
	if s.Partition == 0 {
		return corruptOffset + s.Offset
	}
	return offset(int(s.Partition)-1, int(s.Offset))
}

// serveNight puts a night on an embedded broker where sourceOf says, so
// that QA reads kept alerts back from it, and returns how.
func serveNight(t testing.TB, n nightSpec) qa.Reread {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: map[string]int32{nightTopic: int32(n.Visits + 1)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	prod := kafkatest.Producer(t, b.Addr(), func(sc *sarama.Config) { sc.Producer.Partitioner = sarama.NewManualPartitioner })
	defer prod.Close()
	var batch []*sarama.ProducerMessage
	send := func() {
		t.Helper()
		if err := prod.SendMessages(batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n.Corrupt {
		batch = append(batch, &sarama.ProducerMessage{Topic: nightTopic, Partition: 0, Key: sarama.StringEncoder("bad"),
			Value: sarama.ByteEncoder(corruptValue(i))})
	}
	g := simtest.New(t, n.config())
	codec, err := framing.New(n.Survey, nil)
	if err != nil {
		t.Fatal(err)
	}
	for v := range g.Visits() {
		for _, a := range g.Visit(v) {
			val, err := encode(codec, a)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, &sarama.ProducerMessage{Topic: nightTopic, Partition: int32(v + 1), Value: sarama.ByteEncoder(val)})
			if len(batch) == 200 {
				send()
			}
		}
	}
	if len(batch) > 0 {
		send()
	}
	return pipelines.RereadKafka(kafkaio.Config{Brokers: []string{b.Addr()}})
}

func corruptValue(i int) []byte { return []byte("not an alert " + strconv.Itoa(i)) }

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
	g := simtest.New(t, n.config())
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

// genFn generates one visit of a night as the Kafka records serveNight
// put on the broker, so the test stream holds visit numbers rather than
// packets.
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
		emit(kafkaio.Record{Source: sourceOf(int(visit), k), Value: b})
	}
	if fn.Dir != "" {
		b, _ := json.Marshal(line{Offset: visit, At: time.Now()})
		if err := os.WriteFile(filepath.Join(fn.Dir, "sent."+strconv.FormatInt(visit, 10)), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if visit == 0 {
		for i := range fn.Night.Corrupt {
			emit(kafkaio.Record{Source: kafkaio.Source{Topic: nightTopic, Offset: int64(i), Prev: int64(i - 1)}, Key: []byte("bad"),
				Value: corruptValue(i)})
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

func (fn *sinkFn) FinishBundle() error { return linefile.Write(fn.Dir, fn.Kind, fn.lines) }

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
		return line{Offset: offsetOf(e.Source), Topic: e.Topic, Value: testdiff.ShortSum(e.Value)}
	case kafkaio.Ack:
		return line{Offset: offsetOf(e.Source), Units: e.Units, Topic: e.Topic}
	case kafkaio.Message:
		l := line{Offset: offsetOf(e.Source), Units: e.Units, Topic: e.Topic, Key: string(e.Key)}
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
	files, err := linefile.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for kind, lines := range files {
		for _, text := range lines {
			var l line
			if err := json.Unmarshal([]byte(text), &l); err != nil {
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
	cfg := qa.Config{Survey: n.Survey, Rate: rate, Spatial: spatial, QATopic: "qa-test", DeadLetterTopic: "dlq", Reread: serveNight(t, n)}
	for _, o := range opts {
		o(&cfg)
	}
	if n.Survey == schemas.LSST {
		cfg.Registry = registrytest.Serve(t).URL()
	}
	dir := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	recs := beam.ParDo(s, &genFn{Night: n, Dir: dir}, visitStream(t, s, n))
	out, err := qa.TryApply(s, cfg, recs)
	if err != nil {
		t.Fatal(err)
	}
	sinkAll(s, dir, out)
	r := execute(t, p, dir)
	t.Logf("%s night of %d visits: pipeline ran in %v", n.Survey, n.Visits, r.took.Round(time.Millisecond))
	logLatency(t, n, truthOf(t, n), r)
	return r
}

// logLatency reports, per visit, the wall-clock time from the moment the
// stream moved the watermark past the visit's window (just after it sent
// the next window's first visit, see visitStream) to the last of the
// visit's alerts leaving QA (kept, after being read back from the broker,
// or acknowledged), and to each flag. Reported, not asserted.
func logLatency(t *testing.T, n nightSpec, tr *truth, r run) {
	t.Helper()
	closer := closingVisits(t, n)
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
		if closed, ok := r.sent[closer[v]]; ok && v < int64(len(closer)) {
			out = append(out, at.Sub(closed))
		}
	}
	var flags []time.Duration
	for _, f := range r.flags {
		for v := range r.sent {
			if flagKey(tr, int(v)) == f.Exposure {
				flags = append(flags, f.at.Sub(r.sent[closer[v]]))
			}
		}
	}
	if len(out) == 0 {
		return
	}
	slices.Sort(out)
	slices.Sort(flags)
	t.Logf("window closed → visit's last alert out: median %v, max %v over %d visits; → flag: %v",
		out[len(out)/2].Round(time.Millisecond), out[len(out)-1].Round(time.Millisecond), len(out), roundAll(flags))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// visitStream releases the visits of a night, each at its observation
// time, and moves the watermark to the end of a window only once the
// first visit of the next window is in: alerts run ahead of the
// watermark, as they do on a live stream, so the gate must hold them
// until their window's decisions are out.
func visitStream(t *testing.T, s beam.Scope, n nightSpec) beam.PCollection {
	t.Helper()
	g := simtest.New(t, n.config())
	closer := closingVisits(t, n)
	ts := teststream.NewConfig()
	for v := range g.Visits() {
		if err := ts.AddElements(g.VisitTime(v).UnixMilli(), int64(v)); err != nil {
			t.Fatal(err)
		}
		// Close every earlier window this visit closes.
		for u := range v {
			if closer[u] == int64(v) && (u+1 == v || closer[u+1] != int64(v)) {
				if err := ts.AdvanceWatermark(windowEnd(g.VisitTime(u))); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := ts.AdvanceWatermarkToInfinity(); err != nil {
		t.Fatal(err)
	}
	return teststream.Create(s, ts)
}

// windowEnd is the end of the QA window t falls in, Unix ms.
func windowEnd(t time.Time) int64 {
	w := qa.DefaultWindow.Milliseconds()
	return (t.UnixMilli()/w + 1) * w
}

// closingVisits maps each visit to the visit after which visitStream moves
// the watermark past the visit's window: the first visit of the next
// window, or the last visit for the last window.
func closingVisits(t testing.TB, n nightSpec) []int64 {
	t.Helper()
	g := simtest.New(t, n.config())
	closer := make([]int64, g.Visits())
	for v := range closer {
		closer[v] = int64(g.Visits() - 1)
		for u := v + 1; u < g.Visits(); u++ {
			if windowEnd(g.VisitTime(u)) != windowEnd(g.VisitTime(v)) {
				closer[v] = int64(u)
				break
			}
		}
	}
	return closer
}

func offsets(ls []line) []int64 {
	out := make([]int64, len(ls))
	for i, l := range ls {
		out[i] = l.Offset
	}
	return out
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
