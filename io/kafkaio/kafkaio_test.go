package kafkaio_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/runners"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function1x1(recordKey)
	register.Function1x1(recordChain)
	register.Function1x1(forward)
	register.Function1x1(ackKey)
}

func recordKey(r kafkaio.Record) string { return string(r.Key) }

// recordChain renders where a record sits and what it says came before it.
func recordChain(r kafkaio.Record) string {
	return fmt.Sprintf("%s/%d@%d prev=%d base=%d value=%s", r.Topic, r.Partition, r.Offset, r.Prev, r.Base, r.Value)
}

// forward copies a record to topic "out", acknowledging its source.
func forward(r kafkaio.Record) kafkaio.Message {
	return kafkaio.Message{Topic: "out", Key: r.Key, Value: r.Value,
		Headers: []kafkaio.Header{{Key: "source", Value: []byte(r.Source.String())}}, Source: r.Source, Units: 1}
}

func ackKey(a kafkaio.Ack) string { return a.Source.String() }

// run executes p on the direct runner as alertbeam maps it.
func run(t *testing.T, ctx context.Context, p *beam.Pipeline) error {
	t.Helper()
	_, err := runners.Run(ctx, p)
	return err
}

// Within a 16-byte read-ahead budget, partitions pause and resume at nearly
// every record, and the read is the same.
func TestReadBoundedEmitsEveryRecordOnce(t *testing.T) { underBothBudgets(t, readEveryRecordOnce) }

func readEveryRecordOnce(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	produce(t, addr, "in", 4, 0, 300, func(i int) []byte { return []byte(fmt.Sprintf("v%d", i)) })

	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Topics: []string{"in"}, StopAtEnd: true})
	passert.Equals(s, beam.ParDo(s, recordKey, recs), anySlice(keyRange(0, 300))...)
	var want []any
	for i := 0; i < 300; i++ {
		part, off := i%4, i/4
		want = append(want, fmt.Sprintf("in/%d@%d prev=%d base=0 value=v%d", part, off, off-1, i))
	}
	passert.Equals(s, beam.ParDo(s, recordChain, recs), want...)
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// Shards of a read split the partitions between them and together read
// every record once; a shard left without partitions (a topic with fewer
// partitions than shards) still finishes a bounded read.
func TestShardedReadsSplitThePartitions(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	produce(t, addr, "in", 3, 0, 90, func(i int) []byte { return []byte(fmt.Sprintf("v%d", i)) })

	p, s := beam.NewPipelineWithRoot()
	base := kafkaio.ReadConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Topics: []string{"in"}, StopAtEnd: true}
	shards := base.Sharded(4)
	if len(shards) != 4 {
		t.Fatalf("Sharded(4) gave %d configs", len(shards))
	}
	var all []beam.PCollection
	for i, rc := range shards {
		recs := kafkaio.Read(s.Scope(fmt.Sprint("shard", i)), rc)
		var want []any
		for j := 0; j < 90; j++ {
			if j%3 == i { // partition j%3 holds record j; shard i reads partition i
				want = append(want, fmt.Sprintf("k%d", j))
			}
		}
		passert.Equals(s, beam.ParDo(s, recordKey, recs), want...)
		all = append(all, recs)
	}
	passert.Count(s, beam.Flatten(s, all...), "every record", 90)
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := base.Sharded(1); len(got) != 1 || got[0].Shards != 0 {
		t.Errorf("Sharded(1) = %+v, want the config itself", got)
	}
}

// The readers of one Reads read the same records with the same chain of
// offsets, so the acknowledgements of sinks fed by each add up in one
// Commit: here each reader feeds a writer of its own, the commit waits for
// both (Units 2), and the group is committed to the end with every record
// written twice. The read metric counts each record once.
func TestReadsFeedOneCommit(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	produce(t, addr, "in", 3, 0, 90, func(i int) []byte { return []byte(fmt.Sprintf("v%d", i)) })

	p, s := beam.NewPipelineWithRoot()
	base := kafkaio.Config{Brokers: []string{addr}}
	rs := kafkaio.Reads(s, kafkaio.ReadConfig{Config: base, Topics: []string{"in"}, Group: "twice", Start: kafkaio.StartCommitted, StopAtEnd: true}, 2)
	if len(rs) != 2 {
		t.Fatalf("Reads(2) gave %d readers", len(rs))
	}
	var want []any
	for i := 0; i < 90; i++ {
		part, off := i%3, i/3
		want = append(want, fmt.Sprintf("in/%d@%d prev=%d base=0 value=v%d", part, off, off-1, i))
	}
	var acks []beam.PCollection
	for _, recs := range rs {
		passert.Equals(s, beam.ParDo(s, recordChain, recs), want...)
		acks = append(acks, kafkaio.Write(s, kafkaio.WriteConfig{Config: base, Partitions: 2}, beam.ParDo(s, forward, recs)))
	}
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: base, Group: "twice", Units: 2}, acks...)
	before := metrics.Sum(metrics.RecordsRead)
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := metrics.Sum(metrics.RecordsRead) - before; got != 90 {
		t.Errorf("%v records counted as read, want 90 (each once)", got)
	}
	if !kafkatest.CommittedToEnd(t, addr, "twice", "in") {
		t.Error("group twice is not committed to the end of in")
	}
	count := map[string]int{}
	for _, k := range keysOf(kafkatest.ReadN(t, addr, "out", 180, 5*time.Second)) {
		count[k]++
	}
	for i := 0; i < 90; i++ {
		if k := fmt.Sprintf("k%d", i); count[k] != 2 {
			t.Errorf("%s written %d times, want 2 (once per reader)", k, count[k])
		}
	}
	if len(count) != 90 {
		t.Errorf("out has %d distinct keys, want 90", len(count))
	}
}

func TestReadStartsWhereAsked(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	produce(t, addr, "in", 2, 0, 40, func(i int) []byte { return []byte{byte(i)} })
	for _, tc := range []struct {
		name string
		cfg  kafkaio.ReadConfig
		want []string
	}{
		{"max records per partition", kafkaio.ReadConfig{MaxRecords: 5}, keyRange(0, 10)},
		{"latest with stop at end reads nothing", kafkaio.ReadConfig{Start: kafkaio.StartLatest, StopAtEnd: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Brokers, cfg.Topics = []string{addr}, []string{"in"}
			p, s := beam.NewPipelineWithRoot()
			keys := beam.ParDo(s, recordKey, kafkaio.Read(s, cfg))
			passert.Equals(s, keys, anySlice(tc.want)...)
			if err := run(t, context.Background(), p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Within a 16-byte budget of unanswered bytes, every 3 KB message waits for
// the one before it to be answered (one larger than the budget takes all
// of it), and the writes are the same.
func TestWriteRoutesPerElementAndAcks(t *testing.T) { underBothBudgets(t, writeRoutesAndAcks) }

func writeRoutesAndAcks(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	var msgs []kafkaio.Message
	for i := 0; i < 60; i++ {
		topic := []string{"night_a", "night_b", "night_c"}[i%3]
		msgs = append(msgs, kafkaio.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)),
			Value:   []byte(strings.Repeat(fmt.Sprintf("%03d", i), 1000)),
			Headers: []kafkaio.Header{{Key: "n", Value: []byte(fmt.Sprint(i))}},
			Source:  kafkaio.Source{Topic: "src", Partition: 0, Offset: int64(i), Prev: int64(i - 1)}, Units: 1})
	}
	// One message without a source: written, not acknowledged.
	msgs = append(msgs, kafkaio.Message{Topic: "night_a", Key: []byte("nosource"), Value: []byte("x")})

	p, s := beam.NewPipelineWithRoot()
	acks := kafkaio.Write(s, kafkaio.WriteConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Partitions: 3, Retention: 14 * 24 * time.Hour},
		beam.CreateList(s, msgs))
	var wantAcks []any
	for i := 0; i < 60; i++ {
		wantAcks = append(wantAcks, fmt.Sprintf("src/0@%d", i))
	}
	passert.Equals(s, beam.ParDo(s, ackKey, acks), wantAcks...)
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}

	for j, topic := range []string{"night_a", "night_b", "night_c"} {
		want := 20
		if topic == "night_a" {
			want = 21
		}
		got := kafkatest.ReadN(t, addr, topic, want, time.Minute)
		if len(got) != want {
			t.Fatalf("%s: %d messages, want %d", topic, len(got), want)
		}
		for _, m := range got {
			if string(m.Key) == "nosource" {
				continue
			}
			var i int
			fmt.Sscanf(string(m.Key), "k%d", &i)
			if i%3 != j || string(m.Value) != strings.Repeat(fmt.Sprintf("%03d", i), 1000) ||
				len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(i) {
				t.Fatalf("%s: message %s has the wrong topic, bytes or headers", topic, m.Key)
			}
		}
	}
	admin, err := sarama.NewClusterAdmin([]string{addr}, saramaCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	meta, err := admin.DescribeTopics([]string{"night_b"})
	if err != nil || len(meta) != 1 || len(meta[0].Partitions) != 3 {
		t.Fatalf("night_b should have been created with 3 partitions: %v %v", meta, err)
	}
}

// An unbounded read by pattern picks up a topic created after it started,
// commits only what the sink acknowledged, and a second run of the same group
// resumes without losing anything.
func TestPatternDiscoveryCommitAndResume(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	val := func(i int) []byte { return []byte(fmt.Sprintf("v%d", i)) }
	produce(t, addr, "night_1", 2, 0, 50, val)

	runOnce := func(wantDistinct int, during func()) {
		t.Helper()
		p, s := beam.NewPipelineWithRoot()
		base := kafkaio.Config{Brokers: []string{addr}}
		recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: base, TopicPattern: "night_.*", Group: "g1",
			Start: kafkaio.StartCommitted, DiscoveryInterval: 300 * time.Millisecond})
		acks := kafkaio.Write(s, kafkaio.WriteConfig{Config: base, Partitions: 2}, beam.ParDo(s, forward, recs))
		kafkaio.Commit(s, kafkaio.CommitConfig{Config: base, Group: "g1", Units: 1}, acks)
		r := startRun(t, p)
		if during != nil {
			during()
		}
		r.Until(t, 2*time.Minute, "every key in out", func() bool {
			return len(distinct(keysOf(kafkatest.ReadN(t, addr, "out", wantDistinct, 2*time.Second)))) >= wantDistinct
		})
		r.Until(t, 2*time.Minute, "offsets committed to the end", func() bool { return kafkatest.CommittedToEnd(t, addr, "g1", "night_1", "night_2") })
		r.Stop()
	}
	runOnce(100, func() { produce(t, addr, "night_2", 2, 50, 50, val) })

	produce(t, addr, "night_2", 2, 100, 50, val)
	runOnce(150, nil)

	got := distinct(keysOf(kafkatest.ReadN(t, addr, "out", 150, 5*time.Second)))
	if want := keyRange(0, 150); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("out has %d distinct keys, want exactly k0..k149", len(got))
	}
}

func distinct(ks []string) []string {
	var out []string
	for i, k := range ks {
		if i == 0 || k != ks[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// startRun runs p on the direct runner in the background until Stop (or
// the test's end).
func startRun(t *testing.T, p *beam.Pipeline) *watch.Run {
	return watch.Start(t, func(ctx context.Context) error { return run(t, ctx, p) })
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	sort.Slice(out, func(i, j int) bool { return out[i].(string) < out[j].(string) })
	return out
}
