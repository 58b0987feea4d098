package kafkaio

// The read-ahead reader behind Fetch: one per partition, fetching in its own
// goroutine ahead of the elements that ask for records, and accounting for
// every offset from where it was placed.

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// fetchAhead is what every Fetch reader of the process holds fetched and not
// yet taken. Each reader may hold its own limit (PrefetchBytes), but a
// pipeline runs several Fetch instances at once (one per bundle in flight,
// per stage), each with a reader per partition it was asked for, and those
// add up to hundreds of MB of alerts that no element is waiting for
// (207 MB of a 480 MB heap in a qa run). fetchAheadMax bounds the sum,
// except that a reader an element is reading may always fetch once it has
// nothing queued: that element is never held back.
var fetchAhead atomic.Int64

var fetchAheadMax int64 = 32 << 20 // a variable only so that tests can make it tight

// fact is what a reader learned about one offset or a run of them: the
// record there, or that they hold none, and why.
type fact struct {
	msg      *sarama.ConsumerMessage
	from, to int64
	why      string
}

func (f fact) bytes() int64 {
	if f.msg == nil {
		return 0
	}
	n := len(f.msg.Key) + len(f.msg.Value)
	for _, h := range f.msg.Headers {
		if h != nil {
			n += len(h.Key) + len(h.Value)
		}
	}
	return int64(n)
}

// reader fetches one partition ahead of the elements that read it, in its
// own goroutine, and accounts for every offset from where it was placed:
// each is a record or a run without one. It lives across elements.
type reader struct {
	tp     topicPartition
	client sarama.Client
	spec   fetchSpec
	limit  int64
	wake   chan<- struct{}
	kick   chan struct{} // the fetch loop has something to look at
	stop   chan struct{}
	done   chan struct{}
	used   int64 // the element that last used it (ProcessElement's goroutine only)

	mu     sync.Mutex
	placed int64 // how often it was placed; fetches from an earlier placing are dropped
	pos    int64 // the next offset to fetch
	next   int64 // the offset after the last fact taken
	queue  []fact
	queued int64
	wanted bool // an element is reading it (from place to unwant)
	hwm    int64
	endAt  time.Time // when a fetch found pos at the high-water mark; zero otherwise
	err    error     // the last fetch's error
}

func newReader(tp topicPartition, client sarama.Client, spec fetchSpec, limit int64, wake chan<- struct{}) *reader {
	r := &reader{tp: tp, client: client, spec: spec, limit: limit, wake: wake,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

func (r *reader) close() { close(r.stop) }

// unwant says no element is reading the reader any more: until it is
// placed again it fetches only within the process's budget.
func (r *reader) unwant() {
	r.mu.Lock()
	r.wanted = false
	r.mu.Unlock()
}

// place makes the reader deliver facts from offset on. It reads on when
// offset is no further than readAhead past what it has fetched, keeping
// what it fetched ahead, and seeks otherwise.
func (r *reader) place(offset, readAhead int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.wanted {
		r.wanted = true
		notify(r.kick)
	}
	if r.placed > 0 && r.next <= offset && offset <= r.pos+readAhead {
		return
	}
	r.placed++
	r.pos, r.next = offset, offset
	fetchAhead.Add(-r.queued)
	r.queue, r.queued = nil, 0
	r.endAt, r.err = time.Time{}, nil
	notify(r.kick)
}

// take returns the next fact, if there is one.
func (r *reader) take() (fact, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return fact{}, false
	}
	f := r.queue[0]
	r.queue[0] = fact{}
	r.queue = r.queue[1:]
	r.queued -= f.bytes()
	fetchAhead.Add(-f.bytes())
	if f.msg != nil {
		r.next = f.msg.Offset + 1
	} else {
		r.next = f.to + 1
	}
	notify(r.kick)
	return f, true
}

// end returns the high-water mark once every fact before it was taken and
// a fetch begun since since found it. An older finding is checked again
// first: the partition may have grown.
func (r *reader) end(since time.Time) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) > 0 || r.endAt.IsZero() {
		return 0, false
	}
	if r.endAt.Before(since) {
		r.endAt = time.Time{}
		notify(r.kick)
		return 0, false
	}
	return r.hwm, true
}

func (r *reader) lastErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func notify(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run fetches while the reader is placed, short of its limit and not at the
// end, retrying failures with backoff. Past the process's budget
// (fetchAheadMax) it fetches only for an element waiting on it, and only
// once its queue is empty, so that readers whose partitions no element is
// reading cannot hold the process's memory while an element waits on
// another.
func (r *reader) run() {
	defer close(r.done)
	defer func() {
		r.mu.Lock()
		fetchAhead.Add(-r.queued)
		r.queue, r.queued = nil, 0
		r.mu.Unlock()
	}()
	size := int32(firstFetchBytes)
	wait := backoffFirst
	for {
		r.mu.Lock()
		idle := r.placed == 0 || r.queued >= r.limit || !r.endAt.IsZero() ||
			((r.queued > 0 || !r.wanted) && fetchAhead.Load() >= fetchAheadMax)
		placed, pos := r.placed, r.pos
		r.mu.Unlock()
		if idle {
			select {
			case <-r.kick:
				continue
			case <-r.stop:
				return
			}
		}
		at := time.Now()
		facts, next, hwm, err := r.fetch(pos, &size)
		r.mu.Lock()
		if placed != r.placed {
			r.mu.Unlock()
			continue
		}
		if err != nil {
			r.err = err
			r.mu.Unlock()
			// A new placing retries at once.
			select {
			case <-time.After(wait):
			case <-r.kick:
			case <-r.stop:
				return
			}
			wait = min(2*wait, backoffMax)
			continue
		}
		wait = backoffFirst
		r.err = nil
		for _, f := range facts {
			r.queue = append(r.queue, f)
			r.queued += f.bytes()
			fetchAhead.Add(f.bytes())
		}
		r.pos = next
		if next >= hwm {
			r.hwm, r.endAt = hwm, at
		}
		r.mu.Unlock()
		notify(r.wake)
	}
}

// errNothing: the broker returned no records below its high-water mark,
// which it does while it reads them from remote storage or throttles us.
var errNothing = errors.New("no records returned below the high-water mark")

// fetch asks the partition's leader for what is at pos and on. It returns
// the facts learned, where to fetch next, and the high-water mark. size is
// how much to ask for; it grows when one record batch does not fit.
func (r *reader) fetch(pos int64, size *int32) (facts []fact, next, hwm int64, err error) {
	leader, err := r.client.Leader(r.tp.topic, r.tp.partition)
	if err != nil {
		_ = r.client.RefreshMetadata(r.tp.topic)
		return nil, 0, 0, err
	}
	req := &sarama.FetchRequest{Version: r.spec.version, MinBytes: 1, MaxBytes: *size, Isolation: sarama.ReadUncommitted}
	if req.Version >= 7 {
		req.SessionEpoch = -1 // no fetch session: every request names its partition
	}
	req.AddBlock(r.tp.topic, r.tp.partition, pos, *size, -1)
	resp, err := leader.Fetch(req)
	if err != nil {
		// A broker whose connection failed is opened again by the client
		// on the next request only once it is closed.
		_ = leader.Close()
		return nil, 0, 0, err
	}
	b := resp.GetBlock(r.tp.topic, r.tp.partition)
	switch {
	case b == nil:
		return nil, 0, 0, sarama.ErrIncompleteResponse
	case errors.Is(b.Err, sarama.ErrOffsetOutOfRange):
		return r.outOfRange(pos)
	case !errors.Is(b.Err, sarama.ErrNoError):
		// Most likely the leader moved: look it up again.
		_ = r.client.RefreshMetadata(r.tp.topic)
		return nil, 0, 0, b.Err
	}
	facts, next, partial := parseBlock(r.tp, pos, b)
	if next == pos && pos < b.HighWaterMarkOffset {
		if partial && *size < r.spec.maxBytes {
			*size = min(2**size, r.spec.maxBytes)
			return nil, pos, b.HighWaterMarkOffset, nil
		}
		if partial {
			return nil, 0, 0, fmt.Errorf("a record batch larger than %d bytes", r.spec.maxBytes)
		}
		return nil, 0, 0, errNothing
	}
	return facts, next, b.HighWaterMarkOffset, nil
}

// outOfRange places a fetch the broker refused: before the partition's
// oldest offset (deleted), or past its end.
func (r *reader) outOfRange(pos int64) (facts []fact, next, hwm int64, err error) {
	oldest, err := r.client.GetOffset(r.tp.topic, r.tp.partition, sarama.OffsetOldest)
	if err != nil {
		return nil, 0, 0, err
	}
	hwm, err = r.client.GetOffset(r.tp.topic, r.tp.partition, sarama.OffsetNewest)
	if err != nil {
		return nil, 0, 0, err
	}
	switch {
	case pos < oldest:
		return []fact{{from: pos, to: oldest - 1, why: whyDeleted(oldest)}}, oldest, hwm, nil
	case pos >= hwm:
		return nil, pos, hwm, nil
	}
	return nil, 0, 0, sarama.ErrOffsetOutOfRange // the log moved between the answers: fetch again
}

// parseBlock turns a fetch response from pos into facts covering every
// offset from pos to next-1. Batches tell which offsets they span, so
// offsets in no batch were removed by compaction and those in control
// batches are transaction markers. partial reports a batch cut short by
// the fetch size, which the next fetch asks for again.
func parseBlock(tp topicPartition, pos int64, b *sarama.FetchResponseBlock) (facts []fact, next int64, partial bool) {
	next = pos
	none := func(to int64, why string) {
		if to >= next {
			facts = append(facts, fact{from: next, to: to, why: why})
			next = to + 1
		}
	}
	record := func(m *sarama.ConsumerMessage) {
		// A batch starts before the offset asked for when that one is
		// inside it (always so for compressed batches).
		if m.Offset < next {
			return
		}
		none(m.Offset-1, whyHole)
		detach(m)
		facts = append(facts, fact{msg: m})
		next = m.Offset + 1
	}
	for _, rs := range b.RecordsSet {
		if rb := rs.RecordBatch; rb != nil {
			if rb.PartialTrailingRecord {
				return facts, next, true
			}
			if rb.Control {
				none(rb.FirstOffset-1, whyHole)
				none(rb.LastOffset(), whyMarker)
				continue
			}
			for _, rec := range rb.Records {
				ts := rb.FirstTimestamp.Add(rec.TimestampDelta)
				if rb.LogAppendTime {
					ts = rb.MaxTimestamp
				}
				record(&sarama.ConsumerMessage{Topic: tp.topic, Partition: tp.partition, Offset: rb.FirstOffset + rec.OffsetDelta,
					Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Timestamp: ts})
			}
			// Compaction may have removed the batch's last records.
			none(rb.LastOffset(), whyHole)
			continue
		}
		if ms := rs.MsgSet; ms != nil {
			// Messages in the format before Kafka 0.11: a compressed
			// message wraps others, whose offsets in format 1 count from
			// the first, the wrapper carrying the last one's.
			for _, mb := range ms.Messages {
				inner := mb.Messages()
				var shift int64
				if mb.Msg.Set != nil && mb.Msg.Version >= 1 && len(inner) > 0 {
					shift = mb.Offset - inner[len(inner)-1].Offset
				}
				for _, in := range inner {
					ts := in.Msg.Timestamp
					if mb.Msg.LogAppendTime {
						ts = mb.Msg.Timestamp
					}
					record(&sarama.ConsumerMessage{Topic: tp.topic, Partition: tp.partition, Offset: in.Offset + shift,
						Key: in.Msg.Key, Value: in.Msg.Value, Timestamp: ts})
				}
			}
			if ms.PartialTrailingMessage {
				return facts, next, true
			}
		}
	}
	return facts, next, false
}

// detach gives a message its own copy of its bytes. They are slices of the
// fetch response (8 MB and up to Fetch.Max, 64 MB): one record kept
// downstream, by a producer waiting for its acknowledgement or a queue,
// would keep the whole response alive. A copy of each frees the response
// as soon as it is parsed; a 70 KB copy costs microseconds.
func detach(m *sarama.ConsumerMessage) {
	m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value)
	for i, h := range m.Headers {
		if h != nil {
			m.Headers[i] = &sarama.RecordHeader{Key: bytes.Clone(h.Key), Value: bytes.Clone(h.Value)}
		}
	}
}
