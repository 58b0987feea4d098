package filter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func init() {
	register.Function2x0(capRefOf)
	register.Emitter3[beam.EventTime, string, capRef]()
	register.DoFn8x1[beam.EventTime, state.Provider, timers.Provider, string, capRef, func([]kafkaio.Source), func(kafkaio.Ack), func(CapStat), error](&capGateFn{})
	register.Emitter1[[]kafkaio.Source]()
	register.Emitter1[CapStat]()
	register.DoFn1x1[kafkaio.Missing, kafkaio.Message](&lostFn{})
	beam.RegisterType(reflect.TypeOf((*Scored)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*CapStat)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*capRef)(nil)).Elem())
}

// Scored is what the cap ranks an alert by.
type Scored struct {
	ID    int64
	Score float64
}

// Select chooses which alerts of one visit a cap of n keeps: the n with the
// highest Score, ties broken by the lower ID, a NaN score ranking below
// every number. An ID listed twice (a record delivered twice) counts once.
// keep is in rank order, capped in increasing ID order. The choice depends
// only on the set of alerts, never on their order, so every run and every
// replay caps the same alerts.
func Select(alerts []Scored, n int) (keep, capped []int64) {
	best := map[int64]float64{}
	for _, a := range alerts {
		s := a.Score
		if math.IsNaN(s) {
			s = math.Inf(-1)
		}
		if prev, ok := best[a.ID]; !ok || s > prev {
			best[a.ID] = s
		}
	}
	ranked := make([]Scored, 0, len(best))
	for id, s := range best {
		ranked = append(ranked, Scored{ID: id, Score: s})
	}
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].Score != ranked[j].Score {
			return ranked[i].Score > ranked[j].Score
		}
		return ranked[i].ID < ranked[j].ID
	})
	n = max(n, 0)
	for i, r := range ranked {
		if i < n {
			keep = append(keep, r.ID)
		} else {
			capped = append(capped, r.ID)
		}
	}
	sort.Slice(capped, func(i, j int) bool { return capped[i] < capped[j] })
	return keep, capped
}

// CapStat reports one visit of one capped output.
type CapStat struct {
	Output string
	Visit  string
	Alerts int // distinct alerts the filter kept in the visit
	Capped int // how many of them the cap dropped
}

// DefaultCapWindow is the event-time window a visit's group closes in.
const DefaultCapWindow = time.Minute

// Reread reads records back by Source: refs is a PCollection of
// []kafkaio.Source; records holds a kafkaio.Record for each ref, with the
// ref as its Source, and missing a kafkaio.Missing for each ref that can
// no longer be read. kafkaio.Fetch and archive.Fetch have this shape.
type Reread func(s beam.Scope, refs beam.PCollection) (records, missing beam.PCollection)

// CapConfig configures Cap.
type CapConfig struct {
	Name   string        // the output's name, for counters and CapStats
	N      int           // alerts kept per visit (Rubin: 20)
	Window time.Duration // default DefaultCapWindow
	// Spec is the output's filter spec and Topic its topic: a kept alert
	// read back goes through the filter again (it may transform the
	// alert) and is addressed to Topic.
	Spec, Topic      string
	Survey, Registry string
	DeadLetterTopic  string
	Units            int // ack units an alert owes this output
	// Reread reads the kept alerts back once their visit is decided.
	Reread Reread
	// Catalogs are the crossmatch catalogs the filter reads
	// (Config.Catalogs): the second pass needs them as the first did.
	Catalogs []string
	// GW is the notice topic its gw filters read (Config.GW).
	GW *igwn.Source
	// Version is the definition version kept alerts are stamped with
	// (Config.Versions).
	Version int64
}

func (c CapConfig) withDefaults() CapConfig {
	c.Window = cmp.Or(c.Window, DefaultCapWindow)
	return c
}

// Validate reports what Cap would return for c: a negative N or Window, or
// no Reread.
func (c CapConfig) Validate() error {
	if c.N < 0 || c.Window < 0 {
		return errors.New("filter: Cap with a negative N or Window")
	}
	if c.Reread == nil {
		return errors.New("filter: a per-visit cap needs Reread, to read kept alerts back once their visit is decided")
	}
	return nil
}

// CapOutputs are what Cap produces, all in the global window.
type CapOutputs struct {
	Kept  beam.PCollection // kafkaio.Message
	Acks  beam.PCollection // kafkaio.Ack for the capped alerts
	Dead  beam.PCollection // kafkaio.Message: kept alerts that could not be read back, or that the filter failed on
	Stats beam.PCollection // CapStat, one per visit
}

// Cap is TryCap that panics where it would return an error, as
// Beam's transforms do (beam.ParDo; beam.TryParDo returns it).
func Cap(s beam.Scope, cfg CapConfig, kept beam.PCollection) CapOutputs {
	return must(TryCap(s, cfg, kept))
}

// TryCap keeps at most N alerts per visit of a filter's output (a PCollection
// of Kept), choosing them with Select: the highest signal-to-noise ratio
// (Alert.SNR), ties by the lower id.
//
// Packets are never held or shuffled. Each kept alert's id, score and
// Source wait, keyed by visit, in a gate (state in the global window)
// until the watermark passes the end of the fixed event-time window of
// cfg.Window its observation time falls in; then the gate acknowledges the
// alerts over the cap, and cfg.Reread reads the others back, which go
// through the filter again (it may transform them) to the output. So the
// cap is exact however far alerts run ahead of the watermark, on a live
// read as on a bounded one. All alerts of a visit share one observation
// time (ZTF jd, LSST midpointMjdTai), so a visit never straddles windows.
// Read the stream with the survey's observation-time event-time policy:
// a visit is then decided once a later visit's alerts move the watermark
// past its window (pipelines.Filter does this). An alert that arrives
// after its visit was decided (late) is decided at once, with the other
// late alerts of its visit then waiting, under the same cap: it is never
// dropped or held.
func TryCap(s beam.Scope, cfg CapConfig, kept beam.PCollection) (CapOutputs, error) {
	s = s.Scope("filter.Cap")
	if err := cfg.Validate(); err != nil {
		return CapOutputs{}, err
	}
	cfg = cfg.withDefaults()
	refs := beam.ParDo(s, capRefOf, kept)
	batches, capped, stats := beam.ParDo3(s, &capGateFn{N: cfg.N, Window: cfg.Window, Name: cfg.Name,
		Decide: timers.InEventTime("decide"), Waiting: state.MakeBagState[capRef]("waiting")},
		beam.WindowInto(s, window.NewGlobalWindows(), refs))
	records, missing := cfg.Reread(s, batches)
	again := &applyFn{Survey: cfg.Survey, Registry: cfg.Registry, Specs: []string{cfg.Spec}, Topics: []string{cfg.Topic},
		DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units, Again: true, Catalogs: cfg.Catalogs, GW: cfg.GW, Versions: []int64{cfg.Version}}
	keptAgain, acks, dead := beam.ParDo3(s, again, records)
	lost := beam.ParDo(s, &lostFn{DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units}, missing)
	global := window.NewGlobalWindows()
	return CapOutputs{
		Kept:  beam.WindowInto(s, global, beam.ParDo(s, keptMessage, keptAgain)),
		Acks:  beam.WindowInto(s, global, beam.Flatten(s, capped, acks)),
		Dead:  beam.WindowInto(s, global, beam.Flatten(s, dead, lost)),
		Stats: stats,
	}, nil
}

// capRef is what the cap's gate holds of a kept alert: no packet.
type capRef struct {
	ID    int64
	Score float64
	Src   kafkaio.Source
	Units int
}

// capRefOf times a kept alert by its observation time and keeps only what
// the cap needs; the packet stays behind.
func capRefOf(k Kept, emit func(beam.EventTime, string, capRef)) {
	emit(mtime.FromTime(k.Time), k.Visit, capRef{ID: k.ID, Score: k.Score, Src: k.Msg.Source, Units: k.Msg.Units})
}

// capGateFn holds a visit's kept alerts until the watermark passes the end
// of its window, then decides the visit.
type capGateFn struct {
	N       int
	Window  time.Duration
	Name    string
	Waiting state.Bag[capRef]
	Decide  timers.EventTime

	capped beam.Counter
}

func (fn *capGateFn) Setup() {
	fn.capped = beam.NewCounter("alertbeam", "filter_"+fn.Name+"_capped")
}

func (fn *capGateFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, r capRef,
	_ func([]kafkaio.Source), _ func(kafkaio.Ack), _ func(CapStat)) error {
	end := WindowEnd(ts, fn.Window)
	fn.Decide.Set(tp, end.ToTime(), timers.WithOutputTimestamp(end.Subtract(time.Millisecond).ToTime()))
	return fn.Waiting.Add(sp, r)
}

// MaxReadBack bounds a read-back batch: a Rubin visit can keep 10,000
// alerts.
const MaxReadBack = 1000

// ReadBack emits srcs to a Reread in batches of at most MaxReadBack.
func ReadBack(srcs []kafkaio.Source, emit func([]kafkaio.Source)) {
	for len(srcs) > 0 {
		n := min(len(srcs), MaxReadBack)
		emit(srcs[:n:n])
		srcs = srcs[n:]
	}
}

func (fn *capGateFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, visit string, _ timers.Context,
	keep func([]kafkaio.Source), acks func(kafkaio.Ack), stats func(CapStat)) error {
	refs, _, err := fn.Waiting.Read(sp)
	if err != nil {
		return fmt.Errorf("filter: reading the cap's gate of %s: %w", visit, err)
	}
	if len(refs) == 0 {
		return nil
	}
	chosen, alerts, capped := decideVisit(refs, fn.N, acks)
	back := make([]kafkaio.Source, len(chosen))
	for i, r := range chosen {
		back[i] = r.Src
	}
	ReadBack(back, keep)
	fn.capped.Inc(ctx, int64(capped))
	stats(CapStat{Output: fn.Name, Visit: visit, Alerts: alerts, Capped: capped})
	return fn.Waiting.Clear(sp)
}

// gated is what the cap's gate and the live cap's gate hold of a kept
// alert (capRef, liveRef): what deciding its visit needs.
type gated interface{ ref() capRef }

func (r capRef) ref() capRef { return r }

// decideVisit decides a visit under a cap of n: the n alerts of highest
// score (Select) are returned, once each, in the order they waited; the
// others are acknowledged. alerts and capped count distinct alerts, for
// CapStat.
func decideVisit[R gated](refs []R, n int, acks func(kafkaio.Ack)) (chosen []R, alerts, capped int) {
	scored := make([]Scored, len(refs))
	for i, r := range refs {
		scored[i] = Scored{ID: r.ref().ID, Score: r.ref().Score}
	}
	kept, over := Select(scored, n)
	keep := make(map[int64]bool, len(kept))
	for _, id := range kept {
		keep[id] = true
	}
	for _, r := range refs {
		c := r.ref()
		if !keep[c.ID] {
			// Over the cap, or a second delivery of a chosen alert:
			// either way this record is done for this output.
			acks(kafkaio.AckOf(c.Src, c.Units))
			continue
		}
		delete(keep, c.ID)
		chosen = append(chosen, r)
	}
	return chosen, len(kept) + len(over), len(over)
}

// WindowEnd is the end of the fixed event-time window of size that ts
// falls in (windows start at multiples of size from the Unix epoch, as
// Beam's fixed windows do; floor division before it).
func WindowEnd(ts beam.EventTime, size time.Duration) beam.EventTime {
	ms := size.Milliseconds()
	m := int64(ts) % ms
	if m < 0 {
		m += ms
	}
	return beam.EventTime(int64(ts) - m + ms)
}

// lostFn dead-letters a kept alert that could not be read back.
type lostFn struct {
	DeadLetterTopic string
	Units           int
}

func (fn *lostFn) ProcessElement(m kafkaio.Missing) kafkaio.Message {
	err := fmt.Errorf("reading the capped output's alert back: %s", m.Err)
	return deadletter.New(kafkaio.Record{Source: m.Source}, Stage+"/cap", err).Message(fn.DeadLetterTopic, fn.Units)
}
