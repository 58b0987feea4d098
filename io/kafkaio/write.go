package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"golang.org/x/sync/semaphore"

	"github.com/alertbeam/alertbeam/io/metrics"
)

func init() {
	register.DoFn4x1[context.Context, beam.EventTime, Message, func(beam.EventTime, Ack), error](&writeFn{})
	register.Emitter2[beam.EventTime, Ack]()
}

// Write produces messages, each to its own Topic, with an idempotent
// producer, creating missing topics with cfg's partitions and retention. It
// returns the Acks of the messages that carry a Source, emitted only after
// the broker acknowledged them. A broker error fails the bundle, so nothing
// is acknowledged that was not written. It panics on an invalid cfg.
func Write(s beam.Scope, cfg WriteConfig, msgs beam.PCollection) beam.PCollection {
	s = s.Scope("kafkaio.Write")
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return beam.ParDo(s, &writeFn{Cfg: cfg}, msgs)
}

type writeFn struct {
	Cfg WriteConfig

	client   sarama.Client
	admin    sarama.ClusterAdmin
	producer sarama.AsyncProducer
	known    map[string]bool

	mu      sync.Mutex
	sent    int
	done    int
	acks    []timedAck
	errs    []error
	settled *sync.Cond
	// Latencies of the bundle's messages, for the Beam distributions
	// (which need the bundle's context, so FinishBundle updates them).
	latencies []latency
	latDist   map[string]beam.Distribution

	// Messages the broker refused with a transient error are sent again
	// after a backoff; closing stops that before the producer closes.
	resending sync.RWMutex
	closed    bool
	outages   outage
}

type timedAck struct {
	ts  beam.EventTime
	ack Ack
}

// sendMeta rides along with each produced message to its success or error.
type sendMeta struct {
	ts      beam.EventTime
	source  Source
	units   int
	attempt int // sends of this message so far, less one
	srcTime time.Time
	output  string
	size    int64 // what it holds of unanswered (its share of the budget)
}

// unanswered bounds the bytes of every Write in the process that are sent
// and not yet answered by the broker, as the Java producer's buffer.memory
// does: sarama queues without a bound, and a pipeline runs several bundles
// at once, each of up to a thousand 70-150 KB alerts written to several
// topics, all held until the broker answers. ProcessElement waits for room.
// 64 MB is hundreds of alerts in flight, many produce requests' worth.
var (
	unansweredMax int64 = 32 << 20 // a variable only so that tests can make it tight
	unanswered          = semaphore.NewWeighted(unansweredMax)
)

// reserve waits until n bytes may be sent: one message larger than the whole
// budget waits for it to be all free.
func reserve(ctx context.Context, n int64) (int64, error) {
	n = min(n, unansweredMax)
	return n, unanswered.Acquire(ctx, n)
}

// latency is one message's time from its source record's timestamp to
// its acknowledgement.
type latency struct {
	output string
	d      time.Duration
}

// outputLabel is a message's output kind, "other" when it names none.
func outputLabel(kind string) string {
	if kind == "" {
		return metrics.OutputOther
	}
	return kind
}

// ProducerConfig is the sarama configuration Write's producers use (acks
// from every in-sync replica, idempotence, batching, cfg.Compression), for
// code outside a pipeline that must produce exactly as Write does.
func ProducerConfig(cfg WriteConfig) (*sarama.Config, error) {
	cfg = cfg.withDefaults()
	sc, err := saramaConfig(cfg.Config)
	if err != nil {
		return nil, err
	}
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	// sarama retries a message a few times itself (a leader moving); a
	// longer outage (a broker restart, a partition with no leader for a
	// while) comes back as an error, and collect sends the message again,
	// with backoff, for up to Cfg.RetryTimeout: prism fails the whole job
	// on a bundle error instead of retrying it.
	sc.Producer.Retry.Max = 10
	sc.Producer.Retry.Backoff = 250 * time.Millisecond
	sc.Producer.Flush.Bytes = 1 << 20
	// A byte or message threshold alone leaves a partial batch waiting;
	// the frequency sends it.
	sc.Producer.Flush.Frequency = 5 * time.Millisecond
	if !cfg.DisableIdempotence {
		sc.Producer.Idempotent = true
		sc.Net.MaxOpenRequests = 1
	}
	switch cfg.Compression {
	case "gzip":
		sc.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		sc.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		sc.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		sc.Producer.Compression = sarama.CompressionZSTD
	}
	return sc, nil
}

func (fn *writeFn) Setup() error {
	sc, err := ProducerConfig(fn.Cfg)
	if err != nil {
		return err
	}
	cl, err := newClient(context.Background(), fn.Cfg.Config, sc)
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		cl.Close()
		return fmt.Errorf("kafkaio: %w", err)
	}
	prod, err := sarama.NewAsyncProducerFromClient(cl)
	if err != nil {
		cl.Close()
		return fmt.Errorf("kafkaio: producer: %w", err)
	}
	fn.client, fn.admin, fn.producer = cl, admin, prod
	fn.known = map[string]bool{}
	fn.latDist = map[string]beam.Distribution{}
	fn.settled = sync.NewCond(&fn.mu)
	go fn.collect()
	return nil
}

// collect gathers the broker's answers; sarama blocks if they are not read.
// A message refused with a transient error is sent again after a backoff
// until its partition has been failing for Cfg.RetryTimeout; only then, or
// on an error no retry mends, is it an error of the bundle.
func (fn *writeFn) collect() {
	ctx := context.Background()
	succ, errs := fn.producer.Successes(), fn.producer.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			if d := fn.outages.ok(partitionKey(m.Topic, m.Partition)); d > 0 {
				log.Warnf(ctx, "kafkaio: producing to %s/%d: recovered after %v", m.Topic, m.Partition, d.Round(time.Millisecond))
			}
			meta := m.Metadata.(sendMeta)
			unanswered.Release(meta.size)
			metrics.MessagesWritten.WithLabelValues(m.Topic).Inc()
			var lat time.Duration
			if !meta.srcTime.IsZero() {
				lat = time.Since(meta.srcTime)
				metrics.OutputLatency.WithLabelValues(outputLabel(meta.output)).Observe(lat.Seconds())
			}
			fn.mu.Lock()
			if !meta.srcTime.IsZero() {
				fn.latencies = append(fn.latencies, latency{meta.output, lat})
			}
			if meta.source.Topic != "" {
				fn.acks = append(fn.acks, timedAck{meta.ts, Ack{Source: meta.source, Units: meta.units}})
			}
			fn.done++
			fn.settled.Broadcast()
			fn.mu.Unlock()
		case e, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if fn.retryLater(ctx, e) {
				continue
			}
			unanswered.Release(e.Msg.Metadata.(sendMeta).size)
			fn.mu.Lock()
			fn.errs = append(fn.errs, fmt.Errorf("kafkaio: producing to %s: %w", e.Msg.Topic, e.Err))
			fn.done++
			fn.settled.Broadcast()
			fn.mu.Unlock()
		}
	}
}

func partitionKey(topic string, partition int32) string {
	return topic + "/" + strconv.Itoa(int(partition))
}

// retryLater schedules a refused message to be sent again, and reports
// whether it did.
func (fn *writeFn) retryLater(ctx context.Context, e *sarama.ProducerError) bool {
	if !Transient(e.Err) {
		return false
	}
	key := partitionKey(e.Msg.Topic, e.Msg.Partition)
	failing, first := fn.outages.fail(key)
	timeout := fn.Cfg.retryTimeout()
	if first {
		log.Warnf(ctx, "kafkaio: producing to %s: %v (retrying for up to %v)", key, e.Err, timeout)
	}
	if failing >= timeout {
		return false
	}
	meta := e.Msg.Metadata.(sendMeta)
	meta.attempt++
	// A new message: sarama keeps retry state in the one it returned.
	pm := &sarama.ProducerMessage{Topic: e.Msg.Topic, Key: e.Msg.Key, Value: e.Msg.Value, Headers: e.Msg.Headers, Metadata: meta}
	time.AfterFunc(backoff(meta.attempt-1), func() { fn.resend(pm, e.Err) })
	return true
}

// resend hands a message back to the producer, unless the DoFn is closing.
func (fn *writeFn) resend(pm *sarama.ProducerMessage, cause error) {
	fn.resending.RLock()
	defer fn.resending.RUnlock()
	if !fn.closed {
		fn.producer.Input() <- pm
		return
	}
	unanswered.Release(pm.Metadata.(sendMeta).size)
	fn.mu.Lock()
	fn.errs = append(fn.errs, fmt.Errorf("kafkaio: producing to %s: %w (closed while retrying)", pm.Topic, cause))
	fn.done++
	fn.settled.Broadcast()
	fn.mu.Unlock()
}

// ProcessElement only sends; acknowledgements are emitted in FinishBundle,
// once the broker has answered.
func (fn *writeFn) ProcessElement(ctx context.Context, ts beam.EventTime, m Message, _ func(beam.EventTime, Ack)) error {
	if m.Topic == "" {
		return errors.New("kafkaio: message without a topic")
	}
	if err := fn.ensureTopic(ctx, m.Topic); err != nil {
		return err
	}
	size := int64(len(m.Key) + len(m.Value))
	for _, h := range m.Headers {
		size += int64(len(h.Key) + len(h.Value))
	}
	size, err := reserve(ctx, size)
	if err != nil {
		return err
	}
	pm := &sarama.ProducerMessage{
		Topic:    m.Topic,
		Key:      bytesOrNil(m.Key),
		Value:    sarama.ByteEncoder(m.Value),
		Metadata: sendMeta{ts: ts, source: m.Source, units: m.Units, srcTime: m.SourceTime, output: m.Output, size: size},
	}
	for _, h := range m.Headers {
		pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	fn.mu.Lock()
	fn.sent++
	fn.mu.Unlock()
	select {
	case fn.producer.Input() <- pm:
		return nil
	case <-ctx.Done():
		unanswered.Release(size)
		return ctx.Err()
	}
}

func bytesOrNil(b []byte) sarama.Encoder {
	if b == nil {
		return nil
	}
	return sarama.ByteEncoder(b)
}

// FinishBundle waits until the broker answered every message of the bundle,
// then acknowledges them, or fails the bundle if any was not written.
func (fn *writeFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, Ack)) error {
	fn.mu.Lock()
	for fn.done < fn.sent {
		fn.settled.Wait()
	}
	acks, errs, lats := fn.acks, fn.errs, fn.latencies
	fn.acks, fn.errs, fn.latencies, fn.sent, fn.done = nil, nil, nil, 0, 0
	fn.mu.Unlock()
	// On Dataflow and Flink, where no /metrics is served, the same
	// latencies are the distributions alertbeam/output_latency_ms_<kind>.
	for _, l := range lats {
		k := outputLabel(l.output)
		d, ok := fn.latDist[k]
		if !ok {
			d = beam.NewDistribution("alertbeam", "output_latency_ms_"+k)
			fn.latDist[k] = d
		}
		d.Update(ctx, l.d.Milliseconds())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and %d more errors)", errs[0], len(errs)-1)
	}
	for _, a := range acks {
		emit(a.ts, a.ack)
	}
	return nil
}

func (fn *writeFn) Teardown() {
	fn.resending.Lock()
	fn.closed = true
	fn.resending.Unlock()
	if fn.producer != nil {
		// Every bundle already waited for its answers, so this is quick.
		_ = fn.producer.Close()
		fn.producer = nil
	}
	if fn.client != nil {
		_ = fn.client.Close()
		fn.client = nil
	}
}

// ensureTopic creates a topic the first time it is written, if missing.
// Existence is checked in the client's topic list: asking sarama for the
// partitions of a missing topic retries the metadata request for seconds.
// A cluster that cannot create it now (no controller during an election)
// is retried for Cfg.RetryTimeout.
func (fn *writeFn) ensureTopic(ctx context.Context, topic string) error {
	if fn.known[topic] {
		return nil
	}
	err := retry(ctx, "creating topic "+topic, fn.Cfg.retryTimeout(), func() error {
		if fn.exists(topic) {
			return nil
		}
		return fn.create(topic)
	})
	if err != nil {
		return err
	}
	fn.known[topic] = true
	return nil
}

// TopicDetail is how Write creates a topic it writes to: cfg's partitions,
// replication, retention and max.message.bytes.
func TopicDetail(cfg WriteConfig) *sarama.TopicDetail {
	cfg = cfg.withDefaults()
	detail := &sarama.TopicDetail{
		NumPartitions:     cfg.Partitions,
		ReplicationFactor: cfg.Replication,
		ConfigEntries:     map[string]*string{},
	}
	mmb := strconv.Itoa(cfg.MaxMessageBytes)
	detail.ConfigEntries["max.message.bytes"] = &mmb
	if cfg.Retention > 0 {
		ms := strconv.FormatInt(cfg.Retention.Milliseconds(), 10)
		detail.ConfigEntries["retention.ms"] = &ms
	}
	return detail
}

func (fn *writeFn) create(topic string) error { return CreateTopic(fn.client, fn.admin, fn.Cfg, topic) }

func (fn *writeFn) exists(topic string) bool { return topicExists(fn.client, topic) }

// CreateTopic creates topic as Write does (TopicDetail), unless it exists,
// and returns once its partitions are in client's metadata, so a producer
// on client can write to it at once.
func CreateTopic(client sarama.Client, admin sarama.ClusterAdmin, cfg WriteConfig, topic string) error {
	err := admin.CreateTopic(topic, TopicDetail(cfg), false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			if te != nil && te.Err != sarama.ErrNoError {
				return te.Err // a KError, so the retry can classify it
			}
			return err
		}
	}
	// The new topic's leaders take a moment to appear in metadata.
	deadline := time.Now().Add(30 * time.Second)
	for !topicExists(client, topic) {
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s created but not in metadata after 30s: %w", topic, sarama.ErrLeaderNotAvailable)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// topicExists reports whether topic is in the cluster's metadata with
// partitions.
func topicExists(client sarama.Client, topic string) bool {
	topics, err := client.Topics()
	if err != nil || !slices.Contains(topics, topic) {
		if err := client.RefreshMetadata(); err != nil {
			return false
		}
		if topics, err = client.Topics(); err != nil || !slices.Contains(topics, topic) {
			return false
		}
	}
	parts, err := client.Partitions(topic)
	return err == nil && len(parts) > 0
}
