package kafkaio_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/runners"
)

// The benchmarks compare kafkaio with the plainest sarama loop doing the
// same work, on the same broker and in the same run, so the ratio between
// them is the price of the Beam pipeline (prism, the SDF machinery, element
// coding) rather than of the broker or the machine:
//
//	BenchmarkRead/{raw-sarama,kafkaio}/{1KB,60KB}
//	BenchmarkWrite/{raw-sarama,kafkaio}/{1KB,60KB}
//
// They run against the real Kafka named by ALERTBEAM_KAFKA (.ci/with-kafka
// sets it; benchmarks are judged there) and otherwise against the embedded
// broker. One iteration moves a whole fixed corpus rather than b.N messages:
// a pipeline pays its start-up once per run, so a corpus of b.N messages
// would measure start-up at small N and -benchtime 1x would be meaningless.
// The corpora are large enough that start-up (reported as startup-s, the
// run time of an empty pipeline) stays a small part of a kafkaio run on
// real Kafka. ns/op is per corpus; msgs/s and MB/s (value bytes) are the
// comparable numbers, and the kafkaio rows report x-raw, their msgs/s over
// the raw loop's from the same run.

func init() {
	register.DoFn2x0[kafkaio.Record, func(beam.EventTime, benchTally)](&countRecordsFn{})
	register.DoFn2x0[kafkaio.Ack, func(beam.EventTime, benchTally)](&countAcksFn{})
	register.DoFn2x0[context.Context, benchTally](&tallyFn{})
	register.Function2x1(addTallies)
	register.Emitter2[beam.EventTime, benchTally]()
	beam.RegisterType(reflect.TypeOf((*benchTally)(nil)).Elem())
	register.DoFn1x1[int, kafkaio.Message](&makeMessageFn{})
	register.Function1x0(discardImpulse)
}

// benchCorpus is one message size and how many messages a run moves.
type benchCorpus struct {
	name string
	size int
	n    int
}

// 100 MB and 600 MB. On these 2-core machines an empty pipeline runs in
// 5–30 ms, under 5% of the shortest kafkaio run (~0.4 s), and a run of the
// whole suite takes under a minute, on real Kafka or the embedded broker.
// Smaller corpora made the raw loops (0.3–3 s here) too short to time
// against the noise of a shared machine; larger ones only cost time.
var benchCorpora = []benchCorpus{
	{"1KB", 1 << 10, 100_000},
	{"60KB", 60 << 10, 10_000},
}

const benchPartitions = 4

// benchBroker is the broker to measure: ALERTBEAM_KAFKA if set, else an
// embedded broker living as long as the benchmark.
func benchBroker(b *testing.B) string {
	b.Helper()
	if addr := os.Getenv("ALERTBEAM_KAFKA"); addr != "" {
		b.Logf("benchmarking real Kafka at %s", addr)
		return addr
	}
	b.Logf("benchmarking the embedded broker (set ALERTBEAM_KAFKA, e.g. with .ci/with-kafka, for real Kafka)")
	return kafkatest.Start(b, broker.Options{Partitions: 4}).Addr()
}

var benchTopicSeq atomic.Int64

// benchTopic names a topic no other run has seen, so a real broker that
// outlives a run never mixes its data into the next one.
func benchTopic(kind string) string {
	return fmt.Sprintf("bench-%s-%d-%d", kind, time.Now().UnixNano(), benchTopicSeq.Add(1))
}

// benchKey and benchValue make message i of a corpus. The value is a fixed
// pseudo-random pattern (incompressible, like gzipped cutouts) stamped with
// i, copied into a fresh buffer as a real producer would fill one per alert.
func benchKey(i int) []byte { return strconv.AppendInt([]byte{'k'}, int64(i), 10) }

func benchPattern(size int) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 1))
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func benchValue(pattern []byte, i int) []byte {
	v := make([]byte, len(pattern))
	copy(v, pattern)
	binary.BigEndian.PutUint32(v, uint32(i))
	return v
}

// reportRate reports msgs/s and, when the raw loop of the same run was
// measured, the ratio to it. MB/s comes from b.SetBytes.
func reportRate(b *testing.B, msgs int, raw map[string]float64, key string, isRaw bool) {
	rate := float64(msgs) * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	if isRaw {
		raw[key] = rate
	} else if r, ok := raw[key]; ok && r > 0 {
		b.ReportMetric(rate/r, "x-raw")
	}
}

// --- read ----------------------------------------------------------------

func BenchmarkRead(b *testing.B) {
	addr := benchBroker(b)
	// Each corpus is written once (untimed) and read by every sub-benchmark.
	topics := map[string]string{}
	for _, c := range benchCorpora {
		topic := benchTopic("read-" + c.name)
		pattern := benchPattern(c.size)
		start := time.Now()
		createTopic(b, addr, topic)
		produce(b, addr, topic, benchPartitions, 0, c.n, func(i int) []byte { return benchValue(pattern, i) })
		waitEnd(b, addr, topic, int64(c.n))
		b.Logf("loaded %d × %s into %s in %v", c.n, c.name, topic, time.Since(start).Round(time.Millisecond))
		topics[c.name] = topic
		b.Cleanup(func() { deleteTopic(b, addr, topic) })
	}
	raw := map[string]float64{}

	b.Run("raw-sarama", func(b *testing.B) {
		for _, c := range benchCorpora {
			b.Run(c.name, func(b *testing.B) {
				b.SetBytes(int64(c.n * c.size))
				for b.Loop() {
					msgs, bytes, err := rawRead(addr, topics[c.name])
					if err != nil {
						b.Fatal(err)
					}
					if msgs != int64(c.n) || bytes != int64(c.n*c.size) {
						b.Fatalf("raw read %d messages, %d bytes; want %d, %d", msgs, bytes, c.n, c.n*c.size)
					}
				}
				reportRate(b, c.n, raw, c.name, true)
			})
		}
	})

	b.Run("kafkaio", func(b *testing.B) {
		for _, c := range benchCorpora {
			b.Run(c.name, func(b *testing.B) {
				// Reported after the loop: b.Loop's first call clears metrics.
				startup := pipelineStartup(b)
				b.SetBytes(int64(c.n * c.size))
				for b.Loop() {
					// Building the graph is part of the cost, like start-up:
					// it is what a job pays once.
					p, s := beam.NewPipelineWithRoot()
					recs := kafkaio.Read(s, kafkaio.ReadConfig{
						// A client id of its own gives each run a fresh
						// connection, as a job in a new process has.
						// kafkaio shares one connection per Config in a
						// process, and a finished read leaves its partition
						// consumers long-polling on it; the broker answers a
						// connection's requests in order, so the next run's
						// metadata and offset requests would wait up to
						// sarama's MaxWaitTime (500 ms) behind each fetch.
						Config:    kafkaio.Config{Brokers: []string{addr}, ClientID: benchTopic("client")},
						Topics:    []string{topics[c.name]},
						StopAtEnd: true,
					})
					tally(s, beam.ParDo(s, &countRecordsFn{}, recs))
					res := runPipeline(b, p)

					b.StopTimer()
					msgs, bytes := counter(res, "records"), counter(res, "bytes")
					if msgs != int64(c.n) || bytes != int64(c.n*c.size) {
						b.Fatalf("kafkaio read %d messages, %d bytes; want %d, %d", msgs, bytes, c.n, c.n*c.size)
					}
					b.StartTimer()
				}
				reportRate(b, c.n, raw, c.name, false)
				b.ReportMetric(startup.Seconds(), "startup-s")
			})
		}
	})
}

// rawRead reads every partition of topic from the oldest offset to the end
// it has when the read starts, one goroutine per partition, as a
// hand-written sarama consumer would. Its fetch and buffer settings are the
// ones kafkaio's reader uses (conn.go, client.go), so the comparison is of
// the code around the consumer, not of tuning.
func rawRead(addr, topic string) (msgs, bytes int64, err error) {
	sc := sarama.NewConfig()
	sc.Version = kafkaio.KafkaVersion
	sc.Consumer.Fetch.Default = 8 << 20
	sc.Consumer.Fetch.Max = 64 << 20
	sc.ChannelBufferSize = 64
	sc.Consumer.Return.Errors = true
	cl, err := sarama.NewClient([]string{addr}, sc)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		return 0, 0, err
	}
	defer cons.Close()
	parts, err := cl.Partitions(topic)
	if err != nil {
		return 0, 0, err
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for _, p := range parts {
		end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, 0, err
		}
		oldest, err := cl.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return 0, 0, err
		}
		if end <= oldest {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return 0, 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.Close()
			var n, nb int64
			defer func() { atomic.AddInt64(&msgs, n); atomic.AddInt64(&bytes, nb) }()
			stuck := time.NewTimer(time.Minute)
			defer stuck.Stop()
			for {
				select {
				case m := <-pc.Messages():
					n++
					nb += int64(len(m.Value))
					if m.Offset >= end-1 {
						return
					}
					stuck.Reset(time.Minute)
				case e := <-pc.Errors():
					fail(e)
					return
				case <-stuck.C:
					fail(fmt.Errorf("partition %d: no message for a minute", p))
					return
				}
			}
		}()
	}
	wg.Wait()
	return msgs, bytes, firstErr
}

// countRecordsFn counts records and value bytes, and emits the tally of
// each bundle for tally to add up.
type countRecordsFn struct {
	t benchTally
}

// benchTally is what a counting bundle saw.
type benchTally struct {
	N, Bytes int64
}

func (fn *countRecordsFn) StartBundle(_ func(beam.EventTime, benchTally)) { fn.t = benchTally{} }

func (fn *countRecordsFn) ProcessElement(r kafkaio.Record, _ func(beam.EventTime, benchTally)) {
	fn.t.N++
	fn.t.Bytes += int64(len(r.Value))
}

func (fn *countRecordsFn) FinishBundle(emit func(beam.EventTime, benchTally)) {
	if fn.t.N > 0 {
		emit(mtime.Now(), fn.t)
	}
}

// --- write ---------------------------------------------------------------

func BenchmarkWrite(b *testing.B) {
	addr := benchBroker(b)
	raw := map[string]float64{}
	// Warm the broker's produce path (the JVM compiles it on first use)
	// with a tenth of each corpus, untimed, so that whichever loop runs
	// first is not the one that pays for it: without this the raw loop,
	// run first, measured up to 30% slower than on its next runs.
	for _, c := range benchCorpora {
		topic := benchTopic("write-warmup-" + c.name)
		createTopic(b, addr, topic)
		if err := rawWrite(addr, topic, c.n/10, c.size); err != nil {
			b.Fatal(err)
		}
		deleteTopic(b, addr, topic)
	}

	b.Run("raw-sarama", func(b *testing.B) {
		for _, c := range benchCorpora {
			b.Run(c.name, func(b *testing.B) {
				b.SetBytes(int64(c.n * c.size))
				for b.Loop() {
					b.StopTimer()
					topic := benchTopic("write-raw-" + c.name)
					createTopic(b, addr, topic)
					b.StartTimer()

					if err := rawWrite(addr, topic, c.n, c.size); err != nil {
						b.Fatal(err)
					}

					b.StopTimer()
					checkTopicHolds(b, addr, topic, int64(c.n))
					deleteTopic(b, addr, topic)
					b.StartTimer()
				}
				reportRate(b, c.n, raw, c.name, true)
			})
		}
	})

	b.Run("kafkaio", func(b *testing.B) {
		for _, c := range benchCorpora {
			b.Run(c.name, func(b *testing.B) {
				// Reported after the loop: b.Loop's first call clears metrics.
				startup := pipelineStartup(b)
				b.SetBytes(int64(c.n * c.size))
				indices := make([]int, c.n)
				for i := range indices {
					indices[i] = i
				}
				for b.Loop() {
					b.StopTimer()
					topic := benchTopic("write-kafkaio-" + c.name)
					// The topic exists beforehand, as for the raw loop, so
					// neither pays for creating it.
					createTopic(b, addr, topic)
					// The graph is built untimed: Create carries its indices
					// in the pipeline itself, a cost of this benchmark's
					// source, not of kafkaio.
					p, s := beam.NewPipelineWithRoot()
					msgs := beam.ParDo(s, &makeMessageFn{Topic: topic, Size: c.size}, beam.CreateList(s, indices))
					acks := kafkaio.Write(s, kafkaio.WriteConfig{
						Config:     kafkaio.Config{Brokers: []string{addr}},
						Partitions: benchPartitions,
					}, msgs)
					tally(s, beam.ParDo(s, &countAcksFn{}, acks))
					b.StartTimer()

					res := runPipeline(b, p)

					b.StopTimer()
					if got := counter(res, "records"); got != int64(c.n) {
						b.Fatalf("kafkaio acknowledged %d messages, want %d", got, c.n)
					}
					checkTopicHolds(b, addr, topic, int64(c.n))
					deleteTopic(b, addr, topic)
					b.StartTimer()
				}
				reportRate(b, c.n, raw, c.name, false)
				b.ReportMetric(startup.Seconds(), "startup-s")
			})
		}
	})
}

// writerConfig is the producer configuration kafkaio's writer uses
// (write.go): idempotent, acknowledged by all replicas, batches flushed at
// 1 MiB or every 5 ms.
func writerConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = kafkaio.KafkaVersion
	sc.Metadata.AllowAutoTopicCreation = false
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.MaxMessageBytes = 1000000
	sc.Producer.Retry.Max = 10
	sc.Producer.Retry.Backoff = 250 * time.Millisecond
	sc.Producer.Flush.Bytes = 1 << 20
	sc.Producer.Flush.Frequency = 5 * time.Millisecond
	sc.Producer.Idempotent = true
	sc.Net.MaxOpenRequests = 1
	return sc
}

// rawWrite produces n messages of size bytes with one AsyncProducer and
// returns once the broker acknowledged all of them. Keys are hashed to
// partitions, as kafkaio's writer does.
func rawWrite(addr, topic string, n, size int) error {
	p, err := sarama.NewAsyncProducer([]string{addr}, writerConfig())
	if err != nil {
		return err
	}
	pattern := benchPattern(size)
	err = sendAll(p, n, func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: topic, Key: sarama.ByteEncoder(benchKey(i)), Value: sarama.ByteEncoder(benchValue(pattern, i))}
	})
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}

// makeMessageFn turns index i into message i of the corpus for Topic. The
// payload is made here, not shipped through Create, so the pipeline moves
// what a real producing pipeline moves.
type makeMessageFn struct {
	Topic string
	Size  int

	pattern []byte
}

func (fn *makeMessageFn) Setup() { fn.pattern = benchPattern(fn.Size) }

func (fn *makeMessageFn) ProcessElement(i int) kafkaio.Message {
	return kafkaio.Message{
		Topic: fn.Topic,
		Key:   benchKey(i),
		Value: benchValue(fn.pattern, i),
		// A source, so that Write acknowledges the message.
		Source: kafkaio.Source{Topic: "bench-source", Offset: int64(i), Prev: int64(i) - 1},
		Units:  1,
	}
}

// countAcksFn counts acknowledgements and emits the tally of each bundle
// (see countRecordsFn for why it has an output).
type countAcksFn struct {
	n int64
}

func (fn *countAcksFn) StartBundle(_ func(beam.EventTime, benchTally)) { fn.n = 0 }

func (fn *countAcksFn) ProcessElement(_ kafkaio.Ack, _ func(beam.EventTime, benchTally)) { fn.n++ }

func (fn *countAcksFn) FinishBundle(emit func(beam.EventTime, benchTally)) {
	if fn.n > 0 {
		emit(mtime.Now(), benchTally{N: fn.n})
	}
}

// --- shared --------------------------------------------------------------

func discardImpulse([]byte) {}

// tally adds up per-bundle tallies, through a combine, into the counters
// records and bytes, which the benchmarks read from the pipeline result.
//
// The combine is there on purpose. Prism fuses chains of ParDos into one
// stage, and it busy-waits on a bundle of a stage that has no outputs: its
// progress loop selects on the bundle's data-done channel, closed from the
// start when nothing leaves the stage, so it spins until the bundle ends
// (runners/prism/internal/stage.go, Execute; worker/bundle.go, Init). With
// the counting sink fused into the read, that loop took 3/4 of the CPU
// profile and a core from the reader. Real pipelines send what they read
// on to a shuffle (Commit groups acks by partition); so does this one, with
// a few small elements per bundle.
func tally(s beam.Scope, tallies beam.PCollection) {
	s = s.Scope("tally")
	beam.ParDo0(s, &tallyFn{}, beam.Combine(s, addTallies, tallies))
}

func addTallies(a, b benchTally) benchTally {
	return benchTally{N: a.N + b.N, Bytes: a.Bytes + b.Bytes}
}

type tallyFn struct{}

func (fn *tallyFn) ProcessElement(ctx context.Context, t benchTally) {
	beam.NewCounter("kafkaio_bench", "records").Inc(ctx, t.N)
	beam.NewCounter("kafkaio_bench", "bytes").Inc(ctx, t.Bytes)
}

// pipelineStartup runs an empty pipeline and returns how long it took: what
// every kafkaio run pays before it reads or writes anything. The first run
// in the process also starts prism's in-process job server, which is not
// part of any timed run.
func pipelineStartup(b *testing.B) time.Duration {
	b.Helper()
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, discardImpulse, beam.Impulse(s))
	start := time.Now()
	runPipeline(b, p)
	return time.Since(start)
}

// runPipeline runs p on the direct runner and fails the benchmark if it
// does not finish in ten minutes.
func runPipeline(b *testing.B, p *beam.Pipeline) beam.PipelineResult {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := runners.Run(ctx, p)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// counter is the committed value of a benchmark counter, summed over steps.
func counter(res beam.PipelineResult, name string) int64 {
	var sum int64
	q := res.Metrics().Query(func(r metrics.SingleResult) bool {
		return r.Namespace() == "kafkaio_bench" && r.Name() == name
	})
	for _, c := range q.Counters() {
		sum += c.Committed
	}
	return sum
}

// createTopic creates a topic with benchPartitions partitions and waits
// until every partition has a leader, so the timed code never waits for
// metadata to settle.
//
// The topic accepts record batches of 16 MiB, as the topics kafkaio's
// writer creates do. It must: kafkaio's writer and saramaCfg set sarama's
// Producer.MaxMessageBytes to 16 MiB, which sarama also uses as the largest
// batch it builds per partition, and under load those batches outgrow a
// real broker's default limit (1 MB; 10 MB under .ci/with-kafka), which
// then rejects every one as MESSAGE_TOO_LARGE.
func createTopic(b *testing.B, addr, topic string) {
	b.Helper()
	admin, err := sarama.NewClusterAdmin([]string{addr}, saramaCfg())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	maxBytes := strconv.Itoa(16 << 20)
	detail := &sarama.TopicDetail{NumPartitions: benchPartitions, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"max.message.bytes": &maxBytes}}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		b.Fatalf("create %s: %v", topic, err)
	}
	waitEnd(b, addr, topic, 0)
}

// waitEnd waits until topic's partitions all have leaders and hold want
// messages in total, and fails the benchmark after a minute.
func waitEnd(b *testing.B, addr, topic string, want int64) {
	b.Helper()
	cl, err := sarama.NewClient([]string{addr}, saramaCfg())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var got int64
	if !watch.Until(time.Minute, func() bool { got, err = topicSize(cl, topic); return err == nil && got == want }) {
		b.Fatalf("%s: %d messages (%v) after a minute, want %d", topic, got, err, want)
	}
}

// checkTopicHolds fails the benchmark unless topic holds exactly want
// messages: no loss, and no duplicates from producer retries.
func checkTopicHolds(b *testing.B, addr, topic string, want int64) {
	b.Helper()
	cl, err := sarama.NewClient([]string{addr}, saramaCfg())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	got, err := topicSize(cl, topic)
	if err != nil || got != want {
		b.Fatalf("%s holds %d messages (%v), want exactly %d", topic, got, err, want)
	}
}

// topicSize is the number of offsets a topic's partitions hold. Without
// transactions there are no control records, so that is its message count.
func topicSize(cl sarama.Client, topic string) (int64, error) {
	if err := cl.RefreshMetadata(topic); err != nil {
		return 0, err
	}
	parts, err := cl.Partitions(topic)
	if err != nil {
		return 0, err
	}
	if len(parts) != benchPartitions {
		return 0, fmt.Errorf("%d partitions in metadata, want %d", len(parts), benchPartitions)
	}
	var n int64
	for _, p := range parts {
		if _, err := cl.Leader(topic, p); err != nil {
			return 0, err
		}
		newest, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, err
		}
		oldest, err := cl.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return 0, err
		}
		n += newest - oldest
	}
	return n, nil
}

// deleteTopic frees what a run wrote; the corpora are hundreds of MB, held
// in memory by the embedded broker.
func deleteTopic(b *testing.B, addr, topic string) {
	b.Helper()
	admin, err := sarama.NewClusterAdmin([]string{addr}, saramaCfg())
	if err != nil {
		b.Logf("delete %s: %v", topic, err)
		return
	}
	defer admin.Close()
	if err := admin.DeleteTopic(topic); err != nil {
		b.Logf("delete %s: %v", topic, err)
	}
}
