package filter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

func init() {
	register.DoFn6x1[context.Context, beam.EventTime, kafkaio.Record, func(beam.EventTime, Kept), func(beam.EventTime, kafkaio.Ack), func(beam.EventTime, kafkaio.Message), error](&applyFn{})
	register.Emitter2[beam.EventTime, Kept]()
	register.Emitter2[beam.EventTime, kafkaio.Ack]()
	register.Emitter2[beam.EventTime, kafkaio.Message]()
	register.Function1x1(keptFilter)
	register.Function1x1(keptMessage)
	beam.RegisterType(reflect.TypeOf((*Kept)(nil)).Elem())
}

// Stage names this transform in dead letters: "filter" for a record that
// does not decode, "filter/NAME" for one that filter NAME failed on.
const Stage = "filter"

// Config configures Apply.
type Config struct {
	Survey   string // "ztf" or "lsst"
	Registry string // schema registry URL (LSST)
	// Filters are filter specs (see Build): registered names, names with
	// parameters, or expressions, each optionally "OUT=..." to name its
	// output. Output names must differ.
	Filters []string
	// Topics maps an output name to its topic; an output not listed is
	// published to a topic named after it.
	Topics map[string]string
	// DeadLetterTopic receives what a filter failed on and what does not
	// decode (default deadletter.DefaultTopic).
	DeadLetterTopic string
	// Units is how many ack units each filter output owes a record
	// (default 1); see Outputs.RecordUnits.
	Units int
	// CapPerVisit, when positive, keeps at most that many alerts per
	// visit in every output (see Cap); CapWindow is the event-time window
	// the cap's groups close in (default DefaultCapWindow).
	CapPerVisit int
	CapWindow   time.Duration
	// Reread reads records back by Source, for the cap: kept alerts wait
	// as ids until their visit is decided, then are read again
	// (kafkaio.Fetch for a Kafka read, archive.Fetch for a replay).
	// Required with CapPerVisit.
	Reread Reread
	// Catalogs are catalog specs (catalog.ParseSpec:
	// "NAME=PATH[,ra=COL,dec=COL,id=COL,...]") that the crossmatch
	// filters (xmatch, noxmatch, brightstar, expressions reading
	// xmatch.NAME) look up by name. Each worker loads each once.
	Catalogs []string
	// GW is the Kafka topic of IGWN notices the gw filters match alerts
	// against (--gw-topic). Each worker process follows it once, from its
	// beginning; a notice applies to the alerts processed after it is read.
	GW *igwn.Source
	// Definitions, when set, adds the filters defined at run time on a
	// definitions topic (see Definitions and FollowDefinitions): each
	// worker follows it, and each alert is filtered with the definitions
	// read before it. A definition named like a filter of Filters
	// replaces that filter (same output) while it stands; a tombstone
	// brings the Filters one back. A definition with CapPerVisit is
	// capped per visit as Cap does (liveCap); a run-wide CapPerVisit does
	// not combine with Definitions.
	Definitions *Definitions
	// Versions gives outputs of Filters the definition version their
	// alerts are stamped with (HeaderVersion; default 0), for a backfill
	// of a live definition run as a batch.
	Versions map[string]int64
}

// Outputs are what Apply produces.
type Outputs struct {
	// Names are the outputs' names, in the order of Config.Filters.
	Names []string
	// Kept holds, per output name, the kafkaio.Messages to publish: the
	// original bytes when the filter kept the alert unchanged, the
	// re-encoded alert (reader schema) when it transformed it.
	Kept map[string]beam.PCollection
	// Acks acknowledges, as kafkaio.Acks, the records a filter dropped.
	Acks beam.PCollection
	// Dead holds dead-letter kafkaio.Messages for Config.DeadLetterTopic.
	Dead beam.PCollection
	// Later holds the capped live filters' messages, published once their
	// visit is decided (Config.Definitions; else it is not valid). Write it
	// as All is written.
	Later beam.PCollection
	// CapStats holds one CapStat per output and visit when capped (else
	// it is empty).
	CapStats beam.PCollection
	// All holds every output's messages (kafkaio.Message, each addressed
	// to its output's topic). Write it rather than a Flatten of Kept: a
	// runner may move a Flatten's elements through its own data plane
	// (prism does), and these are whole packets, while All stays in the
	// filters' fused stage (uncapped).
	All beam.PCollection
	// RecordUnits is how many ack units make one record done:
	// len(Names) × Config.Units, plus LiveShare × Config.Units for the
	// live filters together when Config.Definitions is set. Pass it as
	// kafkaio.CommitConfig.Units when these outputs are the pipeline's
	// only sinks.
	RecordUnits int
}

// Kept is an alert a filter kept, on its way to its output: the message to
// publish, and the small facts the per-visit cap ranks it by.
type Kept struct {
	Filter int // index into Outputs.Names (len(Names): a live filter)
	Visit  string
	ID     int64
	Score  float64
	Time   time.Time // observation time
	Msg    kafkaio.Message
	// A capped live filter's alert (LiveCap > 0) waits for its visit to
	// be decided: what the cap needs of its definition.
	LiveName    string
	LiveVersion int64
	LiveSpec    string
	LiveCap     int
}

func (c Config) withDefaults() Config {
	deadletter.Defaults(&c.DeadLetterTopic, &c.Units)
	return c
}

// Validate reports the first problem with c, after defaults, that Apply
// would return: an unknown survey, a filter spec that does not build, a
// catalog or a gravitational-wave topic a filter needs and c lacks.
func (c Config) Validate() error {
	_, err := c.withDefaults().build()
	return err
}

// build checks c and builds its filters.
func (c Config) build() ([]*Filter, error) {
	if c.Units < 0 || c.CapPerVisit < 0 || c.CapWindow < 0 {
		return nil, fmt.Errorf("filter: negative Units, CapPerVisit or CapWindow")
	}
	if c.Survey != schemas.ZTF && c.Survey != schemas.LSST {
		return nil, fmt.Errorf("filter: unknown survey %q (want ztf or lsst)", c.Survey)
	}
	if c.Survey == schemas.LSST && c.Registry == "" {
		return nil, errors.New("filter: LSST needs a schema registry URL")
	}
	if len(c.Filters) == 0 && c.Definitions == nil {
		return nil, errors.New("filter: no filters to apply")
	}
	if c.Definitions != nil {
		if c.Definitions.Topic == "" {
			return nil, errors.New("filter: Definitions without a topic")
		}
		if c.CapPerVisit > 0 {
			return nil, errors.New("filter: a per-visit cap does not work with live definitions yet (--cap-per-visit with --definitions)")
		}
	}
	fs, err := buildAll(c.Filters, c.Survey)
	if err != nil {
		return nil, err
	}
	if err := CheckCatalogs(fs, c.Catalogs); err != nil {
		return nil, err
	}
	if usesGW(fs) && c.GW == nil {
		return nil, errors.New("filter: a gw filter needs the topic of IGWN notices: --gw-topic (Config.GW)")
	}
	return fs, nil
}

// Apply is TryApply that panics where it would return an error, as
// Beam's transforms do (beam.ParDo; beam.TryParDo returns it).
func Apply(s beam.Scope, cfg Config, recs beam.PCollection) Outputs {
	return must(TryApply(s, cfg, recs))
}

// TryApply decodes every record once and runs it through every filter of
// cfg.Filters, each filter publishing to its own output.
//
// Acknowledgement: every record owes each output cfg.Units ack units, so
// that kafkaio.Commit can tell when all of them are done with it:
//   - kept: the output message carries Source and Units; the Kafka write's
//     ack settles them;
//   - dropped (including a missing value, or capped): an immediate
//     kafkaio.AckOf(source, Units) in Outputs.Acks;
//   - the filter errored or panicked: a dead-letter message (stage
//     "filter/NAME") carrying Units, settled by the dead-letter write;
//   - the record does not decode: one dead-letter message (stage "filter")
//     carrying Units for every output (and the live filters' share).
//
// So a record is done when RecordUnits units have been acknowledged,
// whichever way it went. All errors in cfg (unknown filter, bad expression,
// a filter that does not apply to the survey) are reported here, before
// anything runs.
func TryApply(s beam.Scope, cfg Config, recs beam.PCollection) (Outputs, error) {
	s = s.Scope("filter.Apply")
	cfg = cfg.withDefaults()
	fs, err := cfg.build()
	if err != nil {
		return Outputs{}, err
	}
	units := len(fs)
	if cfg.Definitions != nil {
		units += LiveShare
	}
	out := Outputs{Kept: map[string]beam.PCollection{}, RecordUnits: units * cfg.Units}
	topics := make([]string, len(fs))
	for i, f := range fs {
		out.Names = append(out.Names, f.Name())
		topics[i] = f.Name()
		if t, ok := cfg.Topics[f.Name()]; ok {
			topics[i] = t
		}
	}
	for name := range cfg.Topics {
		if !slices.Contains(out.Names, name) {
			return Outputs{}, fmt.Errorf("filter: Topics names %q, which is not an output (outputs: %v)", name, out.Names)
		}
	}
	var versions []int64
	if len(cfg.Versions) > 0 {
		versions = make([]int64, len(fs))
		for i, name := range out.Names {
			versions[i] = cfg.Versions[name]
		}
		for name := range cfg.Versions {
			if !slices.Contains(out.Names, name) {
				return Outputs{}, fmt.Errorf("filter: Versions names %q, which is not an output (outputs: %v)", name, out.Names)
			}
		}
	}

	fn := &applyFn{Survey: cfg.Survey, Registry: cfg.Registry, Specs: cfg.Filters, Topics: topics,
		DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units, Catalogs: cfg.Catalogs, GW: cfg.GW, Defs: cfg.Definitions, Versions: versions}
	kept, acks, dead := beam.ParDo3(s, fn, recs)
	slots := len(fs)
	if cfg.Definitions != nil {
		slots++ // the live filters' alerts, one more part: they reach their topics through All
	}
	parts := []beam.PCollection{kept}
	if slots > 1 {
		parts = beam.Partition(s, slots, keptFilter, kept)
	}
	allAcks := []beam.PCollection{acks}
	var stats []beam.PCollection
	deads := []beam.PCollection{dead}
	for i, name := range out.Names {
		if cfg.CapPerVisit > 0 {
			c, err := TryCap(s.Scope(name), CapConfig{Name: name, N: cfg.CapPerVisit, Window: cfg.CapWindow,
				Spec: cfg.Filters[i], Topic: topics[i], Survey: cfg.Survey, Registry: cfg.Registry,
				DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units, Reread: cfg.Reread, Catalogs: cfg.Catalogs, GW: cfg.GW, Version: cfg.Versions[name]}, parts[i])
			if err != nil {
				return Outputs{}, err
			}
			out.Kept[name] = c.Kept
			allAcks = append(allAcks, c.Acks)
			deads = append(deads, c.Dead)
			stats = append(stats, c.Stats)
			continue
		}
		out.Kept[name] = beam.ParDo(s, keptMessage, parts[i])
	}
	if cfg.CapPerVisit > 0 {
		all := make([]beam.PCollection, 0, len(out.Names))
		for _, name := range out.Names {
			all = append(all, out.Kept[name])
		}
		out.All = beam.Flatten(s, all...)
	} else if cfg.Definitions != nil {
		out.All = beam.ParDo(s, keptUncapped, kept)
	} else {
		out.All = beam.ParDo(s, keptMessage, kept)
	}
	if cfg.Definitions != nil {
		livePart := parts[len(parts)-1]
		msgs, acks, dead := liveCap(s, livePart, cfg)
		out.Later = msgs
		allAcks, deads = append(allAcks, acks), append(deads, dead)
	}
	out.Acks = beam.Flatten(s, allAcks...)
	out.Dead = beam.Flatten(s, deads...)
	if stats != nil {
		out.CapStats = beam.Flatten(s, stats...)
	} else {
		out.CapStats = beam.CreateList(s, []CapStat{})
	}
	return out, nil
}

// buildAll builds every spec and checks that output names differ.
func buildAll(specs []string, survey string) ([]*Filter, error) {
	fs := make([]*Filter, len(specs))
	seen := map[string]string{}
	for i, spec := range specs {
		f, err := Build(spec, survey)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[f.Name()]; dup {
			return nil, fmt.Errorf("filter: %q and %q both name their output %q; name one with OUT=%s", prev, spec, f.Name(), spec)
		}
		seen[f.Name()] = spec
		fs[i] = f
	}
	return fs, nil
}

func keptFilter(k Kept) int { return k.Filter }

func keptMessage(k Kept) kafkaio.Message { return k.Msg }

// applyFn decodes each record once and runs every filter over it. Its
// configuration is the specs, not the filters: filters hold functions,
// which do not serialise, so each worker rebuilds them from its registry.
type applyFn struct {
	Survey          string
	Registry        string
	Specs           []string
	Topics          []string
	DeadLetterTopic string
	Units           int
	// Again marks the cap's second pass over alerts read back: the
	// alerts were counted on the first.
	Again bool
	// Catalogs are the crossmatch catalogs' specs (Config.Catalogs),
	// loaded in Setup through the process-wide cache.
	Catalogs []string
	// GW is the notice topic the gw filters read (Config.GW), followed
	// once per process from Setup.
	GW *igwn.Source
	// Defs is the definitions topic (Config.Definitions), followed once
	// per process from Setup.
	Defs *Definitions
	// Versions are the Specs' definition versions (Config.Versions); nil
	// for all 0.
	Versions []int64

	codec   *framing.Codec
	cats    *Catalogs
	gw      *igwn.Events
	live    *Live
	filters []*Filter
	ctr     []filterCounters
	liveCtr map[string]filterCounters // the live filters', made as they appear
	refused map[string]bool           // by live name and version: Definitions.Refuses
	broken  beam.Counter
	timer   metrics.Timer
}

type filterCounters struct {
	kept, dropped, missing, dead beam.Counter
	// The same verdicts on /metrics (io/metrics), first pass only.
	pKept, pDropped, pMissing, pFailed incrementer
}

type incrementer interface{ Inc() }

// uncounted is the incrementer of the cap's second pass, whose alerts
// were counted on the first.
type uncounted struct{}

func (uncounted) Inc() {}

func (fn *applyFn) Setup() error {
	c, err := framing.Open(fn.Survey, fn.Registry)
	if err != nil {
		return err
	}
	fn.codec = c
	if fn.filters, err = buildAll(fn.Specs, fn.Survey); err != nil {
		return err
	}
	if fn.cats, err = OpenCatalogs(fn.Catalogs); err != nil {
		return err
	}
	if fn.GW != nil {
		if fn.gw, err = igwn.Follow(*fn.GW, igwnCatchUp); err != nil {
			return err
		}
	}
	if fn.Defs != nil {
		env := DefinitionEnv{Survey: fn.Survey, Catalogs: fn.Catalogs, GW: fn.GW != nil}
		if fn.live, err = FollowDefinitions(*fn.Defs, env, igwnCatchUp); err != nil {
			return err
		}
		fn.liveCtr, fn.refused = map[string]filterCounters{}, map[string]bool{}
	}
	for _, f := range fn.filters {
		fn.ctr = append(fn.ctr, fn.counters(f.Name()))
	}
	fn.broken = beam.NewCounter("alertbeam", "filter_undecodable")
	fn.timer = metrics.NewTimer(metrics.StageFilter)
	return nil
}

// counters are one output's verdict counters.
func (fn *applyFn) counters(name string) filterCounters {
	n := "filter_" + name + "_"
	if fn.Again {
		n += "reread_" // counted apart: these alerts were counted once already
	}
	c := filterCounters{
		kept:    beam.NewCounter("alertbeam", n+"kept"),
		dropped: beam.NewCounter("alertbeam", n+"dropped"),
		missing: beam.NewCounter("alertbeam", n+"missing"),
		dead:    beam.NewCounter("alertbeam", n+"deadletter"),
		pKept:   uncounted{}, pDropped: uncounted{}, pMissing: uncounted{}, pFailed: uncounted{},
	}
	if !fn.Again {
		r := metrics.FilterResults
		c.pKept, c.pDropped = r.WithLabelValues(name, "kept"), r.WithLabelValues(name, "dropped")
		c.pMissing, c.pFailed = r.WithLabelValues(name, "missing"), r.WithLabelValues(name, "failed")
	}
	return c
}

// refuses reports, once per name and version, whether the run cannot
// publish a live filter (Definitions.Refuses): the run's status step
// rejects such a definition, so skipping it here is the same rejection.
func (fn *applyFn) refuses(lf LiveFilter) bool {
	key := lf.Name + "\x00" + strconv.FormatInt(lf.Definition.Version, 10)
	r, ok := fn.refused[key]
	if !ok {
		r = fn.Defs.Refuses(lf.Name, lf.Definition) != nil
		fn.refused[key] = r
	}
	return r
}

func (fn *applyFn) liveCounters(name string) filterCounters {
	c, ok := fn.liveCtr[name]
	if !ok {
		c = fn.counters(name)
		fn.liveCtr[name] = c
	}
	return c
}

// ProcessElement filters a record at once. (Deferring the filters to
// FinishBundle, so the night copies in the same fused stage go first, was
// measured: ~40 ms off the night topics' p99 and ~750 ms onto the filter
// topics', since every copy then waits for the end of the bundle.)
func (fn *applyFn) ProcessElement(ctx context.Context, ts beam.EventTime, r kafkaio.Record,
	kept func(beam.EventTime, Kept), acks func(beam.EventTime, kafkaio.Ack), dead func(beam.EventTime, kafkaio.Message)) error {
	if !fn.Again { // each alert is timed once, as it is counted once
		defer fn.timer.Done(ctx, time.Now())
	}
	return fn.filterAt(ctx, ts, r, kept, acks, dead)
}

// filterAt filters one record, its outputs at its own timestamp.
func (fn *applyFn) filterAt(ctx context.Context, ts beam.EventTime, r kafkaio.Record,
	kept func(beam.EventTime, Kept), acks func(beam.EventTime, kafkaio.Ack), dead func(beam.EventTime, kafkaio.Message)) error {
	return fn.filter(ctx, r, func(k Kept) { kept(ts, k) }, func(a kafkaio.Ack) { acks(ts, a) }, func(m kafkaio.Message) { dead(ts, m) })
}

// filter decodes a record once and runs every filter over it.
func (fn *applyFn) filter(ctx context.Context, r kafkaio.Record, kept func(Kept), acks func(kafkaio.Ack), dead func(kafkaio.Message)) error {
	a, err := fn.decode(ctx, r.Value)
	if err != nil {
		if !framing.BadInput(err) {
			// Not the record's fault (the registry is unreachable): fail
			// the bundle rather than dead-letter good data.
			return fmt.Errorf("filter: %s: %w", r.Source, err)
		}
		fn.broken.Inc(ctx, 1)
		units := len(fn.filters)
		if fn.Defs != nil {
			units += LiveShare
		}
		dead(deadletter.New(r, Stage, err).Message(fn.DeadLetterTopic, fn.Units*units))
		return nil
	}
	if len(fn.Catalogs) > 0 {
		a.WithCatalogs(fn.cats)
	}
	if fn.gw != nil {
		a.WithGW(fn.gw)
	}
	visit, id, score, t := a.Visit().Key(), a.ID(), a.SNR(), a.Time()
	key := []byte(strconv.FormatInt(id, 10))
	one := func(slot int, f *Filter, version int64, topic string, c filterCounters, units int, capped *LiveFilter) verdict {
		k := Kept{Filter: slot, Visit: visit, ID: id, Score: score, Time: t, Msg: kafkaio.Message{Topic: topic, Key: key, Source: r.Source}}
		if capped != nil {
			k.LiveName, k.LiveVersion, k.LiveSpec, k.LiveCap = capped.Name, capped.Definition.Version, capped.Definition.Spec, capped.Definition.CapPerVisit
		}
		return fn.run(ctx, r, a, f, version, c, units, kept, dead, k)
	}
	// One snapshot per alert: every filter sees the same definitions.
	var live []LiveFilter
	if fn.live != nil {
		live = fn.live.Filters()
	}
	for i, f := range fn.filters {
		version := int64(0)
		if fn.Versions != nil {
			version = fn.Versions[i]
		}
		if lf, ok := lookupLive(live, f.Name()); ok && !fn.refuses(lf) {
			f, version = lf.Filter, lf.Definition.Version // redefined at run time
		}
		if one(i, f, version, fn.Topics[i], fn.ctr[i], fn.Units, nil) == dropped {
			acks(kafkaio.AckOf(r.Source, fn.Units))
		}
	}
	if fn.live == nil {
		return nil
	}
	// The live filters together owe the record LiveShare × Units: each
	// message they write (kept or dead letter) carries Units, settled
	// when that write is done, and an immediate ack the rest; so the
	// record is done only once every one of them is written, however the
	// runner bundles the writes.
	owed := LiveShare * fn.Units
	for i := range live {
		lf := &live[i]
		if slices.ContainsFunc(fn.filters, func(f *Filter) bool { return f.Name() == lf.Name }) || fn.refuses(*lf) {
			continue
		}
		var capped *LiveFilter
		if lf.Definition.CapPerVisit > 0 {
			capped = lf // its alerts wait for their visit (liveCap)
		}
		units := min(fn.Units, owed-fn.Units) // the ack keeps at least one share, and never goes negative
		if one(len(fn.filters), lf.Filter, lf.Definition.Version, fn.Defs.TopicPrefix+lf.Name, fn.liveCounters(lf.Name), units, capped) != dropped {
			owed -= units
		}
	}
	acks(kafkaio.AckOf(r.Source, owed))
	return nil
}

// LiveShare is how many outputs' units the live filters owe a record
// together (Config.Definitions): one for each message they may write for
// it, up to LiveShare − 1 of them, and the rest acknowledged at once.
const LiveShare = 1024

// verdict is what one filter did with an alert.
type verdict int

const (
	dropped verdict = iota // dropped, or lacking a value the filter reads
	written                // kept: a message for the output
	failed                 // dead-lettered
)

// run applies one filter to a decoded alert and emits what it kept, with
// units, or its dead letter, with units; the caller acknowledges a drop.
// k is the kept alert's template: slot, ranking facts, topic, key, source.
func (fn *applyFn) run(ctx context.Context, r kafkaio.Record, a *Alert, f *Filter, version int64, c filterCounters, units int,
	kept func(Kept), dead func(kafkaio.Message), k Kept) verdict {
	out, err := f.Apply(a)
	switch {
	case errors.Is(err, ErrMissing):
		c.missing.Inc(ctx, 1)
		c.pMissing.Inc()
		return dropped
	case err != nil:
		c.dead.Inc(ctx, 1)
		c.pFailed.Inc()
		dead(deadletter.New(r, Stage+"/"+f.Name(), err).Message(fn.DeadLetterTopic, units))
		return failed
	case out == nil:
		c.dropped.Inc(ctx, 1)
		c.pDropped.Inc()
		return dropped
	}
	value := r.Value
	if out.ZTF != a.ZTF || out.LSST != a.LSST { // transformed, not only annotated
		if value, err = fn.encode(out); err != nil {
			c.dead.Inc(ctx, 1)
			c.pFailed.Inc()
			dead(deadletter.New(r, Stage+"/"+f.Name(), fmt.Errorf("filter %s: re-encoding its output: %w", f.Name(), err)).Message(fn.DeadLetterTopic, units))
			return failed
		}
	}
	c.kept.Inc(ctx, 1)
	c.pKept.Inc()
	k.Msg.Value, k.Msg.Units = value, units
	k.Msg.SourceTime, k.Msg.Output = r.Timestamp, metrics.OutputFilter
	k.Msg.Headers = stamped(r.Headers, out.notes, f.Name(), version)
	kept(k)
	return written
}

// decode retries what is not the message's fault (a registry lookup) a
// few times with backoff, since prism fails the whole job on a bundle
// error.
func (fn *applyFn) decode(ctx context.Context, msg []byte) (*Alert, error) {
	return framing.Retry(ctx, func() (*Alert, error) {
		a := &Alert{}
		var err error
		if fn.Survey == schemas.ZTF {
			a.ZTF = &ztf.Alert{}
			err = fn.codec.Decode(ctx, msg, a.ZTF)
		} else {
			a.LSST = &lsst.Alert{}
			err = fn.codec.Decode(ctx, msg, a.LSST)
		}
		if err != nil {
			return nil, err
		}
		return a, nil
	})
}

func (fn *applyFn) encode(a *Alert) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	if a.Survey() != fn.Survey {
		return nil, fmt.Errorf("a %s filter returned a %s alert", fn.Survey, a.Survey())
	}
	if a.ZTF != nil {
		return fn.codec.Encode(a.ZTF)
	}
	return fn.codec.Encode(a.LSST)
}

// igwnCatchUp bounds how long a worker waits, in Setup, for the notices
// already in the GW topic.
const igwnCatchUp = 2 * time.Minute

// stamped is a kept alert's headers: the input's (less an upstream
// filter's name and version, when filters chain), then what its filter
// added, then the filter's name and definition version.
func stamped(hs, notes []kafkaio.Header, name string, version int64) []kafkaio.Header {
	out := make([]kafkaio.Header, 0, len(hs)+len(notes)+2)
	for _, h := range hs {
		if h.Key != HeaderName && h.Key != HeaderVersion {
			out = append(out, h)
		}
	}
	out = append(out, notes...)
	return append(out, kafkaio.Header{Key: HeaderName, Value: []byte(name)},
		kafkaio.Header{Key: HeaderVersion, Value: []byte(strconv.FormatInt(version, 10))})
}

// must is a Try function's result, or a panic with its error: the form
// Beam's own transforms take (beam.ParDo panics where beam.TryParDo
// returns the error), for callers whose config is known to be valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
