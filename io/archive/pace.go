package archive

import (
	"container/heap"
	"context"
	"errors"
	"iter"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(beam.EventTime, kafkaio.Record), error](&pacedReadFn{})
}

// pacedReadFn replays a night at its original cadence scaled by Cfg.Speed.
// It merges every file of the night by observation time (each file holds
// its alerts in the order they arrived, so a merge of the files' heads is
// the night's order) and emits each record when its moment comes. One
// element does the whole night: emitted records flow on through the fused
// stages after it (to Kafka, or into filters) as they are emitted.
type pacedReadFn struct {
	Cfg ReadConfig

	codec  *framing.Codec
	stores openStores
	recs   beam.Counter
	behind beam.Distribution
}

func (fn *pacedReadFn) Setup() error {
	c, err := framing.New(fn.Cfg.Survey, nil)
	if err != nil {
		return err
	}
	fn.codec = c
	fn.stores = openStores{}
	fn.recs = beam.NewCounter("alertbeam", "archive_records_replayed")
	fn.behind = beam.NewDistribution("alertbeam", "archive_replay_behind_ms")
	return nil
}

func (fn *pacedReadFn) Teardown() { fn.stores.closeAll() }

func (fn *pacedReadFn) ProcessElement(ctx context.Context, _ []byte, emit func(beam.EventTime, kafkaio.Record)) error {
	refs, err := listFiles(ctx, fn.Cfg)
	if err != nil {
		return err
	}
	m := &merge{}
	defer m.stop()
	for _, ref := range refs {
		st, err := fn.stores.get(ctx, ref.Root)
		if err != nil {
			return err
		}
		if err := m.add(fileRecords(ctx, st, ref.Name, fn.codec)); err != nil {
			return err
		}
	}
	clock := pacer{speed: fn.Cfg.Speed}
	for m.Len() > 0 {
		r := m.heads[0].rec
		behind, err := clock.wait(ctx, r.Timestamp)
		if errors.Is(err, errDrained) {
			// Asked to stop (kafkaio.Drain): what was emitted goes on
			// to its sinks, and the replay ends there.
			return nil
		}
		if err != nil {
			return err
		}
		fn.behind.Update(ctx, behind.Milliseconds())
		emit(beam.EventTime(r.Timestamp.UnixMilli()), r)
		fn.recs.Inc(ctx, 1)
		if err := m.advance(); err != nil {
			return err
		}
	}
	return nil
}

// pacer maps observation times to wall-clock times: the first record is due
// at once, every later one when its distance from the first, divided by
// speed, has passed.
type pacer struct {
	speed       float64
	first, wall time.Time
}

// wait blocks until t is due and returns how late it was emitted (0 when
// the replay kept up). A record earlier than the first one is due at once.
func (p *pacer) wait(ctx context.Context, t time.Time) (time.Duration, error) {
	now := time.Now()
	if p.wall.IsZero() {
		p.first, p.wall = t, now
		return 0, nil
	}
	due := p.wall.Add(time.Duration(float64(t.Sub(p.first)) / p.speed))
	if d := due.Sub(now); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-kafkaio.Drained():
			return 0, errDrained
		case <-timer.C:
		}
		return 0, nil
	}
	if kafkaio.Draining() {
		return 0, errDrained
	}
	return now.Sub(due), nil
}

// errDrained ends a paced replay when the process is asked to stop.
var errDrained = errors.New("archive: replay stopped (drain)")

// merge is a min-heap of files by the observation time of their next
// record.
type merge struct {
	heads []*head
}

type head struct {
	rec  kafkaio.Record
	next func() (kafkaio.Record, error, bool)
	stop func()
}

func (m *merge) Len() int           { return len(m.heads) }
func (m *merge) Less(i, j int) bool { return m.heads[i].rec.Timestamp.Before(m.heads[j].rec.Timestamp) }
func (m *merge) Swap(i, j int)      { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *merge) Push(x any)         { m.heads = append(m.heads, x.(*head)) }
func (m *merge) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
}

// add starts a file; an empty file adds nothing.
func (m *merge) add(seq iter.Seq2[kafkaio.Record, error]) error {
	next, stop := iter.Pull2(seq)
	h := &head{next: next, stop: stop}
	ok, err := h.pull()
	if err != nil || !ok {
		stop()
		return err
	}
	heap.Push(m, h)
	return nil
}

// advance replaces the smallest head by its file's next record.
func (m *merge) advance() error {
	h := m.heads[0]
	ok, err := h.pull()
	if err != nil {
		return err
	}
	if !ok {
		h.stop()
		heap.Pop(m)
		return nil
	}
	heap.Fix(m, 0)
	return nil
}

func (h *head) pull() (bool, error) {
	r, err, ok := h.next()
	if !ok {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	h.rec = r
	return true, nil
}

// stop closes every file still open.
func (m *merge) stop() {
	for _, h := range m.heads {
		h.stop()
	}
	m.heads = nil
}
