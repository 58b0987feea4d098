package filter

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
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
	register.Function2x0(liveRefOf)
	register.Function2x0(keptUncapped)
	register.Emitter3[beam.EventTime, string, liveRef]()
	register.DoFn8x1[beam.EventTime, state.Provider, timers.Provider, string, liveRef, func(liveBatch), func(kafkaio.Ack), func(CapStat), error](&liveGateFn{})
	register.Emitter1[liveBatch]()
	register.DoFn5x1[context.Context, liveBatch, func(kafkaio.Message), func(kafkaio.Ack), func(kafkaio.Message), error](&liveReadBackFn{})
	beam.RegisterType(reflect.TypeOf((*liveRef)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*liveBatch)(nil)).Elem())
}

// The per-visit cap of live definitions (Definition.CapPerVisit) works as
// Cap does, with what a definition is known only at run time carried in
// the elements: a capped live filter's kept alerts wait as ids, keyed by
// filter, version and visit, until the watermark passes their visit's
// observation-time window; then the N of highest S/N are read back from
// Kafka by offset, run through that version's filter again and published.
// The packets are never held or shuffled.

// keptUncapped is a kept alert's message, unless a capped live filter kept
// it: that one waits for its visit to be decided.
func keptUncapped(k Kept, emit func(kafkaio.Message)) {
	if k.LiveCap == 0 {
		emit(k.Msg)
	}
}

// liveRef is what the live cap's gate holds of a kept alert.
type liveRef struct {
	ID      int64
	Score   float64
	Src     kafkaio.Source
	Units   int
	N       int
	Name    string
	Version int64
	Spec    string
	Topic   string
}

func (r liveRef) ref() capRef { return capRef{ID: r.ID, Score: r.Score, Src: r.Src, Units: r.Units} }

// liveBatch is one decided (filter, version, visit): the alerts to read
// back and publish.
type liveBatch struct {
	Name    string
	Version int64
	Spec    string
	Topic   string
	Refs    []liveRef
}

// liveRefOf times a capped live filter's kept alert by its observation
// time and keys it by filter, version and visit.
func liveRefOf(k Kept, emit func(beam.EventTime, string, liveRef)) {
	if k.LiveCap == 0 {
		return
	}
	key := k.LiveName + "\x00" + strconv.FormatInt(k.LiveVersion, 10) + "\x00" + k.Visit
	emit(mtime.FromTime(k.Time), key, liveRef{ID: k.ID, Score: k.Score, Src: k.Msg.Source, Units: k.Msg.Units, N: k.LiveCap,
		Name: k.LiveName, Version: k.LiveVersion, Spec: k.LiveSpec, Topic: k.Msg.Topic})
}

// liveCap caps the capped live filters' kept alerts (Kept with LiveCap
// set) per visit and publishes the alerts kept. Its outputs are in the
// global window: messages, acks of the alerts over the cap, dead letters.
func liveCap(s beam.Scope, kept beam.PCollection, cfg Config) (msgs, acks, dead beam.PCollection) {
	s = s.Scope("filter.LiveCap")
	size := cfg.CapWindow
	if size <= 0 {
		size = DefaultCapWindow
	}
	refs := beam.ParDo(s, liveRefOf, kept)
	batches, capped, _ := beam.ParDo3(s, &liveGateFn{Window: size,
		Decide: timers.InEventTime("decide"), Waiting: state.MakeBagState[liveRef]("waiting")},
		beam.WindowInto(s, window.NewGlobalWindows(), refs))
	msgs, readAcks, dead := beam.ParDo3(s, &liveReadBackFn{Conn: cfg.Definitions.Conn, Survey: cfg.Survey, Registry: cfg.Registry,
		DeadLetterTopic: cfg.DeadLetterTopic, Catalogs: cfg.Catalogs, GW: cfg.GW}, batches)
	return msgs, beam.Flatten(s, capped, readAcks), dead
}

// liveGateFn is capGateFn for live definitions: each key's cap is its
// alerts' N.
type liveGateFn struct {
	Window  time.Duration
	Waiting state.Bag[liveRef]
	Decide  timers.EventTime
}

func (fn *liveGateFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, r liveRef,
	_ func(liveBatch), _ func(kafkaio.Ack), _ func(CapStat)) error {
	end := WindowEnd(ts, fn.Window)
	fn.Decide.Set(tp, end.ToTime(), timers.WithOutputTimestamp(end.Subtract(time.Millisecond).ToTime()))
	return fn.Waiting.Add(sp, r)
}

func (fn *liveGateFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, key string, _ timers.Context,
	keep func(liveBatch), acks func(kafkaio.Ack), stats func(CapStat)) error {
	refs, _, err := fn.Waiting.Read(sp)
	if err != nil {
		return fmt.Errorf("filter: reading the live cap's gate of %q: %w", key, err)
	}
	if len(refs) == 0 {
		return nil
	}
	b := liveBatch{Name: refs[0].Name, Version: refs[0].Version, Spec: refs[0].Spec, Topic: refs[0].Topic}
	var alerts, capped int
	b.Refs, alerts, capped = decideVisit(refs, refs[0].N, acks)
	if len(b.Refs) > 0 {
		keep(b)
	}
	visit := key[strings.LastIndexByte(key, 0)+1:]
	stats(CapStat{Output: b.Name, Visit: visit, Alerts: alerts, Capped: capped})
	return fn.Waiting.Clear(sp)
}

// liveReadBackFn reads a decided batch's alerts back from Kafka and runs
// them through their definition's filter again (it may transform them).
type liveReadBackFn struct {
	Conn             kafkaio.Config
	Survey, Registry string
	DeadLetterTopic  string
	Catalogs         []string
	GW               *igwn.Source

	inner    *applyFn // decodes, filters, stamps, as the first pass does
	client   sarama.Client
	consumer sarama.Consumer
	filters  map[string]*Filter // by name and spec
}

func (fn *liveReadBackFn) Setup() error {
	fn.inner = &applyFn{Survey: fn.Survey, Registry: fn.Registry, DeadLetterTopic: fn.DeadLetterTopic, Again: true, Catalogs: fn.Catalogs, GW: fn.GW}
	if err := fn.inner.Setup(); err != nil {
		return err
	}
	sc, err := kafkaio.SaramaConfig(fn.Conn)
	if err != nil {
		return err
	}
	if fn.client, err = sarama.NewClient(fn.Conn.Brokers, sc); err != nil {
		return fmt.Errorf("filter: live cap: %w", err)
	}
	if fn.consumer, err = sarama.NewConsumerFromClient(fn.client); err != nil {
		return fmt.Errorf("filter: live cap: %w", err)
	}
	fn.filters = map[string]*Filter{}
	return nil
}

func (fn *liveReadBackFn) Teardown() {
	if fn.consumer != nil {
		fn.consumer.Close()
	}
	if fn.client != nil {
		fn.client.Close()
	}
}

// readBackTimeout bounds the wait for one record read back.
const readBackTimeout = time.Minute

func (fn *liveReadBackFn) ProcessElement(ctx context.Context, b liveBatch, emit func(kafkaio.Message), acks func(kafkaio.Ack), dead func(kafkaio.Message)) error {
	f, ok := fn.filters[b.Name+"\x00"+b.Spec]
	if !ok {
		// It checked when the first pass took it in: the same env.
		var err error
		f, err = DefinitionEnv{Survey: fn.Survey, Catalogs: fn.Catalogs, GW: fn.GW != nil}.Check(b.Name, Definition{Spec: b.Spec, Version: b.Version})
		if err != nil {
			return fmt.Errorf("filter: live cap of %s version %d: %w", b.Name, b.Version, err)
		}
		fn.filters[b.Name+"\x00"+b.Spec] = f
	}
	c := fn.inner.counters(b.Name)
	for _, ref := range b.Refs {
		r, ok, err := kafkaio.ReadAt(ctx, fn.consumer, ref.Src, readBackTimeout)
		if err != nil {
			return err
		}
		if !ok {
			dead(deadletter.New(kafkaio.Record{Source: ref.Src}, Stage+"/cap", fmt.Errorf("reading the capped output's alert back: %s holds no record any more", ref.Src)).
				Message(fn.DeadLetterTopic, ref.Units))
			continue
		}
		a, err := fn.inner.decode(ctx, r.Value)
		if err != nil {
			dead(deadletter.New(r, Stage+"/"+b.Name, err).Message(fn.DeadLetterTopic, ref.Units))
			continue
		}
		if len(fn.Catalogs) > 0 {
			a.WithCatalogs(fn.inner.cats)
		}
		if fn.inner.gw != nil {
			a.WithGW(fn.inner.gw)
		}
		k := Kept{ID: ref.ID, Msg: kafkaio.Message{Topic: b.Topic, Key: []byte(strconv.FormatInt(ref.ID, 10)), Source: ref.Src}}
		if fn.inner.run(ctx, r, a, f, b.Version, c, ref.Units, func(k Kept) { emit(k.Msg) }, dead, k) == dropped {
			acks(kafkaio.AckOf(ref.Src, ref.Units))
		}
	}
	return nil
}
