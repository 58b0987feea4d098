package qa

// The steps Apply wires together: the elements that cross its groupings and
// the DoFns that decode alerts, decide exposures and open their gates.
import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

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
