package kafkaio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/metrics"
)

func init() {
	register.DoFn3x0[beam.EventTime, Ack, func(beam.EventTime, string, []Ack)](&batchAcksFn{})
	register.Emitter3[beam.EventTime, string, []Ack]()
	register.DoFn5x1[context.Context, state.Provider, string, []Ack, func(Committed), error](&commitFn{})
	register.Emitter1[Committed]()
	register.DoFn1x0[Committed](&gaugeCommittedFn{})
	beam.RegisterType(reflect.TypeOf((*Committed)(nil)).Elem())
}

// CommitConfig configures Commit.
type CommitConfig struct {
	Config
	Group string
	// Units is how many ack units make a source record done: the number of
	// sinks every record reaches. A record that reaches fewer sinks (one
	// sent to the dead-letter output instead) is acked with the full
	// number by the sink that finishes it.
	Units int
}

// Committed reports a commit: the group will resume Partition of Topic at
// Offset.
type Committed struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Validate reports the first problem with c: Commit panics with it, so a
// caller that wants an error calls Validate first.
func (c CommitConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.Group == "" {
		return errors.New("kafkaio: Commit needs a consumer group")
	}
	if c.Units < 1 {
		return fmt.Errorf("kafkaio: Commit needs Units >= 1, got %d", c.Units)
	}
	return nil
}

// Commit advances the consumer group's offsets from the acknowledgements of
// every sink. Per partition, it commits the offset after the longest run of
// records, in the order they were read, whose ack units all add up to
// cfg.Units. So a restart with the group resumes at the first record not
// yet finished by every sink, and nothing is lost; records after it may be
// processed again (at least once).
//
// Offsets are committed from the sinks' acknowledgements rather than in
// read-bundle finalization because on prism state lives in memory:
// finalization only says the read's output is durable in the runner, not
// that the sinks wrote it.
func Commit(s beam.Scope, cfg CommitConfig, acks ...beam.PCollection) beam.PCollection {
	s = s.Scope("kafkaio.Commit")
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	// Sinks ack in their own windows (the archive's are event-time
	// windows); commits are global, and Flatten needs one windowing.
	global := make([]beam.PCollection, len(acks))
	for i, a := range acks {
		global[i] = beam.WindowInto(s, window.NewGlobalWindows(), a)
	}
	// A record is acknowledged by several sinks (a filter graph: one
	// ack per output), and the commit is a stateful step whose state
	// grows with the records not yet done: summing each bundle's acks per
	// partition first makes it one state read and write per partition per
	// bundle, not per ack.
	batches := beam.ParDo(s, &batchAcksFn{}, beam.Flatten(s, global...))
	committed := beam.ParDo(s, &commitFn{Cfg: cfg, State: state.MakeValueState[[]byte]("frontier")}, batches)
	// The reports are read in a stage of their own so that the commit's
	// stage has an output: prism (Beam v2.77) busy-waits through every
	// bundle of a stage without one, here each commit's round trip to the
	// broker (package transforms/discard says more). The Reshuffle is that
	// stage boundary; on prism it moves nothing.
	beam.ParDo0(s, &gaugeCommittedFn{Group: cfg.Group}, beam.Reshuffle(s, committed))
	return committed
}

// gaugeCommittedFn sets the committed-offset gauge from commit reports.
type gaugeCommittedFn struct {
	Group string
}

func (fn *gaugeCommittedFn) ProcessElement(c Committed) {
	metrics.Committed.WithLabelValues(fn.Group, c.Topic, strconv.Itoa(int(c.Partition))).Set(float64(c.Offset))
}

// batchAcksFn sums a bundle's acks per partition and record, and emits
// them keyed by partition (keyAck).
type batchAcksFn struct {
	parts map[string]map[int64]*Ack
	ts    beam.EventTime
}

// ProcessElement only gathers: the sums are emitted in FinishBundle.
func (fn *batchAcksFn) ProcessElement(ts beam.EventTime, a Ack, _ func(beam.EventTime, string, []Ack)) {
	if fn.parts == nil {
		fn.parts = map[string]map[int64]*Ack{}
	}
	if ts > fn.ts {
		fn.ts = ts
	}
	key := keyAck(a)
	recs, ok := fn.parts[key]
	if !ok {
		recs = map[int64]*Ack{}
		fn.parts[key] = recs
	}
	if r, ok := recs[a.Offset]; ok {
		r.Units += a.Units
		return
	}
	c := a
	recs[a.Offset] = &c
}

func (fn *batchAcksFn) FinishBundle(emit func(beam.EventTime, string, []Ack)) {
	for key, recs := range fn.parts {
		acks := make([]Ack, 0, len(recs))
		for _, a := range recs {
			acks = append(acks, *a)
		}
		emit(fn.ts, key, acks)
	}
	fn.parts, fn.ts = nil, 0
}

// keyAck is the key of an ack's partition, "topic/partition", which
// commitFn's FinishBundle splits again.
func keyAck(a Ack) string { return a.Topic + "/" + strconv.Itoa(int(a.Partition)) }

// frontier is one partition's commit state: the last offset done by every
// sink (Done), and records acked but not yet contiguous with it, by the
// offset of the record read before them (Prev), so that advancing is a
// lookup per record.
type frontier struct {
	Done    int64
	Set     bool
	Pending map[int64]pendingRec // by Prev
}

type pendingRec struct {
	Offset, Prev int64
	Units        int
}

// add records an ack and reports whether the frontier moved.
func (f *frontier) add(a Ack, need int) bool {
	if !f.Set {
		f.Done, f.Set = a.Base-1, true
	}
	if a.Offset <= f.Done {
		return false // a duplicate of something already committed
	}
	if f.Pending == nil {
		f.Pending = map[int64]pendingRec{}
	}
	p := f.Pending[a.Prev]
	p.Offset, p.Prev, p.Units = a.Offset, a.Prev, p.Units+a.Units
	f.Pending[a.Prev] = p
	moved := false
	for {
		next, ok := f.Pending[f.Done]
		if !ok || next.Units < need {
			return moved
		}
		delete(f.Pending, f.Done)
		f.Done = next.Offset
		moved = true
	}
}

// encode writes the frontier compactly: varints, pending records in offset
// order as deltas.
func (f *frontier) encode() []byte {
	recs := make([]pendingRec, 0, len(f.Pending))
	for _, p := range f.Pending {
		recs = append(recs, p)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Offset < recs[j].Offset })
	b := make([]byte, 0, 16+len(recs)*6)
	set := int64(0)
	if f.Set {
		set = 1
	}
	b = binary.AppendVarint(b, set)
	b = binary.AppendVarint(b, f.Done)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	last := f.Done
	for _, p := range recs {
		b = binary.AppendVarint(b, p.Offset-last)
		b = binary.AppendVarint(b, p.Offset-p.Prev)
		b = binary.AppendVarint(b, int64(p.Units))
		last = p.Offset
	}
	return b
}

func decodeFrontier(b []byte) (frontier, error) {
	bad := errors.New("kafkaio: corrupt commit state")
	var err error
	read := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			err = bad
			return 0
		}
		b = b[n:]
		return v
	}
	var f frontier
	f.Set = read() == 1
	f.Done = read()
	n, k := binary.Uvarint(b)
	if err != nil || k <= 0 {
		return f, bad
	}
	b = b[k:]
	f.Pending = make(map[int64]pendingRec, min(n, 1<<20))
	last := f.Done
	for range n {
		off := last + read()
		prev := off - read()
		units := int(read())
		if err != nil {
			return f, err
		}
		f.Pending[prev] = pendingRec{Offset: off, Prev: prev, Units: units}
		last = off
	}
	if len(b) > 0 {
		return f, bad
	}
	return f, nil
}

type commitFn struct {
	Cfg   CommitConfig
	State state.Value[[]byte]

	client sarama.Client
	om     sarama.OffsetManager
	poms   map[string]sarama.PartitionOffsetManager
	dirty  map[string]int64
	failed map[string]int64
}

func (fn *commitFn) Setup() error {
	sc, err := saramaConfig(fn.Cfg.Config)
	if err != nil {
		return err
	}
	// Commits happen when asked (Flush), not on a timer.
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.Consumer.Return.Errors = true
	cl, err := newClient(context.Background(), fn.Cfg.Config, sc)
	if err != nil {
		return err
	}
	om, err := sarama.NewOffsetManagerFromClient(fn.Cfg.Group, cl)
	if err != nil {
		cl.Close()
		return fmt.Errorf("kafkaio: offset manager: %w", err)
	}
	fn.client, fn.om = cl, om
	fn.poms = map[string]sarama.PartitionOffsetManager{}
	return nil
}

func (fn *commitFn) StartBundle(_ context.Context, _ func(Committed)) {
	// Commits that failed last time are retried with this bundle's.
	fn.dirty = fn.failed
	fn.failed = nil
	if fn.dirty == nil {
		fn.dirty = map[string]int64{}
	}
}

func (fn *commitFn) ProcessElement(ctx context.Context, sp state.Provider, key string, acks []Ack, emit func(Committed)) error {
	raw, ok, err := fn.State.Read(sp)
	if err != nil {
		return err
	}
	var f frontier
	if ok {
		if f, err = decodeFrontier(raw); err != nil {
			return fmt.Errorf("%w of %s", err, key)
		}
	}
	moved := false
	for _, a := range acks {
		moved = f.add(a, fn.Cfg.Units) || moved
	}
	if moved {
		fn.dirty[key] = f.Done + 1
	}
	return fn.State.Write(sp, f.encode())
}

// FinishBundle commits the partitions whose frontier moved in this bundle,
// once, and reports them.
func (fn *commitFn) FinishBundle(ctx context.Context, emit func(Committed)) error {
	if len(fn.dirty) == 0 {
		return nil
	}
	keys := make([]string, 0, len(fn.dirty))
	for k := range fn.dirty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Committed
	for _, k := range keys {
		i := strings.LastIndexByte(k, '/')
		topic := k[:i]
		p, _ := strconv.Atoi(k[i+1:])
		pom, ok := fn.poms[k]
		if !ok {
			var err error
			if pom, err = fn.om.ManagePartition(topic, int32(p)); err != nil {
				return fmt.Errorf("kafkaio: committing %s: %w", k, err)
			}
			fn.poms[k] = pom
		}
		pom.MarkOffset(fn.dirty[k], "")
		out = append(out, Committed{Topic: topic, Partition: int32(p), Offset: fn.dirty[k]})
	}
	// A commit the broker refuses for now (its coordinator moving to
	// another broker, or restarting) is retried here rather than failing
	// the job, as prism would; what is still uncommitted after the retry
	// timeout is retried with the next bundle, so a stream outlives any
	// outage, and the warning says offsets are behind.
	err := retry(ctx, "committing offsets of group "+fn.Cfg.Group, fn.Cfg.retryTimeout(), func() error {
		fn.om.Commit()
		for _, k := range keys {
			select {
			case perr := <-fn.poms[k].Errors():
				return fmt.Errorf("%s: %w", k, perr.Err)
			default:
			}
		}
		return nil
	})
	if err != nil {
		log.Warnf(ctx, "%v (retrying with the next bundle)", err)
		fn.failed = fn.dirty
		return nil
	}
	for _, c := range out {
		log.Debugf(ctx, "kafkaio: committed %s/%d at %d", c.Topic, c.Partition, c.Offset)
		emit(c)
	}
	return nil
}

func (fn *commitFn) Teardown() {
	for _, pom := range fn.poms {
		_ = pom.Close()
	}
	if fn.om != nil {
		_ = fn.om.Close()
	}
	if fn.client != nil {
		_ = fn.client.Close()
	}
}
