package kafkaio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/metrics"
)

func init() {
	register.DoFn5x2[context.Context, *watermarkEstimator, *sdf.LockRTracker, []byte, func(partitionDesc), sdf.ProcessContinuation, error](&discoverFn{})
	register.DoFn5x2[context.Context, *watermarkEstimator, *sdf.LockRTracker, partitionDesc, func(beam.EventTime, Record), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter1[partitionDesc]()
	register.Emitter2[beam.EventTime, Record]()
	beam.RegisterType(reflect.TypeOf((*discoveryRestriction)(nil)).Elem())
	beam.RegisterCoder(reflect.TypeOf((*discoveryRestriction)(nil)).Elem(), encodeDiscovery, decodeDiscovery)
}

// noEnd is the end offset of an unbounded partition read.
const noEnd = math.MaxInt64

// Read reads records from Kafka. It panics on an invalid configuration at
// pipeline construction, like Beam's own IOs; call cfg.Validate first to
// report the error yourself.
func Read(s beam.Scope, cfg ReadConfig) beam.PCollection {
	return Reads(s, cfg, 1)[0]
}

// Reads is Read with n readers of the same records: one discovery hands
// every partition, with where its read starts (and, bounded, ends), to
// each of them, so they read the same offsets and their sinks'
// acknowledgements add up in one Commit. Each reader is a stage of its
// own, with its own connections to the brokers, and stages run side by
// side: what is fused after one reader never waits for what is fused
// after another. This is how a pipeline keeps cheap, urgent work (routing
// to the night topics) from queueing behind costly work on the same
// alerts (filters, the archive), at the price of fetching each record n
// times. It panics as Read does, and on n < 1.
func Reads(s beam.Scope, cfg ReadConfig, n int) []beam.PCollection {
	s = s.Scope("kafkaio.Read")
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if n < 1 {
		panic(fmt.Sprintf("kafkaio: Reads needs at least one reader, got %d", n))
	}
	// Each reader gets its own connections: sarama lets one consumer read a
	// partition once, and a cancelled pipeline's readers may still hold
	// theirs while the next run in the same process starts.
	// The read and lag metrics come from the last reader, so a record
	// counts once; in Distribute that is the one behind the costlier work,
	// whose lag is the larger.
	run := newRunID()
	imp := beam.Impulse(s)
	parts := beam.ParDo(s, &discoverFn{Cfg: cfg, Run: run}, imp)
	// Readers of the same records stop together on a drain (drainLine):
	// the discovery's run id names them.
	peers := ""
	if n > 1 {
		peers = run
	}
	out := []beam.PCollection{beam.ParDo(s, &readFn{Cfg: cfg, Run: run, Uncounted: n > 1, Peers: peers}, parts)}
	for len(out) < n {
		out = append(out, beam.ParDo(s, &readFn{Cfg: cfg, Run: newRunID(), Uncounted: len(out) < n-1, Peers: peers, Reader: len(out)}, parts))
	}
	return out
}

// uncounted stands for the read and lag metrics in a reader that leaves
// them to another.
type uncounted struct{}

func (uncounted) Inc()        {}
func (uncounted) Set(float64) {}

// watermarkEstimator is a manual estimator: the DoFns set it from event
// times and idleness. Its state is milliseconds since the epoch.
type watermarkEstimator struct {
	state int64
}

func (e *watermarkEstimator) CurrentWatermark() time.Time { return time.UnixMilli(e.state) }

// UpdateWatermark moves the watermark forward; it never moves back.
func (e *watermarkEstimator) UpdateWatermark(t time.Time) {
	if ms := t.UnixMilli(); ms > e.state {
		e.state = ms
	}
}

// --- partition discovery ---------------------------------------------------

// discoveryRestriction is the state of topic discovery: the partitions
// already handed to readers. It travels with every checkpoint, so a
// partition is emitted once however often discovery runs. Complete says
// every partition of the first listing has been handed out: until then,
// partitions start where ReadConfig.Start says (a partition whose offsets
// could not be had at first keeps that start); after, new partitions start
// at the earliest offset.
type discoveryRestriction struct {
	Seen     []string
	Rounds   int
	Complete bool
	Done     bool
}

func encodeDiscovery(r discoveryRestriction) ([]byte, error) { return json.Marshal(r) }

func decodeDiscovery(b []byte) (discoveryRestriction, error) {
	var r discoveryRestriction
	err := json.Unmarshal(b, &r)
	return r, err
}

// discoveryClaim is what one round of discovery claims: the partitions it
// found, and whether the first listing is now complete.
type discoveryClaim struct {
	Names    []string
	Complete bool
}

// discoveryTracker claims sets of newly seen partitions. Claiming nil
// finishes discovery (bounded reads).
type discoveryTracker struct {
	rest discoveryRestriction
}

func (t *discoveryTracker) TryClaim(pos any) bool {
	if t.rest.Done {
		return false
	}
	c, ok := pos.(discoveryClaim)
	if !ok {
		t.rest.Done = true
		return false
	}
	t.rest.Seen = append(t.rest.Seen, c.Names...)
	t.rest.Complete = t.rest.Complete || c.Complete
	return true
}

func (t *discoveryTracker) GetError() error { return nil }

// TrySplit only checkpoints (fraction 0): the primary is finished and the
// residual carries the seen set into the next round.
func (t *discoveryTracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if t.rest.Done || fraction > 0 {
		return t.rest, nil, nil
	}
	res := discoveryRestriction{Seen: slices.Clone(t.rest.Seen), Rounds: t.rest.Rounds + 1, Complete: t.rest.Complete}
	t.rest.Done = true
	return t.rest, res, nil
}

func (t *discoveryTracker) GetProgress() (done, remaining float64) {
	if t.rest.Done {
		return float64(len(t.rest.Seen)), 0
	}
	return float64(len(t.rest.Seen)), 1
}

func (t *discoveryTracker) IsDone() bool        { return t.rest.Done }
func (t *discoveryTracker) GetRestriction() any { return t.rest }
func (t *discoveryTracker) IsBounded() bool     { return t.rest.Done }

// discoverFn lists the partitions to read and emits each once, re-listing
// every DiscoveryInterval so topics and partitions created later are read.
type discoverFn struct {
	Cfg ReadConfig
	Run string

	conn     *conn
	pattern  *regexp.Regexp
	lastList time.Time
}

func (fn *discoverFn) Setup() error {
	c, err := getConn(fn.Run, fn.Cfg.Config)
	if err != nil {
		return err
	}
	fn.conn = c
	if fn.Cfg.TopicPattern != "" {
		fn.pattern = regexp.MustCompile("^(?:" + fn.Cfg.TopicPattern + ")$")
	}
	return nil
}

func (fn *discoverFn) Teardown() {
	if fn.conn != nil {
		fn.conn.release()
		fn.conn = nil
	}
}

func (fn *discoverFn) CreateInitialRestriction(_ []byte) discoveryRestriction {
	return discoveryRestriction{}
}

func (fn *discoverFn) SplitRestriction(_ []byte, r discoveryRestriction) []discoveryRestriction {
	return []discoveryRestriction{r}
}

func (fn *discoverFn) RestrictionSize(_ []byte, _ discoveryRestriction) float64 { return 1 }

func (fn *discoverFn) CreateTracker(r discoveryRestriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(&discoveryTracker{rest: r})
}

// TruncateRestriction stops discovery when a streaming job drains.
func (fn *discoverFn) TruncateRestriction(rt *sdf.LockRTracker, _ []byte) discoveryRestriction {
	r := rt.GetRestriction().(discoveryRestriction)
	r.Done = true
	return r
}

func (fn *discoverFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ discoveryRestriction, _ []byte) int64 {
	return int64(mtime.MinTimestamp)
}

func (fn *discoverFn) CreateWatermarkEstimator(ms int64) *watermarkEstimator {
	return &watermarkEstimator{state: ms}
}

func (fn *discoverFn) WatermarkEstimatorState(e *watermarkEstimator) int64 { return e.state }

func (fn *discoverFn) ProcessElement(ctx context.Context, we *watermarkEstimator, rt *sdf.LockRTracker, _ []byte, emit func(partitionDesc)) (sdf.ProcessContinuation, error) {
	r := rt.GetRestriction().(discoveryRestriction)
	if Draining() {
		rt.TryClaim(nil)
		return sdf.StopProcessing(), nil
	}
	// Discovery wakes every second, so a drain is seen at once, but lists
	// only every DiscoveryInterval (or while a bounded read still misses
	// partitions).
	wake := min(fn.Cfg.DiscoveryInterval, time.Second)
	if r.Complete && !fn.lastList.IsZero() && time.Since(fn.lastList) < fn.Cfg.DiscoveryInterval {
		we.UpdateWatermark(time.Now())
		return sdf.ResumeProcessingIn(wake), nil
	}
	fn.lastList = time.Now()
	seen := map[string]bool{}
	for _, s := range r.Seen {
		seen[s] = true
	}
	timeout := fn.Cfg.retryTimeout()
	parts, all, err := fn.list()
	if err != nil {
		// A broker that is down now may be up at the next round; prism
		// would fail the whole job on an error.
		if since, first := fn.conn.outages.fail("discovery"); !Transient(err) || since >= timeout {
			return sdf.StopProcessing(), fmt.Errorf("kafkaio: listing partitions of %s: %w", fn.topics(), err)
		} else if first {
			log.Warnf(ctx, "kafkaio: listing partitions: %v (retrying for up to %v)", err, timeout)
		}
		we.UpdateWatermark(time.Now())
		return sdf.ResumeProcessingIn(wake), nil
	}
	fn.recovered(ctx, "discovery")
	var fresh []partitionDesc
	var names, failed []string
	for _, p := range parts {
		name := fmt.Sprintf("%s/%d", p.topic, p.partition)
		if seen[name] {
			continue
		}
		d, err := fn.describe(p, !r.Complete)
		if err != nil {
			since, first := fn.conn.outages.fail("describe " + name)
			if !Transient(err) || since >= timeout {
				return sdf.StopProcessing(), fmt.Errorf("kafkaio: could not find where to read %s: %w", name, err)
			}
			if first {
				log.Warnf(ctx, "kafkaio: offsets of %s: %v (retrying for up to %v)", name, err, timeout)
			}
			failed = append(failed, name)
			continue
		}
		fn.recovered(ctx, "describe "+name)
		fresh = append(fresh, d)
		names = append(names, name)
	}
	if complete := len(failed) == 0; len(names) > 0 || (complete && !r.Complete) {
		if !rt.TryClaim(discoveryClaim{Names: names, Complete: complete}) {
			return sdf.StopProcessing(), nil
		}
		for _, d := range fresh {
			log.Infof(ctx, "kafkaio: reading %s/%d from offset %d", d.Topic, d.Partition, d.Start)
			emit(d)
		}
	}
	// A bounded read is done once its topics exist and every partition of
	// its shard is on its way (a shard may have none of a small topic's).
	if fn.Cfg.Bounded() && len(failed) == 0 && (len(fn.Cfg.Topics) == 0 || len(r.Seen)+len(names) > 0 || all > 0) {
		rt.TryClaim(nil)
		return sdf.StopProcessing(), nil
	}
	if len(failed) > 0 {
		// What failed (a coordinator still loading offsets) is tried
		// again at the next wake, not a whole interval later.
		fn.lastList = time.Time{}
	}
	we.UpdateWatermark(time.Now())
	return sdf.ResumeProcessingIn(wake), nil
}

// recovered reports the end of an outage of discovery, if it had one.
func (fn *discoverFn) recovered(ctx context.Context, key string) {
	if d := fn.conn.outages.ok(key); d > 0 {
		log.Warnf(ctx, "kafkaio: %s: recovered after %v", key, d.Round(time.Millisecond))
	}
}

// topics names what discovery reads, for errors.
func (fn *discoverFn) topics() string {
	if fn.Cfg.TopicPattern != "" {
		return "topics matching " + fn.Cfg.TopicPattern
	}
	return strings.Join(fn.Cfg.Topics, ",")
}

type topicPartition struct {
	topic     string
	partition int32
}

// list returns the partitions of the configured topics that are this
// read's shard's, as the cluster metadata has them now, and how many
// partitions the topics have in all.
func (fn *discoverFn) list() ([]topicPartition, int, error) {
	cl := fn.conn.client
	if err := cl.RefreshMetadata(); err != nil {
		return nil, 0, err
	}
	topics, err := cl.Topics()
	if err != nil {
		return nil, 0, err
	}
	var want []string
	if fn.pattern != nil {
		for _, t := range topics {
			if fn.pattern.MatchString(t) {
				want = append(want, t)
			}
		}
	} else {
		for _, t := range fn.Cfg.Topics {
			if slices.Contains(topics, t) {
				want = append(want, t)
			}
		}
	}
	slices.Sort(want)
	var out []topicPartition
	all := 0
	for _, t := range want {
		ps, err := cl.Partitions(t)
		if err != nil {
			return nil, 0, err
		}
		slices.Sort(ps)
		all += len(ps)
		for _, p := range ps {
			if fn.Cfg.Shards > 1 && int(p)%fn.Cfg.Shards != fn.Cfg.Shard {
				continue
			}
			out = append(out, topicPartition{t, p})
		}
	}
	return out, all, nil
}

// describe resolves where reading a partition starts and ends. Partitions
// found after the first listing was complete start at the earliest offset.
func (fn *discoverFn) describe(p topicPartition, firstRound bool) (partitionDesc, error) {
	cl := fn.conn.client
	d := partitionDesc{Topic: p.topic, Partition: p.partition, End: noEnd}
	oldest, err := cl.GetOffset(p.topic, p.partition, sarama.OffsetOldest)
	if err != nil {
		return d, err
	}
	newest, err := cl.GetOffset(p.topic, p.partition, sarama.OffsetNewest)
	if err != nil {
		return d, err
	}
	d.Start = oldest
	if firstRound {
		switch fn.Cfg.Start {
		case StartLatest:
			d.Start = newest
		case StartTimestamp:
			off, err := cl.GetOffset(p.topic, p.partition, fn.Cfg.StartTime.UnixMilli())
			if err != nil {
				return d, err
			}
			if off < 0 { // nothing at or after the time yet
				off = newest
			}
			d.Start = off
		case StartCommitted:
			off, err := fn.conn.committed(fn.Cfg.Group, p.topic, p.partition)
			if err != nil {
				return d, err
			}
			if off >= 0 {
				d.Start = max(off, oldest)
			}
		}
	}
	if fn.Cfg.StopAtEnd {
		d.End = max(newest, d.Start)
	}
	if fn.Cfg.MaxRecords > 0 && d.Start+fn.Cfg.MaxRecords < d.End {
		d.End = d.Start + fn.Cfg.MaxRecords
	}
	return d, nil
}

// --- partition reading -------------------------------------------------------

// readFn reads one partition per element over an offset range that grows
// with the partition (or ends where a bounded read stops).
type readFn struct {
	Cfg ReadConfig
	Run string
	// Uncounted leaves the read and lag metrics to another reader of the
	// same records (Reads), so that a record read twice counts once.
	Uncounted bool
	// Peers names the readers of the same records (Reads with several),
	// which a drain stops at the same offsets; Reader is this one's index
	// among them. "" for a reader alone.
	Peers  string
	Reader int

	conn      *conn
	eventTime EventTimeFunc
}

func (fn *readFn) Setup() error {
	c, err := getConn(fn.Run, fn.Cfg.Config)
	if err != nil {
		return err
	}
	fn.conn = c
	et, ok := lookupEventTime(fn.Cfg.EventTime)
	if !ok {
		return fmt.Errorf("kafkaio: event-time policy %q is not registered in this binary", fn.Cfg.EventTime)
	}
	fn.eventTime = et
	return nil
}

// drained says whether a drain stops the reader before it reads next: at
// once when it reads alone, at its peers' line (drainLine) when it has
// peers.
func (fn *readFn) drained(line *drainLine, next int64) bool {
	if line == nil {
		return Draining()
	}
	return line.stopped(Draining(), next)
}

func (fn *readFn) Teardown() {
	if fn.conn != nil {
		fn.conn.release()
		fn.conn = nil
	}
}

func (fn *readFn) CreateInitialRestriction(d partitionDesc) offsetrange.Restriction {
	return offsetrange.Restriction{Start: d.Start, End: d.End}
}

// SplitRestriction keeps one restriction per partition: records of a
// partition are read in order by one reader.
func (fn *readFn) SplitRestriction(_ partitionDesc, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

// RestrictionSize is the partition's backlog, the runner's measure of work.
func (fn *readFn) RestrictionSize(d partitionDesc, r offsetrange.Restriction) (float64, error) {
	if r.End != noEnd {
		return float64(r.End - r.Start), nil
	}
	if fn.conn == nil {
		if err := fn.Setup(); err != nil {
			return 0, err
		}
	}
	end := fn.conn.estimator(d.Topic, d.Partition).Estimate()
	return math.Max(0, float64(end-r.Start)), nil
}

func (fn *readFn) CreateTracker(r offsetrange.Restriction) (*sdf.LockRTracker, error) {
	if r.End != noEnd {
		return sdf.NewLockRTracker(offsetrange.NewTracker(r)), nil
	}
	// CreateTracker does not see the element, so the partition whose end
	// the tracker estimates is bound in ProcessElement.
	end := &deferredEstimator{}
	g, err := offsetrange.NewGrowableTracker(r, end)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: %w", err)
	}
	return sdf.NewLockRTracker(&partitionTracker{GrowableTracker: g, end: end}), nil
}

// partitionTracker is a growable offset tracker whose end estimate (the
// partition's newest offset, also its backlog) is bound to a partition once
// the element is known.
type partitionTracker struct {
	*offsetrange.GrowableTracker
	end *deferredEstimator
}

type deferredEstimator struct {
	est *endEstimator
}

func (d *deferredEstimator) Estimate() int64 {
	if d.est == nil {
		return 0
	}
	return d.est.Estimate()
}

// TruncateRestriction ends the read where it is when a streaming job drains.
func (fn *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ partitionDesc) offsetrange.Restriction {
	start := rt.GetRestriction().(offsetrange.Restriction).Start
	return offsetrange.Restriction{Start: start, End: start}
}

func (fn *readFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ offsetrange.Restriction, _ partitionDesc) int64 {
	return int64(mtime.MinTimestamp)
}

func (fn *readFn) CreateWatermarkEstimator(ms int64) *watermarkEstimator {
	return &watermarkEstimator{state: ms}
}

func (fn *readFn) WatermarkEstimatorState(e *watermarkEstimator) int64 { return e.state }

func (fn *readFn) ProcessElement(ctx context.Context, we *watermarkEstimator, rt *sdf.LockRTracker, d partitionDesc, emit func(beam.EventTime, Record)) (sdf.ProcessContinuation, error) {
	if pt, ok := rt.Rt.(*partitionTracker); ok {
		pt.end.est = fn.conn.estimator(d.Topic, d.Partition)
	}

	rest := rt.GetRestriction().(offsetrange.Restriction)
	next := rest.Start
	if next >= rest.End {
		rt.TryClaim(rest.End)
		return sdf.StopProcessing(), nil
	}
	var line *drainLine
	if fn.Peers != "" {
		line = drainLineOf(fn.Peers, d.Topic, d.Partition)
	}
	if fn.drained(line, next) {
		// Stop here; what is left is read after a restart, from the
		// offsets committed for what was finished.
		return sdf.StopProcessing(), nil
	}
	tp := topicPartition{d.Topic, d.Partition}
	fn.conn.start(tp)
	pr, err := fn.conn.partition(ctx, d.Topic, d.Partition, next, fn.Cfg.PollTimeout)
	if errors.Is(err, errBusy) {
		return sdf.ResumeProcessingIn(fn.Cfg.IdleResume), nil
	}
	if err != nil {
		return fn.failing(ctx, d, fmt.Errorf("opening at offset %d: %w", next, err))
	}
	defer pr.unlock()

	prev := next - 1
	began := time.Now()
	timer := time.NewTimer(fn.Cfg.PollTimeout) // for the first record; then batchWait
	defer timer.Stop()
	part := strconv.Itoa(int(d.Partition))
	var read interface{ Inc() } = metrics.RecordsRead.WithLabelValues(d.Topic, part)
	var lag interface{ Set(float64) } = metrics.Lag.WithLabelValues(d.Topic, part)
	if fn.Uncounted {
		read, lag = uncounted{}, uncounted{}
	}
	for n := 0; ; {
		if next >= rest.End {
			rt.TryClaim(rest.End)
			// A finished bounded read leaves the fetch session, so it no
			// longer slows the broker's fetches for the partitions left.
			pr.closeConsumer()
			fn.conn.idle(tp)
			return sdf.StopProcessing(), nil
		}
		if fn.drained(line, next) {
			pr.closeConsumer()
			return sdf.StopProcessing(), nil
		}
		select {
		case <-ctx.Done():
			return sdf.ResumeProcessingIn(0), nil
		case m, ok := <-pr.q.msgs:
			if !ok {
				pr.broken = true
				return sdf.ResumeProcessingIn(fn.Cfg.IdleResume), nil
			}
			pr.taken(m)
			if n == 0 {
				fn.recovered(ctx, d)
			}
			if m.Offset < next {
				continue // a compressed batch can start before the asked offset
			}
			if line != nil && !line.read(Draining(), fn.Reader, m.Offset) {
				pr.closeConsumer() // drained: its peers stop here too
				return sdf.StopProcessing(), nil
			}
			if !rt.TryClaim(m.Offset) {
				pr.broken = true // the message is past our range; reopen next time
				return sdf.StopProcessing(), rt.GetError()
			}
			rec := toRecord(m, prev, d.Start)
			et, err := fn.eventTime(rec)
			if err != nil || et.IsZero() {
				et = rec.Timestamp
			}
			emit(mtime.FromTime(et), rec)
			read.Inc()
			lag.Set(float64(pr.pc.HighWaterMarkOffset() - m.Offset - 1))
			we.UpdateWatermark(time.UnixMilli(fn.conn.holdAt(tp, et.Add(-fn.Cfg.MaxDelay).UnixMilli())))
			prev, next = m.Offset, m.Offset+1
			pr.next = next
			n++
			if n == 1 {
				// Records flow: read on for up to batchWait, as long as
				// there are more.
				timer.Reset(time.Until(began.Add(batchWait)))
			}
			if n >= fn.Cfg.BatchRecords || (len(pr.q.msgs) == 0 && next >= pr.pc.HighWaterMarkOffset()) {
				// Checkpoint so the bundle ends and its output moves on;
				// at once when the partition is caught up: a runner may
				// run several partitions' reads one after the other in
				// one bundle (prism does), and waiting here for records
				// not yet produced would hold back the alerts already
				// read and the partitions after this one.
				return sdf.ResumeProcessingIn(0), nil
			}
		case cerr, ok := <-pr.pc.Errors():
			if !ok {
				pr.broken = true
				return sdf.ResumeProcessingIn(fn.Cfg.IdleResume), nil
			}
			pr.broken = true
			if errors.Is(cerr.Err, sarama.ErrOffsetOutOfRange) {
				// Retention deleted what we were about to read; it cannot be
				// had any more. Say so loudly and continue at the oldest.
				log.Errorf(ctx, "kafkaio: %s/%d offset %d is out of range (deleted by retention?); resuming at the oldest offset", d.Topic, d.Partition, next)
				return sdf.ResumeProcessingIn(fn.Cfg.IdleResume), nil
			}
			return fn.failing(ctx, d, cerr.Err)
		case <-timer.C:
			hwm := pr.pc.HighWaterMarkOffset()
			if rest.End != noEnd && next >= hwm && hwm >= rest.End {
				// Offsets up to End were skipped (transaction markers): done.
				rt.TryClaim(rest.End)
				pr.closeConsumer()
				fn.conn.idle(tp)
				return sdf.StopProcessing(), nil
			}
			lag.Set(float64(max(0, hwm-next)))
			if n > 0 {
				return sdf.ResumeProcessingIn(0), nil // the batch's time is up; more are coming
			}
			switch {
			case fn.Cfg.IdleAdvance && next >= hwm:
				we.UpdateWatermark(time.UnixMilli(fn.conn.holdAt(tp, time.Now().Add(-fn.Cfg.MaxDelay).UnixMilli())))
			case next >= hwm:
				// Caught up: nothing here can be behind the others, so
				// this partition follows the read's watermark.
				we.UpdateWatermark(time.UnixMilli(fn.conn.idle(tp)))
			}
			return sdf.ResumeProcessingIn(fn.Cfg.IdleResume), nil
		}
	}
}

// batchWait bounds how long one read call goes on emitting records that
// trickle in, so a slow stream still ends bundles and moves its alerts on.
const batchWait = 500 * time.Millisecond

// failing handles an error reading a partition: a transient one (its
// broker restarting, a leader election) is retried, reported once when the
// partition starts failing, until the partition has failed for the retry
// timeout; then, or at once for an error no retry mends, the read fails
// with it.
func (fn *readFn) failing(ctx context.Context, d partitionDesc, err error) (sdf.ProcessContinuation, error) {
	key := partitionKey(d.Topic, d.Partition)
	timeout := fn.Cfg.retryTimeout()
	since, first := fn.conn.outages.fail(key)
	if !Transient(err) {
		return sdf.StopProcessing(), fmt.Errorf("kafkaio: reading %s: %w", key, err)
	}
	if since >= timeout {
		return sdf.StopProcessing(), fmt.Errorf("kafkaio: reading %s: still failing after %v: %w", key, timeout, err)
	}
	if first {
		log.Warnf(ctx, "kafkaio: reading %s: %v (retrying for up to %v)", key, err, timeout)
	}
	return sdf.ResumeProcessingIn(min(backoff(int(since/time.Second)), 2*time.Second)), nil
}

// recovered reports the end of a partition's outage, if it had one.
func (fn *readFn) recovered(ctx context.Context, d partitionDesc) {
	if dur := fn.conn.outages.ok(partitionKey(d.Topic, d.Partition)); dur > 0 {
		log.Warnf(ctx, "kafkaio: reading %s/%d: recovered after %v", d.Topic, d.Partition, dur.Round(time.Millisecond))
	}
}

func toRecord(m *sarama.ConsumerMessage, prev, base int64) Record {
	r := Record{
		Source:    Source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Prev: prev, Base: base},
		Key:       m.Key,
		Value:     m.Value,
		Timestamp: m.Timestamp,
	}
	if len(m.Headers) > 0 {
		r.Headers = make([]Header, 0, len(m.Headers))
		for _, h := range m.Headers {
			if h != nil {
				r.Headers = append(r.Headers, Header{Key: string(h.Key), Value: h.Value})
			}
		}
	}
	return r
}
