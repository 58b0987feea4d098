package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

// DefaultGroup is the consumer group used when Options.Group is empty.
const DefaultGroup = "alertbeam-consume"

// Where a group with no committed offset for a partition starts in it.
// Once the group has committed, it always resumes from there.
const (
	FromEarliest = "earliest"
	FromLatest   = "latest"
)

// Options configure Consume.
type Options struct {
	// Brokers are host:port addresses of the Kafka cluster.
	Brokers []string
	// Security of the connection; the zero value is PLAINTEXT.
	Security kafkaio.Security
	Topic    string
	// Group is the consumer group (DefaultGroup when empty). Consumers in
	// one group share the topic's partitions and resume from the group's
	// committed offsets.
	Group string
	// From is FromEarliest (default) or FromLatest, for partitions the group
	// has not committed an offset for.
	From string
	// Limit stops after exactly this many alerts (error lines do not
	// count); 0 means no limit.
	Limit int
	// Timeout stops after this long without a message; 0 means never. The
	// clock starts when the group has assigned partitions, not while
	// joining (a real cluster delays a new group's first join by ~3 s).
	Timeout time.Duration
	// Survey is "ztf", "lsst", or "" to detect each message's framing: an
	// Avro container (magic "Obj\x01", ZTF) or the Confluent wire format
	// (byte 0x00, LSST).
	Survey string
	// Registry is the schema-registry URL that LSST wire-format schema ids
	// are resolved through; required for LSST.
	Registry string
	// SaveDir, when set, receives each alert's exact message bytes as
	// SaveDir/<topic>/<candid or diaSourceId>.avro.
	SaveDir string
	// Progress receives a single updating status line (count, rate, errors),
	// ended by a newline when Consume returns; nil for none.
	Progress io.Writer
	// Logf receives warnings from the Kafka client (consumer errors that
	// sarama retries, failed commits); nil discards them. It is called
	// from several goroutines.
	Logf func(format string, args ...any)
}

// Stats describe one Consume call.
type Stats struct {
	Alerts int   // summary lines written
	Errors int   // error lines written (messages that did not decode)
	Bytes  int64 // message bytes of both
	// Elapsed is the wall time of the whole call, joining included.
	Elapsed time.Duration
}

// Consume reads opts.Topic as member of opts.Group and writes one JSON line
// per message to out: a ZTFSummary or LSSTSummary for an alert, an
// ErrorLine for a message that does not decode. Each line is a single Write,
// and a message's offset is committed only after its line was written.
//
// It stops when opts.Limit alerts have been written, when opts.Timeout
// passes without a message, or when ctx is cancelled, and then commits the
// offsets of everything it wrote before returning. Stopping for any of
// these reasons returns a nil error. Failures that are not the message's
// fault (the output or SaveDir cannot be written, the schema registry is
// unreachable or not configured for an LSST message) stop the consumer with
// an error, leaving that message uncommitted so the next run retries it.
func Consume(ctx context.Context, opts Options, out io.Writer) (Stats, error) {
	start := time.Now()
	opts, err := opts.validate()
	if err != nil {
		return Stats{}, err
	}
	dec, err := newDecoders(opts)
	if err != nil {
		return Stats{}, err
	}
	sc, err := saramaConfig(opts)
	if err != nil {
		return Stats{}, err
	}
	client, err := sarama.NewClient(opts.Brokers, sc)
	if err != nil {
		return Stats{}, fmt.Errorf("consumer: connecting to %s: %w", strings.Join(opts.Brokers, ","), err)
	}
	group, err := sarama.NewConsumerGroupFromClient(opts.Group, client)
	if err != nil {
		client.Close()
		return Stats{}, fmt.Errorf("consumer: group %s: %w", opts.Group, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{
		opts: opts, out: out, dec: dec, cancel: cancel,
		activity: make(chan struct{}, 1),
		marked:   map[topicPartition]int64{},
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// Closed by group.Close below.
		for err := range group.Errors() {
			r.logf("consumer: %v", err)
		}
	})
	var bg sync.WaitGroup // goroutines that end with cctx
	if opts.Timeout > 0 {
		bg.Go(func() { r.watchIdle(cctx, opts.Timeout) })
	}
	var bar *progress
	if opts.Progress != nil {
		bar = &progress{w: opts.Progress}
		bg.Go(func() { bar.run(cctx, r.snapshot) })
	}

	// Consume returns at every rebalance; join again until told to stop.
	for cctx.Err() == nil {
		if err := group.Consume(cctx, []string{opts.Topic}, r); err != nil {
			if cctx.Err() == nil {
				r.fail(fmt.Errorf("consumer: %w", err))
			}
			break
		}
	}
	cancel()
	bg.Wait()
	// The session was released inside Consume, committing what was marked;
	// Close only leaves the group (so the others rebalance at once).
	if err := group.Close(); err != nil {
		r.logf("consumer: leaving group %s: %v", opts.Group, err)
	}
	wg.Wait()
	commitErr := r.checkCommitted(client)

	stats, _, _ := r.snapshot()
	stats.Elapsed = time.Since(start)
	if bar != nil {
		bar.finish(r.snapshot)
	}
	r.mu.Lock()
	fatal := r.fatal
	r.mu.Unlock()
	return stats, errors.Join(fatal, commitErr)
}

func (o Options) validate() (Options, error) {
	if err := (kafkaio.Config{Brokers: o.Brokers, Security: o.Security}).Validate(); err != nil {
		return o, fmt.Errorf("consumer: %w", err)
	}
	if o.Topic == "" {
		return o, errors.New("consumer: no topic (--topic, or kafka://host:port/topic)")
	}
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	switch o.From {
	case "":
		o.From = FromEarliest
	case FromEarliest, FromLatest:
	default:
		return o, fmt.Errorf("consumer: from %q: want %s or %s", o.From, FromEarliest, FromLatest)
	}
	if o.Limit < 0 {
		return o, fmt.Errorf("consumer: limit %d: must be 0 (none) or positive", o.Limit)
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("consumer: timeout %v: must be 0 (none) or positive", o.Timeout)
	}
	switch o.Survey {
	case "", schemas.ZTF:
	case schemas.LSST:
		if o.Registry == "" {
			return o, errors.New("consumer: LSST alerts need a schema registry (--registry URL)")
		}
	default:
		return o, fmt.Errorf("consumer: survey %q: want ztf, lsst, or empty to detect each message", o.Survey)
	}
	return o, nil
}

func newDecoders(o Options) (*decoders, error) {
	d := &decoders{survey: o.Survey}
	var err error
	if d.ztf, err = framing.NewZTF(); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	if o.Registry != "" {
		cl, err := registry.NewClient(o.Registry)
		if err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
		if d.lsst, err = framing.NewLSST(cl); err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
	}
	return d, nil
}

// saramaConfig builds the client configuration on kafkaio's, which applies
// the security settings (SASL PLAIN/SCRAM, TLS).
func saramaConfig(o Options) (*sarama.Config, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: o.Brokers, ClientID: "alertbeam-consume", Security: o.Security})
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	// Errors come back on group.Errors() for Logf instead of sarama's
	// global logger.
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if o.From == FromLatest {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	// Auto-commit only ever sends what was marked, and we mark after the
	// output is written, so the periodic commit keeps at-least-once and
	// bounds how much a crash repeats.
	sc.Consumer.Offsets.AutoCommit.Enable = true
	sc.Consumer.Offsets.AutoCommit.Interval = time.Second
	// Alerts are 20-150 KB: fetch several per request, but keep what waits
	// in memory per partition (ChannelBufferSize messages) to a few MB.
	sc.Consumer.Fetch.Default = 4 << 20
	sc.ChannelBufferSize = 32
	// Saving fsyncs every packet; a slow disk should not make sarama
	// think the handler stalled and stop fetching.
	sc.Consumer.MaxProcessingTime = time.Second
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return sc, nil
}

type topicPartition struct {
	topic     string
	partition int32
}

// run is the state of one Consume call, and the group's handler.
type run struct {
	opts     Options
	out      io.Writer
	dec      *decoders
	cancel   context.CancelFunc
	activity chan struct{} // a message or an assignment arrived

	mu       sync.Mutex
	stats    Stats
	reserved int                      // alerts admitted under Limit (written or being saved)
	marked   map[topicPartition]int64 // next offset to commit, per partition
	first    time.Time                // when the first line was written
	last     time.Time                // when the latest line was written
	fatal    error
}

// Setup starts the idle clock: the group has assigned our partitions.
func (r *run) Setup(sarama.ConsumerGroupSession) error {
	r.touch()
	return nil
}

// Cleanup commits what was marked, synchronously, as the session ends
// (sarama flushes once more when it releases the session).
func (r *run) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	return nil
}

// ConsumeClaim handles one partition's messages in order, so marks within
// a partition only move forward. Partitions run concurrently, which
// spreads decoding over cores.
func (r *run) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok || !r.handle(sess, msg) {
				return nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

// handle decodes, saves and prints one message and marks it; false means
// stop reading this partition.
func (r *run) handle(sess sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage) bool {
	ctx := sess.Context()
	if ctx.Err() != nil {
		return false
	}
	r.touch()
	src := Source{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset}
	d, err := r.dec.decode(ctx, src, msg.Value)
	alert := err == nil
	switch {
	case alert:
	case isDataError(err):
		if d.line, err = jsonLine(ErrorLine{Source: src, Error: err.Error()}); err != nil {
			r.fail(err)
			return false
		}
	case ctx.Err() != nil:
		// A registry lookup cut short by the stop: the message stays
		// unmarked and is read again next time.
		return false
	default:
		r.fail(fmt.Errorf("consumer: %s/%d offset %d: %w", src.Topic, src.Partition, src.Offset, err))
		return false
	}
	if alert {
		if !r.reserve() {
			return false
		}
		if r.opts.SaveDir != "" {
			if err := savePacket(r.opts.SaveDir, msg.Topic, d.id, msg.Value); err != nil {
				r.fail(err)
				return false
			}
		}
	}
	return r.emit(sess, msg, d.line, alert)
}

// reserve admits one more alert under Limit before it is saved, so that
// exactly Limit alerts are saved, printed and committed even when several
// partitions race for the last places.
func (r *run) reserve() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.Limit > 0 && r.reserved >= r.opts.Limit {
		return false
	}
	r.reserved++
	return true
}

// emit writes a line and only then marks the message, under one lock so
// lines never interleave and the counts match what was written.
func (r *run) emit(sess sarama.ConsumerGroupSession, msg *sarama.ConsumerMessage, line []byte, alert bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !alert && r.opts.Limit > 0 && r.reserved >= r.opts.Limit {
		// The limit is taken: commit nothing beyond those alerts.
		return false
	}
	if _, err := r.out.Write(line); err != nil {
		r.failLocked(fmt.Errorf("consumer: writing output: %w", err))
		return false
	}
	sess.MarkMessage(msg, "")
	r.marked[topicPartition{msg.Topic, msg.Partition}] = msg.Offset + 1
	now := time.Now()
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	r.stats.Bytes += int64(len(msg.Value))
	if !alert {
		r.stats.Errors++
		return true
	}
	r.stats.Alerts++
	if r.opts.Limit > 0 && r.stats.Alerts >= r.opts.Limit {
		r.cancel()
		return false
	}
	return true
}

func (r *run) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failLocked(err)
}

func (r *run) failLocked(err error) {
	if r.fatal == nil {
		r.fatal = err
	}
	r.cancel()
}

// touch tells the idle watcher something arrived; it never blocks.
func (r *run) touch() {
	select {
	case r.activity <- struct{}{}:
	default:
	}
}

// watchIdle stops the run once timeout passes without activity, counting
// from the first assignment.
func (r *run) watchIdle(ctx context.Context, timeout time.Duration) {
	var idle <-chan time.Time
	var t *time.Timer
	for {
		select {
		case <-r.activity:
			if t == nil {
				t = time.NewTimer(timeout)
				defer t.Stop()
			} else {
				t.Reset(timeout)
			}
			idle = t.C
		case <-idle:
			r.cancel()
			return
		case <-ctx.Done():
			return
		}
	}
}

// snapshot returns the counts so far and when lines were first and last
// written, for the progress line.
func (r *run) snapshot() (Stats, time.Time, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats, r.first, r.last
}

func (r *run) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// checkCommitted asks the group coordinator for the group's offsets and
// reports every partition whose commit is behind what this run wrote:
// sarama's final commit reports failures only to its error channel, and a
// user told "done" must not find those alerts again next time. (A group
// member that took a partition over may have committed further; that is
// fine.) It closes client.
func (r *run) checkCommitted(client sarama.Client) error {
	r.mu.Lock()
	want := make(map[topicPartition]int64, len(r.marked))
	parts := map[string][]int32{}
	for tp, off := range r.marked {
		want[tp] = off
		parts[tp.topic] = append(parts[tp.topic], tp.partition)
	}
	r.mu.Unlock()
	if len(want) == 0 {
		return client.Close()
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		r.logf("consumer: could not check the committed offsets: %v", err)
		return nil
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(r.opts.Group, parts)
	if err != nil {
		r.logf("consumer: could not check the committed offsets: %v", err)
		return nil
	}
	var behind []string
	for tp, off := range want {
		b := resp.GetBlock(tp.topic, tp.partition)
		switch {
		case b == nil:
			behind = append(behind, fmt.Sprintf("%s/%d: none, want %d", tp.topic, tp.partition, off))
		case b.Err != sarama.ErrNoError:
			behind = append(behind, fmt.Sprintf("%s/%d: %v", tp.topic, tp.partition, b.Err))
		case b.Offset < off:
			behind = append(behind, fmt.Sprintf("%s/%d: %d, want %d", tp.topic, tp.partition, b.Offset, off))
		}
	}
	if len(behind) > 0 {
		return fmt.Errorf("consumer: group %s did not commit everything written (the next run repeats those alerts): %s",
			r.opts.Group, strings.Join(behind, "; "))
	}
	return nil
}

// jsonLine encodes v as one line.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return append(b, '\n'), nil
}
