package qa

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
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
	// already are, never in the pipeline. FromKafka for records read from
	// Kafka, FromArchive for an archive replay. Required.
	Reread Reread
}

// Reread re-reads records by Source (see filter.Reread): kafkaio.Fetch and
// archive.Fetch have this shape.
type Reread = filter.Reread

// FromKafka re-reads kept records from the Kafka cluster they were read
// from.
func FromKafka(cfg kafkaio.Config) Reread {
	return func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return kafkaio.Fetch(s, cfg, refs)
	}
}

// FromArchive re-reads kept records from the archive they are replayed
// from.
func FromArchive(cfg archive.ReadConfig) Reread {
	return func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return archive.Fetch(s, cfg, refs)
	}
}

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
	// Key names the group: the exposure key (filter.Visit.Key), with
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

func (c Config) withDefaults() (Config, error) {
	if c.QATopic == "" {
		c.QATopic = DefaultTopic
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = deadletter.DefaultTopic
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Units == 0 {
		c.Units = 1
	}
	switch {
	case c.Survey != schemas.ZTF && c.Survey != schemas.LSST:
		return c, fmt.Errorf("qa: unknown survey %q (want ztf or lsst)", c.Survey)
	case c.Survey == schemas.LSST && c.Registry == "":
		return c, errors.New("qa: LSST needs a schema registry URL")
	case c.Rate == nil && c.Spatial == nil:
		return c, errors.New("qa: no check to apply (set Rate, Spatial or both)")
	case c.Window < time.Millisecond || c.AllowedLateness < 0 || c.Units < 0:
		return c, errors.New("qa: Window must be at least 1ms; AllowedLateness and Units must not be negative")
	}
	if c.Rate != nil {
		if err := c.Rate.Validate(); err != nil {
			return c, err
		}
		r := c.Rate.withDefaults()
		// The running median looks back over whole windows.
		r.Span = max(c.Window, (r.Span+c.Window-1)/c.Window*c.Window)
		if !r.relative() {
			r.Span = c.Window
		}
		c.Rate = &r
	}
	if c.Spatial != nil {
		if err := c.Spatial.Validate(); err != nil {
			return c, err
		}
		sp := c.Spatial.withDefaults()
		c.Spatial = &sp
	}
	if c.Reread == nil {
		return c, errors.New("qa: no way to read kept records back (set Reread: qa.FromKafka or qa.FromArchive)")
	}
	return c, nil
}

// Apply runs the configured checks over a stream of records and splits it
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
func Apply(s beam.Scope, recs beam.PCollection, cfg Config) (Outputs, error) {
	s = s.Scope("qa.Apply")
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Outputs{}, err
	}
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

// waiting is what an exposure's gate holds until the exposure is decided:
// an alert (its id and where to read it back) or ids the decision drops.
// Its timestamp falls in the exposure's window: the observation time for
// an alert, the window's last instant for a decision.
type waiting struct {
	ID   int64
	Src  kafkaio.Source
	Drop []int64 // set for a decision; then ID and Src are not
	// Why is the decision's reason (metrics.QA...), for
	// alertbeam_qa_dropped_total.
	Why string
}

// groupCount is one rate group's count, on its way to the running median.
type groupCount struct {
	Group, Exposure string
	Time            int64 // observation time, Unix ns
	WindowEnd       int64 // end of the fixed window it was counted in, Unix ms
	Count           int
}

// members are one rate group's alerts, waiting for the group's verdict.
type members struct {
	Group, Exposure string
	Time            int64
	Alerts          []filter.Scored // scored by RateConfig.Pick
}

// rateVerdict says a rate group is over its threshold.
type rateVerdict struct {
	Group, Exposure string
	Time            int64
	Count           int
	Threshold       float64
	Median          float64
}

// decodeFn decodes what QA needs of each record, and emits its small
// Point (for grouping) and its id and Source (for the gate), both at the
// observation time.
type decodeFn struct {
	Survey          string
	Registry        string
	DeadLetterTopic string
	Units           int

	codec  *framing.Codec
	broken beam.Counter
	timer  metrics.Timer
}

func (fn *decodeFn) Setup() error {
	c, err := framing.Open(fn.Survey, fn.Registry)
	if err != nil {
		return err
	}
	fn.codec = c
	fn.broken = beam.NewCounter("alertbeam", "qa_undecodable")
	fn.timer = metrics.NewTimer(metrics.StageQA)
	return nil
}

func (fn *decodeFn) ProcessElement(ctx context.Context, r kafkaio.Record, wait func(beam.EventTime, string, waiting), point func(beam.EventTime, string, Point), dead func(kafkaio.Message)) error {
	defer fn.timer.Done(ctx, time.Now())
	f, err := decodeFacts(ctx, fn.codec, r.Value)
	if err != nil {
		if !framing.BadInput(err) {
			return fmt.Errorf("qa: %s: %w", r.Source, err)
		}
		fn.broken.Inc(ctx, 1)
		dead(deadletter.New(r, Stage, err).Message(fn.DeadLetterTopic, fn.Units))
		return nil
	}
	t := mtime.FromTime(f.Time)
	wait(t, f.Exposure, waiting{ID: f.Point.ID, Src: r.Source})
	point(t, f.Exposure, f.Point)
	return nil
}

// exposureFn decides one exposure's pane: on time, it runs the spatial
// check and counts the rate groups; late, it only reports the late alerts.
type exposureFn struct {
	Survey    string
	Window    time.Duration
	RateOn    bool
	Rate      RateConfig
	SpatialOn bool
	Spatial   SpatialConfig

	late, flagged, rejected beam.Counter
}

func (fn *exposureFn) Setup() {
	fn.late = beam.NewCounter("alertbeam", "qa_late")
	fn.flagged = beam.NewCounter("alertbeam", "qa_spatial_groups")
	fn.rejected = beam.NewCounter("alertbeam", "qa_spatial_rejected")
}

func (fn *exposureFn) ProcessElement(ctx context.Context, pane typex.PaneInfo, w typex.Window, exposure string, iter func(*Point) bool,
	drops func(string, waiting), flags func(Flag), counts func(beam.EventTime, string, groupCount), mems func(string, members)) {
	var pts []Point
	var p Point
	for iter(&p) {
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return
	}
	t := time.Unix(0, pts[0].Time).UTC()
	if pane.Timing == typex.PaneLate {
		// The exposure was decided without these: they pass (see the
		// package documentation); report them.
		fn.late.Inc(ctx, int64(len(pts)))
		flags(Flag{Check: CheckLate, Kind: CheckLate, Key: exposure, Exposure: exposure, Time: t,
			Count: len(pts), Action: ActionPass, Kept: len(pts)})
		return
	}
	slices.SortFunc(pts, func(a, b Point) int { return cmp.Compare(a.ID, b.ID) })
	pts = slices.CompactFunc(pts, func(a, b Point) bool { return a.ID == b.ID }) // a record delivered twice
	if fn.SpatialOn {
		for _, g := range FindGroups(pts, fn.Spatial) {
			fn.flagged.Inc(ctx, 1)
			f := Flag{Check: CheckSpatial, Kind: g.Kind, Key: exposure, Exposure: exposure, Time: t, Count: len(g.Members),
				Threshold: float64(g.Threshold), Action: fn.Spatial.Action, Kept: len(g.Members),
				Members: g.Members, Centre: g.Centre, Radius: g.Radius, Length: g.Length, Width: g.Width, Units: g.Units}
			if g.Kind != KindClump {
				f.Ends = g.Ends[:]
			}
			if fn.Spatial.Action == ActionReject {
				f.Kept = 0
				fn.rejected.Inc(ctx, int64(len(g.Members)))
				drops(exposure, waiting{Drop: g.Members, Why: metrics.QASpatial})
			}
			flags(f)
		}
	}
	if fn.RateOn {
		end := int64(w.MaxTimestamp()) + 1
		byGroup := map[string][]filter.Scored{}
		for _, p := range pts {
			k := groupKey(fn.Rate.By, fn.Survey, exposure, p.Unit)
			byGroup[k] = append(byGroup[k], filter.Scored{ID: p.ID, Score: score(p, fn.Rate.Pick)})
		}
		keys := make([]string, 0, len(byGroup))
		for k := range byGroup {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c := groupCount{Group: k, Exposure: exposure, Time: pts[0].Time, WindowEnd: end, Count: len(byGroup[k])}
			// The count goes to this window's decision and, as history,
			// to the decisions of the windows that follow within the span:
			// each copy timestamped at the end of its window, so that none
			// holds back the watermark of the windows before it.
			for at := end - 1; at < end+fn.Rate.Span.Milliseconds(); at += fn.Window.Milliseconds() {
				counts(mtime.Time(at), "rate", c)
			}
			// Only a group that can be over the rate needs its members.
			if len(byGroup[k]) > fn.Rate.Min && (fn.Rate.relative() || len(byGroup[k]) > fn.Rate.Limit) {
				mems(k, members{Group: k, Exposure: exposure, Time: pts[0].Time, Alerts: byGroup[k]})
			}
		}
	}
}

// rateFn decides the rate groups counted in one window, given also the
// counts of the windows before it within the running median's span.
type rateFn struct {
	Rate RateConfig

	undecided beam.Counter
}

func (fn *rateFn) Setup() {
	fn.undecided = beam.NewCounter("alertbeam", "qa_rate_undecided")
}

func (fn *rateFn) ProcessElement(ctx context.Context, w typex.Window, _ string, iter func(*groupCount) bool, emit func(string, rateVerdict)) {
	end := int64(w.MaxTimestamp()) + 1
	type exposure struct {
		key    string
		time   int64
		groups []groupCount
	}
	byKey := map[string]*exposure{}
	var g groupCount
	for iter(&g) {
		e, ok := byKey[g.Exposure]
		if !ok {
			e = &exposure{key: g.Exposure, time: g.Time}
			byKey[g.Exposure] = e
		}
		e.groups = append(e.groups, g)
	}
	order := make([]*exposure, 0, len(byKey))
	for _, e := range byKey {
		slices.SortFunc(e.groups, func(a, b groupCount) int { return cmp.Compare(a.Group, b.Group) })
		order = append(order, e)
	}
	slices.SortFunc(order, func(a, b *exposure) int {
		if c := cmp.Compare(a.time, b.time); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	var earlier [][]int
	for _, e := range order {
		cs := make([]int, len(e.groups))
		for i, g := range e.groups {
			cs[i] = g.Count
		}
		if e.groups[0].WindowEnd == end {
			threshold, median, ok := fn.Rate.Threshold(earlier)
			if !ok {
				fn.undecided.Inc(ctx, 1)
			}
			for _, g := range e.groups {
				if ok && fn.Rate.Over(g.Count, threshold) {
					emit(g.Group, rateVerdict{Group: g.Group, Exposure: g.Exposure, Time: g.Time, Count: g.Count, Threshold: threshold, Median: median})
				}
			}
		}
		earlier = append(earlier, cs)
	}
}

// verdictFn acts on one rate group's verdict, if it has one: it lists
// the alerts a rejected or throttled group drops, and reports every group
// over the rate. Members and verdict meet in a CoGroupByKey rather than a
// side input, so the decision waits for both on every runner.
type verdictFn struct {
	Rate RateConfig

	flagged, dropped beam.Counter
}

func (fn *verdictFn) Setup() {
	fn.flagged = beam.NewCounter("alertbeam", "qa_rate_groups")
	fn.dropped = beam.NewCounter("alertbeam", "qa_rate_dropped")
}

func (fn *verdictFn) ProcessElement(ctx context.Context, _ string, memberIter func(*members) bool, verdictIter func(*rateVerdict) bool, drops func(string, waiting), flags func(Flag)) {
	var v rateVerdict
	if !verdictIter(&v) {
		return
	}
	var m members
	for memberIter(&m) {
		fn.act(ctx, m, v, drops, flags)
	}
}

func (fn *verdictFn) act(ctx context.Context, m members, v rateVerdict, drops func(string, waiting), flags func(Flag)) {
	fn.flagged.Inc(ctx, 1)
	f := Flag{Check: CheckRate, Kind: fn.Rate.By, Key: m.Group, Exposure: m.Exposure, Time: time.Unix(0, m.Time).UTC(),
		Count: v.Count, Threshold: v.Threshold, Median: v.Median, Action: fn.Rate.Action, Kept: v.Count}
	var drop []int64
	why := metrics.QARateReject
	switch fn.Rate.Action {
	case ActionReject:
		drop = make([]int64, len(m.Alerts))
		for i, a := range m.Alerts {
			drop[i] = a.ID
		}
	case ActionThrottle:
		_, drop = filter.Select(m.Alerts, fn.Rate.Throttle)
		why = metrics.QARateThrottle
	}
	f.Kept -= len(drop)
	if len(drop) > 0 {
		fn.dropped.Inc(ctx, int64(len(drop)))
		drops(m.Exposure, waiting{Drop: drop, Why: why})
	}
	flags(f)
}

// gateFn holds, per exposure, the ids and Sources of its alerts and the
// ids its decisions drop, until the watermark passes the end of the
// exposure's window. By then every on-time alert and every decision of
// that window has reached it: the decisions come out of groupings of the
// same window, which hold the watermark back until they are out. It then
// acknowledges the dropped alerts and sends the kept ones to be read back.
// An alert that arrives after its exposure's gate opened (late) sets a
// timer already due, so it passes unjudged at once.
type gateFn struct {
	Units   int
	Window  time.Duration // Config.Window
	Waiting state.Bag[waiting]
	Decide  timers.EventTime

	opened  beam.Counter
	dropped map[string]beam.Counter // by reason
}

func (fn *gateFn) Setup() {
	fn.opened = beam.NewCounter("alertbeam", "qa_gates_opened")
	fn.dropped = map[string]beam.Counter{}
	for _, why := range dropReasons {
		fn.dropped[why] = beam.NewCounter("alertbeam", "qa_dropped_"+why)
	}
}

// dropReasons are the reasons an alert is dropped for, in the order that
// says which one counts when several decisions drop the same alert.
var dropReasons = []string{metrics.QASpatial, metrics.QARateReject, metrics.QARateThrottle}

func (fn *gateFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, w waiting, _ func([]kafkaio.Source), _ func(kafkaio.Ack)) error {
	// Decide at the end of the fixed window ts falls in; output at the
	// window's last instant, so what the gate lets through stays in its
	// exposure's window downstream.
	end := filter.WindowEnd(ts, fn.Window)
	fn.Decide.Set(tp, end.ToTime(), timers.WithOutputTimestamp(end.Subtract(time.Millisecond).ToTime()))
	return fn.Waiting.Add(sp, w)
}

func (fn *gateFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, exposure string, _ timers.Context, keep func([]kafkaio.Source), acks func(kafkaio.Ack)) error {
	all, _, err := fn.Waiting.Read(sp)
	if err != nil {
		return fmt.Errorf("qa: reading the gate of %s: %w", exposure, err)
	}
	// Each dropped alert is counted once, under the first of
	// dropReasons that any decision gave for it.
	drop := map[int64]string{}
	for _, w := range all {
		for _, id := range w.Drop {
			if why, ok := drop[id]; !ok || slices.Index(dropReasons, w.Why) < slices.Index(dropReasons, why) {
				drop[id] = w.Why
			}
		}
	}
	var back []kafkaio.Source
	for _, w := range all {
		why, dropped := drop[w.ID]
		switch {
		case w.Drop != nil:
		case dropped:
			acks(kafkaio.AckOf(w.Src, fn.Units))
			metrics.QADropped.WithLabelValues(why).Inc()
			if c, ok := fn.dropped[why]; ok {
				c.Inc(ctx, 1)
			}
		default:
			back = append(back, w.Src)
		}
	}
	filter.ReadBack(back, keep)
	fn.opened.Inc(ctx, 1)
	return fn.Waiting.Clear(sp)
}

// messageFn turns a flag into a QA topic message.
type messageFn struct {
	Topic string
}

func (fn *messageFn) ProcessElement(f Flag) (kafkaio.Message, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return kafkaio.Message{}, fmt.Errorf("qa: encoding a QA record: %w", err)
	}
	return kafkaio.Message{Topic: fn.Topic, Key: []byte(f.Key), Value: b}, nil
}

// missingFn dead-letters a kept record that could not be read back.
type missingFn struct {
	DeadLetterTopic string
	Units           int
}

func (fn *missingFn) ProcessElement(m kafkaio.Missing) kafkaio.Message {
	err := fmt.Errorf("reading the kept record back: %s", m.Err)
	return deadletter.New(kafkaio.Record{Source: m.Source}, Stage, err).Message(fn.DeadLetterTopic, fn.Units)
}
