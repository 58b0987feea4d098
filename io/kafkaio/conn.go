package kafkaio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// conn is a process-wide sarama client and consumer for one Config, shared by
// every DoFn instance in the process. Sharing matters: sarama allows one
// consumer per partition per Consumer, and a checkpointed partition read may
// resume on another DoFn instance than the one holding its consumer.
type conn struct {
	key      string
	client   sarama.Client
	consumer sarama.Consumer
	refs     int

	mu    sync.Mutex
	parts map[topicPartition]*partReader
	ends  map[topicPartition]*endEstimator

	// outages tracks partitions that fail to read, for every DoFn
	// instance reading them.
	outages outage

	// marks are the partitions' own watermarks (Unix ms) and wm the
	// read's (see holdAt); started lists the partitions that have begun.
	marks   map[topicPartition]int64
	started map[topicPartition]bool
	wm      int64
}

// start registers a partition the first time it is read: until it has
// read a record or found itself caught up, it holds the read's watermark
// at the beginning of time.
func (c *conn) start(tp topicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started == nil {
		c.started, c.marks, c.wm = map[topicPartition]bool{}, map[topicPartition]int64{}, int64(mtime.MinTimestamp)
	}
	if c.started[tp] {
		return
	}
	c.started[tp] = true
	c.marks[tp] = int64(mtime.MinTimestamp)
}

// holdAt moves a started partition's own watermark forward to ms and
// returns the watermark it should report: the read's, the least over the
// partitions that hold one, never moving back. Each partition reporting
// the read's watermark, not its own, keeps the stage's watermark right on
// prism, which otherwise lets one partition's bundle move the stage's
// output watermark past records another partition has yet to emit.
func (c *conn) holdAt(tp topicPartition, ms int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.marks[tp]; !ok || ms > cur {
		c.marks[tp] = ms
	}
	return c.advanceLocked()
}

// idle lets a caught-up (or finished) partition stop holding the read's
// watermark, and returns the read's watermark, which the partition then
// reports; its next record holds the watermark again.
func (c *conn) idle(tp topicPartition) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.marks, tp)
	return c.advanceLocked()
}

// advanceLocked moves the read's watermark to the least mark, if that is
// later, and returns it.
func (c *conn) advanceLocked() int64 {
	if len(c.marks) == 0 {
		return c.wm
	}
	least := int64(mtime.MaxTimestamp)
	for _, m := range c.marks {
		least = min(least, m)
	}
	c.wm = max(c.wm, least)
	return c.wm
}

var (
	connsMu sync.Mutex
	conns   = map[string]*conn{}
)

func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// getConn returns the connection of one Read (run) to one cluster.
func getConn(run string, c Config) (*conn, error) {
	keyBytes, _ := json.Marshal(c)
	key := run + string(keyBytes)
	connsMu.Lock()
	defer connsMu.Unlock()
	if cn, ok := conns[key]; ok {
		cn.refs++
		return cn, nil
	}
	sc, err := saramaConfig(c)
	if err != nil {
		return nil, err
	}
	// Each partition's prefetch buffer holds this many messages; alerts are
	// up to 150 KB, so keep it modest.
	sc.ChannelBufferSize = 64
	// A fetch response is held whole until each partition's share is
	// parsed: 2 MB per partition (a dozen LSST alerts, thirty ZTF) keeps
	// the responses of a read of many partitions small, and a fetch of a
	// local broker takes about a millisecond.
	sc.Consumer.Fetch.Default = 2 << 20
	sc.Consumer.Return.Errors = true
	cl, err := newClient(context.Background(), c, sc)
	if err != nil {
		return nil, err
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafkaio: %w", err)
	}
	cn := &conn{key: key, client: cl, consumer: cons, refs: 1,
		parts: map[topicPartition]*partReader{}, ends: map[topicPartition]*endEstimator{}}
	conns[key] = cn
	return cn, nil
}

func (c *conn) release() {
	connsMu.Lock()
	defer connsMu.Unlock()
	c.refs--
	if c.refs > 0 {
		return
	}
	delete(conns, c.key)
	c.mu.Lock()
	for _, p := range c.parts {
		if p.pc != nil {
			p.pc.AsyncClose()
			p.abandon()
		}
	}
	c.mu.Unlock()
	c.consumer.Close()
	c.client.Close()
}

// partReader is the open consumer of one partition and the next offset it
// will deliver. Its lock is held by the one ProcessElement reading it.
type partReader struct {
	lock   sync.Mutex
	pc     sarama.PartitionConsumer
	next   int64
	broken bool

	// q is fed by pump, which drains pc at once so that sarama's fetch
	// loop, shared by every partition on a broker, never waits on this
	// one while the reader is busy with another; pump pauses fetching
	// instead once the queue is full.
	q *pumped
}

// pumped is the read-ahead queue of one partition consumer.
type pumped struct {
	msgs   chan *sarama.ConsumerMessage
	queued atomic.Int64
	paused atomic.Bool
}

func msgBytes(m *sarama.ConsumerMessage) int64 { return int64(len(m.Key) + len(m.Value)) }

// pumpHigh and pumpLow bound what each partition holds read ahead: about
// a hundred ZTF alerts, more than a bundle takes at once. 32/16 MB held
// the same throughput at 50,000 alerts of backlog (qa phase: 791-818/s
// against 820-864/s) with ~250 MB more peak RSS (1,660-1,811 MB against
// 1,465-1,544).
const pumpHigh, pumpLow = 8 << 20, 4 << 20

// readAhead is what every partition of every Read in the process holds read
// ahead. Past readAheadMax a partition holding more than pumpMin pauses
// too: a read of 50 partitions would otherwise hold 400 MB ahead. One
// holding less always reads on, so every partition moves.
var readAhead atomic.Int64

// Variables only so that tests can make them tight.
var (
	readAheadMax int64 = 64 << 20
	pumpMin      int64 = 1 << 20
)

// full says whether a partition holding queued bytes should stop fetching.
func full(queued int64) bool {
	return queued > pumpHigh || (queued > pumpMin && readAhead.Load() > readAheadMax)
}

func pump(pc sarama.PartitionConsumer, q *pumped) {
	defer close(q.msgs)
	for m := range pc.Messages() {
		// Queued and passed on, a message must not pin its fetch
		// response: what this queue and the writers downstream hold is
		// then what they count.
		detach(m)
		n := msgBytes(m)
		readAhead.Add(n)
		if full(q.queued.Add(n)) && !q.paused.Swap(true) {
			pc.Pause()
		}
		q.msgs <- m
	}
}

// taken accounts for a message the reader took from the queue.
func (p *partReader) taken(m *sarama.ConsumerMessage) {
	n := msgBytes(m)
	readAhead.Add(-n)
	if q := p.q.queued.Add(-n); q < pumpLow && !full(q) && p.q.paused.Swap(false) {
		p.pc.Resume()
	}
}

// abandon gives up the queue of a consumer being closed: what it holds, and
// what its pump still passes on, is no longer read ahead.
func (p *partReader) abandon() {
	if q := p.q; q != nil {
		p.q = nil
		go func() {
			for m := range q.msgs {
				readAhead.Add(-msgBytes(m))
			}
		}()
	}
}

func (p *partReader) unlock() { p.lock.Unlock() }

// closeConsumer closes the partition's consumer (the caller holds the lock).
func (p *partReader) closeConsumer() {
	if p.pc != nil {
		p.pc.AsyncClose()
		p.pc = nil
		p.abandon()
	}
}

// errBusy: another call still holds the partition (it is finishing).
var errBusy = errors.New("kafkaio: partition busy")

// partition returns the locked reader of a partition positioned at offset,
// reusing the open consumer (and its prefetched messages) when it is there.
// It waits at most wait for the partition, so a stuck holder cannot
// deadlock the read: the caller checkpoints and tries again.
func (c *conn) partition(ctx context.Context, topic string, partition int32, offset int64, wait time.Duration) (*partReader, error) {
	tp := topicPartition{topic, partition}
	c.mu.Lock()
	p, ok := c.parts[tp]
	if !ok {
		p = &partReader{}
		c.parts[tp] = p
	}
	c.mu.Unlock()
	if !lockWithin(ctx, &p.lock, wait) {
		return nil, errBusy
	}
	if p.pc != nil && !p.broken && p.next == offset {
		return p, nil
	}
	if p.pc != nil {
		p.pc.Close() // drains and releases the partition for a new consumer
		p.pc = nil
		p.abandon()
	}
	pc, err := c.consumer.ConsumePartition(topic, partition, offset)
	if errors.Is(err, sarama.ErrOffsetOutOfRange) {
		pc, err = c.consumer.ConsumePartition(topic, partition, sarama.OffsetOldest)
	}
	if err != nil {
		p.lock.Unlock()
		return nil, err
	}
	p.pc, p.next, p.broken = pc, offset, false
	p.q = &pumped{msgs: make(chan *sarama.ConsumerMessage, 1<<16)}
	go pump(pc, p.q)
	return p, nil
}

// committed returns the group's committed offset of a partition, or -1.
func (c *conn) committed(group, topic string, partition int32) (int64, error) {
	admin, err := sarama.NewClusterAdminFromClient(c.client)
	if err != nil {
		return 0, err
	}
	// Closing this admin would close the shared client, so it is left open;
	// it holds no resources of its own.
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {partition}})
	if err != nil {
		return 0, err
	}
	b := resp.GetBlock(topic, partition)
	if b == nil {
		return -1, nil
	}
	if b.Err != sarama.ErrNoError {
		return 0, b.Err
	}
	return b.Offset, nil
}

// endEstimator reports a partition's newest offset, cached briefly because
// runners ask for progress often.
type endEstimator struct {
	client    sarama.Client
	topic     string
	partition int32

	mu   sync.Mutex
	last int64
	at   time.Time
}

func (c *conn) estimator(topic string, partition int32) *endEstimator {
	tp := topicPartition{topic, partition}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ends[tp]
	if !ok {
		e = &endEstimator{client: c.client, topic: topic, partition: partition}
		c.ends[tp] = e
	}
	return e
}

func (e *endEstimator) Estimate() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.at) < time.Second {
		return e.last
	}
	if off, err := e.client.GetOffset(e.topic, e.partition, sarama.OffsetNewest); err == nil {
		e.last = off
	}
	// On error the last estimate stands: progress is advisory.
	e.at = time.Now()
	return e.last
}

func lockWithin(ctx context.Context, mu *sync.Mutex, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for !mu.TryLock() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
