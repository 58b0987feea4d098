package qa

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func init() {
	register.DoFn5x1[context.Context, kafkaio.Record, func(beam.EventTime, string, waiting), func(beam.EventTime, string, Point), func(kafkaio.Message), error](&decodeFn{})
	register.Emitter3[beam.EventTime, string, waiting]()
	register.Emitter3[beam.EventTime, string, Point]()
	register.Emitter1[kafkaio.Message]()
	register.DoFn9x0[context.Context, typex.PaneInfo, typex.Window, string, func(*Point) bool, func(string, waiting), func(Flag), func(beam.EventTime, string, groupCount), func(string, members)](&exposureFn{})
	register.Iter1[Point]()
	register.Emitter2[string, waiting]()
	register.Emitter1[Flag]()
	register.Emitter3[beam.EventTime, string, groupCount]()
	register.Emitter2[string, members]()
	register.DoFn5x0[context.Context, typex.Window, string, func(*groupCount) bool, func(string, rateVerdict)](&rateFn{})
	register.Iter1[groupCount]()
	register.Emitter2[string, rateVerdict]()
	register.DoFn6x0[context.Context, string, func(*members) bool, func(*rateVerdict) bool, func(string, waiting), func(Flag)](&verdictFn{})
	register.Iter1[members]()
	register.Iter1[rateVerdict]()
	register.DoFn7x1[beam.EventTime, state.Provider, timers.Provider, string, waiting, func([]kafkaio.Source), func(kafkaio.Ack), error](&gateFn{})
	register.Emitter1[[]kafkaio.Source]()
	register.Emitter1[kafkaio.Ack]()
	register.DoFn1x2[Flag, kafkaio.Message, error](&messageFn{})
	register.DoFn1x1[kafkaio.Missing, kafkaio.Message](&missingFn{})
	for _, t := range []any{Point{}, Sky{}, Flag{}, waiting{}, groupCount{}, members{}, rateVerdict{}} {
		beam.RegisterType(reflect.TypeOf(t))
	}
}

// DefaultTopic is where QA records go unless Config.QATopic says otherwise.
const DefaultTopic = "alertbeam-qa"

// DefaultWindow is the event-time window exposures are decided in.
const DefaultWindow = time.Minute

// Stage names this transform in dead letters.
const Stage = "qa"

// Checks (Flag.Check), and the action a late report records.
const (
	CheckRate    = "rate"
	CheckSpatial = "spatial"
	CheckLate    = "late"
	ActionPass   = "pass" // late alerts pass unjudged
)

// Config configures Apply.
type Config struct {
	Survey   string // "ztf" or "lsst" (schemas.ZTF, schemas.LSST)
	Registry string // schema registry URL (LSST)
	// The checks; nil turns one off. At least one must be on.
	Rate    *RateConfig
	Spatial *SpatialConfig
	// QATopic receives one JSON record per flagged group (default
	// DefaultTopic); DeadLetterTopic what does not decode (default
	// deadletter.DefaultTopic).
	QATopic         string
	DeadLetterTopic string
	// Window is the fixed event-time window exposures are grouped and
	// decided in (default DefaultWindow); AllowedLateness how long after
	// the watermark passes a window its late alerts are still counted and
	// reported (default 0). See the package documentation for what
	// happens to late alerts.
	Window          time.Duration
	AllowedLateness time.Duration
	// Units is how many ack units a record rejected, throttled away or
	// dead-lettered here owes (default 1); see kafkaio.Commit.
	Units int
	// Reread reads kept records back, by the Source Apply's input gave
	// them, once their exposure is decided: packets wait where they
	// already are, never in the pipeline. pipelines.RereadKafka for
	// records read from Kafka, pipelines.RereadArchive for an archive
	// replay. Required.
	Reread Reread
}

// Reread re-reads records by Source (see filter.Reread): kafkaio.Fetch and
// archive.Fetch have this shape.
type Reread = filter.Reread

// Outputs are what Apply produces, all in the global window.
type Outputs struct {
	// Kept holds the records that passed QA, read back unchanged (same
	// bytes and Source), each timestamped at the end of its exposure's
	// window (the last instant of it).
	Kept beam.PCollection // kafkaio.Record
	// Acks acknowledges, with Config.Units, every record QA rejected or
	// throttled away.
	Acks beam.PCollection // kafkaio.Ack
	// Dead holds dead letters (stage "qa", Units = Config.Units) for
	// records that do not decode, and for kept records that could not be
	// read back (deleted by retention meanwhile: no bytes, the error says).
	Dead beam.PCollection // kafkaio.Message
	// QA holds one JSON Flag per flagged group (and per late pane), for
	// Config.QATopic, with no Source and Units 0.
	QA beam.PCollection // kafkaio.Message
	// Flags holds the same reports as Go values.
	Flags beam.PCollection // Flag
}

// Flag reports one group a check flagged, or one late pane of an
// exposure. It is what the QA topic carries, as JSON.
type Flag struct {
	Check string // CheckRate, CheckSpatial or CheckLate
	// Kind is, for rate, the level counted (ByExposure, ByCCD,
	// ByQuadrant); for spatial, the group's kind (KindClump,
	// KindBleedTrail, KindStreak); for late, CheckLate.
	Kind string
	// Key names the group: the exposure key (alert.Visit.Key), with
	// "/ccdN", "/rcidN" (ZTF) or "/detN" (LSST) for rate sub-groups.
	Key      string
	Exposure string
	Time     time.Time // observation time of the exposure
	Count    int       // alerts in the group (late: alerts in the late pane)
	// Threshold is, for rate, the count the group exceeded (Median is the
	// running median it came from, for relative thresholds); for spatial,
	// the K or Line the group is larger than.
	Threshold float64
	Median    float64
	Action    string // ActionReject, ActionThrottle, ActionFlag; ActionPass for late panes
	Kept      int    // alerts of the group QA let through
	// Spatial groups only: the geometry (see Group).
	Members []int64
	Centre  Sky
	Radius  float64
	Ends    []Sky
	Length  float64
	Width   float64
	Units   []int32
}

// MarshalJSON writes a flag as the QA topic carries it: snake-case names,
// observation time in RFC 3339, and the spatial fields only for spatial
// groups. Angles are in degrees, distances in arcsec.
func (f Flag) MarshalJSON() ([]byte, error) {
	type spatial struct {
		Members []int64 `json:"members"`
		Centre  Sky     `json:"centre"`
		Radius  float64 `json:"radius_arcsec"`
		Ends    []Sky   `json:"ends,omitempty"`
		Length  float64 `json:"length_arcsec,omitempty"`
		Width   float64 `json:"width_arcsec,omitempty"`
		Units   []int32 `json:"units"`
	}
	out := struct {
		Check     string   `json:"check"`
		Kind      string   `json:"kind"`
		Key       string   `json:"key"`
		Exposure  string   `json:"exposure"`
		Time      string   `json:"time"`
		Count     int      `json:"count"`
		Threshold float64  `json:"threshold"`
		Median    float64  `json:"median,omitempty"`
		Action    string   `json:"action"`
		Kept      int      `json:"kept"`
		Spatial   *spatial `json:"geometry,omitempty"`
	}{f.Check, f.Kind, f.Key, f.Exposure, f.Time.UTC().Format(time.RFC3339Nano), f.Count, f.Threshold, f.Median, f.Action, f.Kept, nil}
	if f.Check == CheckSpatial {
		out.Spatial = &spatial{f.Members, f.Centre, f.Radius, f.Ends, f.Length, f.Width, f.Units}
	}
	return json.Marshal(out)
}

// MarshalJSON writes a position as {"ra": ..., "dec": ...}.
func (p Sky) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RA  float64 `json:"ra"`
		Dec float64 `json:"dec"`
	}{p.RA, p.Dec})
}

// Validate reports the first problem with c, after defaults, that Apply
// would return.
func (c Config) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Survey != schemas.ZTF && d.Survey != schemas.LSST:
		return fmt.Errorf("qa: unknown survey %q (want ztf or lsst)", d.Survey)
	case d.Survey == schemas.LSST && d.Registry == "":
		return errors.New("qa: LSST needs a schema registry URL")
	case d.Rate == nil && d.Spatial == nil:
		return errors.New("qa: no check to apply (set Rate, Spatial or both)")
	case d.Window < time.Millisecond || d.AllowedLateness < 0 || d.Units < 0:
		return errors.New("qa: Window must be at least 1ms; AllowedLateness and Units must not be negative")
	}
	// The checks as given: withDefaults fits the rate's Span to the
	// window, which would hide a negative one.
	if c.Rate != nil {
		if err := c.Rate.Validate(); err != nil {
			return err
		}
	}
	if c.Spatial != nil {
		if err := c.Spatial.Validate(); err != nil {
			return err
		}
	}
	if c.Reread == nil {
		return errors.New("qa: no way to read kept records back (set Reread, e.g. pipelines.RereadKafka or pipelines.RereadArchive)")
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.QATopic = cmp.Or(c.QATopic, DefaultTopic)
	deadletter.Defaults(&c.DeadLetterTopic, &c.Units)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	if c.Rate != nil {
		r := c.Rate.withDefaults()
		// The running median looks back over whole windows.
		r.Span = max(c.Window, (r.Span+c.Window-1)/c.Window*c.Window)
		if !r.relative() {
			r.Span = c.Window
		}
		c.Rate = &r
	}
	if c.Spatial != nil {
		sp := c.Spatial.withDefaults()
		c.Spatial = &sp
	}
	return c
}

// Apply is TryApply that panics where it would return an error, as
// Beam's transforms do (beam.ParDo; beam.TryParDo returns it).
func Apply(s beam.Scope, cfg Config, recs beam.PCollection) Outputs {
	return must(TryApply(s, cfg, recs))
}

// TryApply runs the configured checks over a stream of records and splits it
// into what passes and what QA rejected, reporting every flagged group.
//
// Every record ends up exactly once in Kept, in Acks or in Dead, so offset
// commits stay exact. Only small records are shuffled, and packets are
// never held: each alert's id, position and S/N are grouped by exposure in
// fixed event-time windows of cfg.Window; its id and Source wait, keyed by
// exposure, in a gate that opens when the watermark passes the window's
// end, by which time the window's decisions have reached the gate too;
// the gate acknowledges the dropped ids and cfg.Reread reads the kept ones
// back. Records are timed by their observation time, so read the stream
// with an observation-time event-time policy (or a MaxDelay above the
// delivery delay); alerts behind the watermark are late (see the package
// documentation). All errors in cfg are reported here, before anything
// runs.
func TryApply(s beam.Scope, cfg Config, recs beam.PCollection) (Outputs, error) {
	s = s.Scope("qa.Apply")
	if err := cfg.Validate(); err != nil {
		return Outputs{}, err
	}
	cfg = cfg.withDefaults()
	refs, points, dead := beam.ParDo3(s, &decodeFn{Survey: cfg.Survey, Registry: cfg.Registry,
		DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units}, recs)

	fixed := window.NewFixedWindows(cfg.Window)
	points = beam.WindowInto(s, fixed, points,
		beam.Trigger(trigger.AfterEndOfWindow().LateFiring(trigger.AfterCount(1))),
		beam.AllowedLateness(cfg.AllowedLateness), beam.PanesDiscard())
	efn := &exposureFn{Survey: cfg.Survey, Window: cfg.Window}
	if cfg.Rate != nil {
		efn.RateOn, efn.Rate = true, *cfg.Rate
	}
	if cfg.Spatial != nil {
		efn.SpatialOn, efn.Spatial = true, *cfg.Spatial
	}
	spatialDrops, exposureFlags, counts, mems := beam.ParDo4(s, efn, beam.GroupByKey(s, points))

	global := window.NewGlobalWindows()
	gate := []beam.PCollection{beam.WindowInto(s, global, refs), beam.WindowInto(s, global, spatialDrops)}
	flags := []beam.PCollection{beam.WindowInto(s, global, exposureFlags)}
	if cfg.Rate != nil {
		history := beam.WindowInto(s, fixed, counts)
		verdicts := beam.ParDo(s, &rateFn{Rate: *cfg.Rate}, beam.GroupByKey(s, history))
		rateDrops, rateFlags := beam.ParDo2(s, &verdictFn{Rate: *cfg.Rate},
			beam.CoGroupByKey(s, beam.WindowInto(s, fixed, mems), beam.WindowInto(s, fixed, verdicts)))
		gate = append(gate, beam.WindowInto(s, global, rateDrops))
		flags = append(flags, beam.WindowInto(s, global, rateFlags))
	}
	batches, acks := beam.ParDo2(s, &gateFn{Units: cfg.Units, Window: cfg.Window, Decide: timers.InEventTime("decide"),
		Waiting: state.MakeBagState[waiting]("waiting")}, beam.Flatten(s, gate...))
	kept, missing := cfg.Reread(s, batches)
	lost := beam.ParDo(s, &missingFn{DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units}, missing)
	allFlags := beam.Flatten(s, flags...)
	return Outputs{
		Kept:  kept,
		Acks:  acks,
		Dead:  beam.Flatten(s, dead, lost),
		QA:    beam.ParDo(s, &messageFn{Topic: cfg.QATopic}, allFlags),
		Flags: allFlags,
	}, nil
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
