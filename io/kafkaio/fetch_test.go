package kafkaio_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func init() {
	register.DoFn1x3[int, beam.EventTime, []kafkaio.Source, error](&stampBatchFn{})
	register.Function3x1(fetchedText)
	register.Function3x1(missingText)
	register.Function2x0(countMissing)
}

// fetchT0 is the event time of the first batch, on the hour: batch i is
// stamped fetchT0 + i hours + a minute and windowed by the hour, so every
// output says which element and window it came from.
var fetchT0 = time.UnixMilli(1_699_999_200_000)

func batchTime(i int) time.Time { return fetchT0.Add(time.Duration(i)*time.Hour + time.Minute) }

// stampBatchFn emits batch i at batchTime(i). If Restart names a broker in
// restartable, it restarts that broker (once) before emitting batch
// RestartAt.
type stampBatchFn struct {
	Batches   [][]kafkaio.Source
	Restart   string
	RestartAt int
}

func (fn *stampBatchFn) ProcessElement(i int) (beam.EventTime, []kafkaio.Source, error) {
	if i == fn.RestartAt {
		if b, ok := restartable.LoadAndDelete(fn.Restart); ok {
			if err := b.(*broker.Broker).Restart(); err != nil {
				return 0, nil, err
			}
		}
	}
	return mtime.FromTime(batchTime(i)), fn.Batches[i], nil
}

// restartable holds the brokers stampBatchFn may restart, by test name: the
// pipeline runs in the test's process (LOOPBACK).
var restartable sync.Map

// refBatches turns batches into Fetch's input: one element per batch,
// timestamped and in hourly windows.
func refBatches(s beam.Scope, stamp *stampBatchFn) beam.PCollection {
	idx := make([]int, len(stamp.Batches))
	for i := range idx {
		idx[i] = i
	}
	stamped := beam.ParDo(s, stamp, beam.CreateList(s, idx))
	return beam.WindowInto(s, window.NewFixedWindows(time.Hour), stamped)
}

// placed renders where an output sits: its event time and the end of its
// window, as offsets from fetchT0.
func placed(ts time.Time, windowEnd time.Time) string {
	return fmt.Sprintf("t=%v w=%v", ts.Sub(fetchT0), windowEnd.Sub(fetchT0))
}

func fetchedText(w beam.Window, ts beam.EventTime, r kafkaio.Record) string {
	return placed(ts.ToTime(), w.MaxTimestamp().ToTime()) + " " + recordText(r)
}

func missingText(w beam.Window, ts beam.EventTime, m kafkaio.Missing) string {
	return placed(ts.ToTime(), w.MaxTimestamp().ToTime()) + " " + sourceText(m.Source) + " missing: " + m.Err
}

func sourceText(s kafkaio.Source) string {
	return fmt.Sprintf("%s/%d@%d prev=%d base=%d", s.Topic, s.Partition, s.Offset, s.Prev, s.Base)
}

// recordText renders everything a record holds; values by length and hash.
func recordText(r kafkaio.Record) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, fmt.Sprintf("%q=%q", h.Key, h.Value))
	}
	return fmt.Sprintf("%s key=%q value=%d:%x headers=[%s] ts=%d", sourceText(r.Source), r.Key, len(r.Value),
		sha256.Sum256(r.Value), strings.Join(hs, " "), r.Timestamp.UnixMilli())
}

// wantRecord is what Fetch must emit for ref in batch i.
func wantRecord(i int, ref kafkaio.Source, m *sarama.ProducerMessage) string {
	r := kafkaio.Record{Source: ref, Timestamp: m.Timestamp}
	if m.Key != nil {
		r.Key, _ = m.Key.Encode()
	}
	r.Value, _ = m.Value.Encode()
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kafkaio.Header{Key: string(h.Key), Value: h.Value})
	}
	return wantPlaced(i) + " " + recordText(r)
}

func wantMissing(i int, ref kafkaio.Source, why string) string {
	return wantPlaced(i) + " " + sourceText(ref) + " missing: " + why
}

func wantPlaced(i int) string {
	return placed(batchTime(i), fetchT0.Add(time.Duration(i+1)*time.Hour-time.Millisecond))
}

// fetchValue is record i's value: 10 B to 4 KB, every 50th 150 KB (the
// largest alerts).
func fetchValue(i int) []byte {
	n := 10 + (i*131)%4000
	if i%50 == 0 {
		n = 150 << 10
	}
	v := make([]byte, n)
	for j := range v {
		v[j] = byte(i*7 + j*13)
	}
	return v
}

// produceRecords writes records from..from+n-1 round-robin over the topic's
// partitions, with keys (none for every 10th), headers (0 to 2, one key
// repeated) and timestamps of their own, compressed as asked, and returns
// them as the broker placed them.
func produceRecords(t *testing.T, addr, topic string, partitions int32, codec sarama.CompressionCodec, from, n int) []*sarama.ProducerMessage {
	t.Helper()
	sc := saramaCfg()
	sc.Producer.Compression = codec
	admin, err := sarama.NewClusterAdmin([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if te, ok := err.(*sarama.TopicError); err != nil && (!ok || te.Err != sarama.ErrTopicAlreadyExists) {
		t.Fatalf("create %s: %v", topic, err)
	}
	p, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := from; i < from+n; i++ {
		m := &sarama.ProducerMessage{Topic: topic, Partition: int32(i) % partitions,
			Value: sarama.ByteEncoder(fetchValue(i)), Timestamp: time.UnixMilli(1_600_000_000_000 + int64(i)*1001)}
		if i%10 != 0 {
			m.Key = sarama.StringEncoder(fmt.Sprintf("k%d", i))
		}
		for h := range i % 3 {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte("h"), Value: []byte(fmt.Sprintf("%d.%d", i, h))})
		}
		msgs = append(msgs, m)
	}
	// Sent together, they go in multi-record batches, so reading from the
	// middle of one returns records before the offset asked for.
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// placement indexes produced records by partition and offset.
func placement(msgs []*sarama.ProducerMessage) map[[2]int64]*sarama.ProducerMessage {
	at := map[[2]int64]*sarama.ProducerMessage{}
	for _, m := range msgs {
		at[[2]int64{int64(m.Partition), m.Offset}] = m
	}
	return at
}

// ref makes a ref with Prev and Base values no read would give, to show
// that they come from the ref.
func ref(topic string, partition int32, offset int64, salt int64) kafkaio.Source {
	return kafkaio.Source{Topic: topic, Partition: partition, Offset: offset, Prev: 1000*salt + offset, Base: -7 - salt}
}

// checkFetch runs Fetch over batches and demands exactly the records and
// missing refs wanted, and one output per ref.
func checkFetch(t *testing.T, addr string, batches [][]kafkaio.Source, wantRecs, wantMiss []string) {
	t.Helper()
	checkFetchStamped(t, addr, &stampBatchFn{Batches: batches}, wantRecs, wantMiss)
}

func checkFetchStamped(t *testing.T, addr string, stamp *stampBatchFn, wantRecs, wantMiss []string) {
	t.Helper()
	batches := stamp.Batches
	refs := 0
	for _, b := range batches {
		refs += len(b)
	}
	if len(wantRecs)+len(wantMiss) != refs {
		t.Fatalf("the test wants %d records and %d missing for %d refs", len(wantRecs), len(wantMiss), refs)
	}
	p, s := beam.NewPipelineWithRoot()
	recs, miss := kafkaio.Fetch(s, kafkaio.Config{Brokers: []string{addr}}, refBatches(s, stamp))
	// The texts say where each output sat; passert compares in one window.
	global := window.NewGlobalWindows()
	recTexts := beam.WindowInto(s, global, beam.ParDo(s, fetchedText, recs))
	missTexts := beam.WindowInto(s, global, beam.ParDo(s, missingText, miss))
	passert.Equals(s, recTexts, anySlice(wantRecs)...)
	passert.Equals(s, missTexts, anySlice(wantMiss)...)
	passert.Count(s, beam.Flatten(s, recTexts, missTexts), "records and missing", refs)
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// Within a 16-byte budget, readers fetch only for an element waiting on them
// and with nothing queued, and Fetch returns the same.
func TestFetchReturnsRecordsAsProduced(t *testing.T) { underBothBudgets(t, fetchAsProduced) }

func fetchAsProduced(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	const topic = "alerts"
	msgs := produceRecords(t, addr, topic, 4, sarama.CompressionNone, 0, 160)
	msgs = append(msgs, produceRecords(t, addr, topic, 4, sarama.CompressionZSTD, 160, 160)...)
	at := placement(msgs)
	// 80 records per partition: 0–39 plain, 40–79 in zstd batches.

	var batches [][]kafkaio.Source
	var want []string
	add := func(refs ...kafkaio.Source) {
		i := len(batches)
		batches = append(batches, refs)
		for _, r := range refs {
			m := at[[2]int64{int64(r.Partition), r.Offset}]
			if m == nil {
				t.Fatalf("nothing produced at %v", r)
			}
			want = append(want, wantRecord(i, r, m))
		}
	}
	// Backwards, with a duplicate that differs only in Prev and Base.
	var b []kafkaio.Source
	for off := int64(12); off >= 0; off-- {
		b = append(b, ref(topic, 0, off, 1))
	}
	add(append(b, ref(topic, 0, 5, 2))...)
	// On from where the last batch ended, and on again with a gap.
	b = nil
	for off := int64(13); off < 30; off++ {
		b = append(b, ref(topic, 0, off, 3))
	}
	add(b...)
	add(ref(topic, 0, 35, 4), ref(topic, 0, 38, 4), ref(topic, 0, 44, 4))
	// Back again, into the middle of a compressed batch.
	add(ref(topic, 0, 47, 5), ref(topic, 0, 41, 5))
	// A single ref.
	add(ref(topic, 3, 70, 6))
	// Every partition, shuffled, with duplicates.
	r := rand.New(rand.NewPCG(1, 2))
	b = nil
	for range 120 {
		b = append(b, ref(topic, r.Int32N(4), r.Int64N(80), 7))
	}
	add(b...)
	// Every record, each partition's last offset included.
	b = nil
	for _, m := range msgs {
		b = append(b, ref(topic, m.Partition, m.Offset, 8))
	}
	add(b...)
	// Nothing.
	add()

	checkFetch(t, addr, batches, want, nil)
}

func TestFetchReportsWhatItCannotRead(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	const topic = "night"
	msgs := produceRecords(t, addr, topic, 2, sarama.CompressionNone, 0, 80)
	at := placement(msgs)
	admin, err := sarama.NewClusterAdmin([]string{addr}, saramaCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteRecords(topic, map[int32]int64{0: 10}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}

	batches := [][]kafkaio.Source{
		{ref(topic, 0, 3, 1), ref(topic, 0, 9, 1), ref(topic, 0, 10, 1), ref(topic, 0, 11, 1),
			ref(topic, 0, 40, 1), ref(topic, 0, 1000, 1), ref(topic, 1, 5, 1), ref(topic, 1, 39, 1)},
		{ref(topic, 1, -1, 2), ref("nosuch", 0, 0, 2), ref(topic, 7, 0, 2), ref(topic, 1, 6, 2)},
		// Nothing readable at all.
		{ref(topic, 0, 0, 3), ref(topic, 1, 40, 3)},
	}
	deleted := "deleted: the partition now starts at offset 10 (retention or DeleteRecords)"
	beyond := "beyond the end: the partition holds offsets below 40"
	wantMiss := []string{
		wantMissing(0, batches[0][0], deleted),
		wantMissing(0, batches[0][1], deleted),
		wantMissing(0, batches[0][4], beyond),
		wantMissing(0, batches[0][5], beyond),
		wantMissing(1, batches[1][0], "not an offset"),
		wantMissing(1, batches[1][1], `topic "nosuch" does not exist`),
		wantMissing(1, batches[1][2], `topic "night" has no partition 7 (it has 2)`),
		wantMissing(2, batches[2][0], deleted),
		wantMissing(2, batches[2][1], beyond),
	}
	var wantRecs []string
	for i, b := range batches {
		for _, r := range b {
			if m := at[[2]int64{int64(r.Partition), r.Offset}]; m != nil && r.Topic == topic && (r.Partition != 0 || r.Offset >= 10) {
				wantRecs = append(wantRecs, wantRecord(i, r, m))
			}
		}
	}
	checkFetch(t, addr, batches, wantRecs, wantMiss)
}

// Transactions leave a commit marker after their records: an offset that
// holds no record, inside the log or at its end.
func TestFetchTransactionMarkersAreMissing(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	const topic = "txn"
	sc := saramaCfg()
	sc.Producer.Idempotent = true
	sc.Producer.Transaction.ID = "fetch-test"
	sc.Net.MaxOpenRequests = 1
	admin, err := sarama.NewClusterAdmin([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for _, n := range []int{3, 2} {
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		var txn []*sarama.ProducerMessage
		for range n {
			i := len(msgs) + len(txn)
			txn = append(txn, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
				Value: sarama.ByteEncoder(fetchValue(i)), Timestamp: time.UnixMilli(1_600_000_000_000 + int64(i))})
		}
		if err := p.SendMessages(txn); err != nil {
			t.Fatal(err)
		}
		if err := p.CommitTxn(); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, txn...)
	}
	var offs []int64
	for _, m := range msgs {
		offs = append(offs, m.Offset)
	}
	if fmt.Sprint(offs) != "[0 1 2 4 5]" {
		t.Fatalf("records at offsets %v, want [0 1 2 4 5] (markers at 3 and 6)", offs)
	}
	at := placement(msgs)

	batches := [][]kafkaio.Source{
		{ref(topic, 0, 1, 1), ref(topic, 0, 3, 1), ref(topic, 0, 5, 1)},
		{ref(topic, 0, 6, 2), ref(topic, 0, 7, 2)},
		{ref(topic, 0, 4, 3), ref(topic, 0, 6, 3)},
	}
	wantRecs := []string{
		wantRecord(0, batches[0][0], at[[2]int64{0, 1}]),
		wantRecord(0, batches[0][2], at[[2]int64{0, 5}]),
		wantRecord(2, batches[2][0], at[[2]int64{0, 4}]),
	}
	marker := "not a record: a transaction marker"
	wantMiss := []string{
		wantMissing(0, batches[0][1], marker),
		wantMissing(1, batches[1][0], marker),
		wantMissing(1, batches[1][1], "beyond the end: the partition holds offsets below 7"),
		wantMissing(2, batches[2][1], marker),
	}
	checkFetch(t, addr, batches, wantRecs, wantMiss)
}

// Compaction removes records, and whole batches, whose keys come again
// later; their offsets stay empty.
func TestFetchCompactedAwayIsMissing(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	const topic = "compacted"
	admin, err := sarama.NewClusterAdmin([]string{addr}, saramaCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	brokers, _, err := admin.DescribeCluster()
	if err != nil || len(brokers) != 1 {
		t.Fatalf("describe cluster: %v %v", brokers, err)
	}
	// The embedded broker compacts this often once a compacted topic exists
	// (and applies retention: the records are from 2020, so none).
	backoff, policy, forever := "20", "compact", "-1"
	if err := admin.AlterConfig(sarama.BrokerResource, strconv.Itoa(int(brokers[0].ID())),
		map[string]*string{"log.cleaner.backoff.ms": &backoff}, false); err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": &policy, "retention.ms": &forever}}, false); err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducer([]string{addr}, saramaCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// One batch per line: b at 1 gives way to b at 3 (a hole inside a
	// batch), the batch of d at 4 to d at 5 (a hole between batches); the
	// last batch is never compacted.
	var msgs []*sarama.ProducerMessage
	for i, batch := range [][]string{{"a", "b", "c"}, {"b"}, {"d"}, {"d"}, {"e"}} {
		var ms []*sarama.ProducerMessage
		for _, k := range batch {
			ms = append(ms, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k),
				Value: sarama.ByteEncoder(fetchValue(len(msgs) + len(ms))), Timestamp: time.UnixMilli(1_600_000_000_000 + int64(i))})
		}
		if err := p.SendMessages(ms); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, ms...)
	}
	var offs []int64
	compacted := watch.Until(time.Minute, func() bool {
		offs = nil
		for _, m := range kafkatest.ReadN(t, addr, topic, 5, 5*time.Second) {
			offs = append(offs, m.Offset)
		}
		return fmt.Sprint(offs) == "[0 2 3 5 6]"
	})
	if !compacted {
		t.Fatalf("topic holds offsets %v a minute on, want [0 2 3 5 6] once compacted", offs)
	}
	at := placement(msgs)

	var batch []kafkaio.Source
	for off := range int64(8) {
		batch = append(batch, ref(topic, 0, off, 1))
	}
	var wantRecs []string
	for _, off := range []int64{0, 2, 3, 5, 6} {
		wantRecs = append(wantRecs, wantRecord(0, batch[off], at[[2]int64{0, off}]))
	}
	wantMiss := []string{
		wantMissing(0, batch[1], "not in the log: removed by compaction"),
		wantMissing(0, batch[4], "not in the log: removed by compaction"),
		wantMissing(0, batch[7], "beyond the end: the partition holds offsets below 7"),
	}
	checkFetch(t, addr, [][]kafkaio.Source{batch, {batch[4]}, {batch[1], batch[6]}}, append(wantRecs, wantRecord(2, batch[6], at[[2]int64{0, 6}])),
		append(wantMiss, wantMissing(1, batch[4], "not in the log: removed by compaction"), wantMissing(2, batch[1], "not in the log: removed by compaction")))
}

// A broker restart between batches drops Fetch's connections; it
// reconnects and reads on.
func TestFetchRidesOutBrokerRestart(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 4, DataDir: t.TempDir()})
	restartable.Store(t.Name(), b)
	defer restartable.Delete(t.Name())
	const topic = "restart"
	msgs := produceRecords(t, b.Addr(), topic, 2, sarama.CompressionNone, 0, 60)
	at := placement(msgs)

	// The first batch is the end of the log, which its readers fetch
	// whole; the next ones go back, so they fetch after the restart.
	var batches [][]kafkaio.Source
	var want []string
	for i, from := range []int{40, 0, 20} {
		var batch []kafkaio.Source
		for _, m := range msgs[from : from+20] {
			r := ref(topic, m.Partition, m.Offset, int64(i))
			batch = append(batch, r)
			want = append(want, wantRecord(i, r, at[[2]int64{int64(m.Partition), m.Offset}]))
		}
		batches = append(batches, batch)
	}
	checkFetchStamped(t, b.Addr(), &stampBatchFn{Batches: batches, Restart: t.Name(), RestartAt: 1}, want, nil)
	if _, ok := restartable.Load(t.Name()); ok {
		t.Fatal("the broker was not restarted")
	}
}

func TestFetchPanicsEarly(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kafkaio.Config
		in   func(s beam.Scope) beam.PCollection
		want string
	}{
		{"no brokers", kafkaio.Config{}, func(s beam.Scope) beam.PCollection { return beam.Create(s, []kafkaio.Source{}) },
			"kafkaio: no brokers"},
		{"not a batch of refs", kafkaio.Config{Brokers: []string{"localhost:9092"}}, func(s beam.Scope) beam.PCollection { return beam.Create(s, "x") },
			"kafkaio: Fetch reads a PCollection of []kafkaio.Source, not of string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				err, _ := recover().(error)
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("panic %v, want one starting %q", err, tc.want)
				}
			}()
			_, s := beam.NewPipelineWithRoot()
			kafkaio.Fetch(s, tc.cfg, tc.in(s))
		})
	}
}

// BenchmarkFetch re-reads exposures: batches of 500 refs, each kept alert
// of an exposure whose alerts went round-robin over 4 partitions (so 125
// consecutive offsets of each, less the 10% QA dropped), against reading
// the whole topic with plain sarama (raw-sarama, the same loop as
// BenchmarkRead's). in-order fetches the exposures as they were published,
// so each partition reads on from where the last batch ended; shuffled
// fetches them in random order, so every batch seeks in its partitions.
func BenchmarkFetch(b *testing.B) {
	const exposures, perExposure, size = 16, 500, 50 << 10
	addr := benchBroker(b)
	topic := benchTopic("fetch")
	pattern := benchPattern(size)
	createTopic(b, addr, topic)
	produce(b, addr, topic, benchPartitions, 0, exposures*perExposure, func(i int) []byte { return benchValue(pattern, i) })
	waitEnd(b, addr, topic, exposures*perExposure)
	b.Cleanup(func() { deleteTopic(b, addr, topic) })

	// produce writes message i to partition i%4 at offset i/4.
	batches := make([][]kafkaio.Source, exposures)
	kept := 0
	for e := range batches {
		for i := e * perExposure; i < (e+1)*perExposure; i++ {
			if i%10 == 3 {
				continue
			}
			batches[e] = append(batches[e], kafkaio.Source{Topic: topic, Partition: int32(i % benchPartitions), Offset: int64(i / benchPartitions)})
			kept++
		}
	}
	raw := map[string]float64{}
	b.Run("raw-sarama", func(b *testing.B) {
		b.SetBytes(exposures * perExposure * size)
		for b.Loop() {
			if n, _, err := rawRead(addr, topic); err != nil || n != exposures*perExposure {
				b.Fatalf("raw read %d messages (%v), want %d", n, err, exposures*perExposure)
			}
		}
		reportRate(b, exposures*perExposure, raw, "fetch", true)
	})
	for _, order := range []string{"in-order", "shuffled"} {
		b.Run(order, func(b *testing.B) {
			in := batches
			if order == "shuffled" {
				in = append([][]kafkaio.Source(nil), batches...)
				rand.New(rand.NewPCG(3, 4)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			}
			startup := pipelineStartup(b)
			b.SetBytes(int64(kept) * size)
			for b.Loop() {
				p, s := beam.NewPipelineWithRoot()
				recs, miss := kafkaio.Fetch(s, kafkaio.Config{Brokers: []string{addr}, ClientID: benchTopic("client")}, beam.CreateList(s, in))
				tally(s, beam.ParDo(s, &countRecordsFn{}, recs))
				beam.ParDo0(s, countMissing, miss)
				res := runPipeline(b, p)

				b.StopTimer()
				if n, m := counter(res, "records"), counter(res, "missing"); n != int64(kept) || m != 0 {
					b.Fatalf("fetched %d records and %d missing, want %d and 0", n, m, kept)
				}
				b.StartTimer()
			}
			reportRate(b, kept, raw, "fetch", false)
			b.ReportMetric(float64(exposures*b.N)/b.Elapsed().Seconds(), "batches/s")
			b.ReportMetric(startup.Seconds(), "startup-s")
		})
	}
}

func countMissing(ctx context.Context, _ kafkaio.Missing) {
	beam.NewCounter("kafkaio_bench", "missing").Inc(ctx, 1)
}
