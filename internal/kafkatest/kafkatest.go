package kafkatest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Start runs an embedded broker with opts for the rest of the test.
func Start(t testing.TB, opts broker.Options) *broker.Broker {
	t.Helper()
	b, err := broker.Start(opts)
	if err != nil {
		t.Fatalf("kafkatest: start the embedded broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Config is a bare sarama configuration at the Kafka version alertbeam
// speaks: the tests' own clients must not share the settings under test.
func Config() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = kafkaio.KafkaVersion
	return sc
}

// Admin is a cluster admin on the brokers at addr, closed when the test ends.
func Admin(t testing.TB, addr string) sarama.ClusterAdmin {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{addr}, Config())
	if err != nil {
		t.Fatalf("kafkatest: admin on %s: %v", addr, err)
	}
	t.Cleanup(func() { admin.Close() })
	return admin
}

// Producer is a synchronous producer on the brokers at addr, each message
// acknowledged by all replicas; configure, if given, adjusts its
// configuration first (e.g. a manual partitioner). The caller closes it.
func Producer(t testing.TB, addr string, configure ...func(*sarama.Config)) sarama.SyncProducer {
	t.Helper()
	sc := Config()
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	for _, c := range configure {
		c(sc)
	}
	p, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		t.Fatalf("kafkatest: producer on %s: %v", addr, err)
	}
	return p
}

// Produced is one message as the broker stored it.
type Produced struct {
	Partition int32
	Offset    int64
	Value     []byte
}

// Produce writes values to topic, the i-th to partition i mod partitions,
// each acknowledged by all replicas, and returns where each landed.
func Produce(t testing.TB, addr, topic string, partitions int32, values [][]byte) []Produced {
	t.Helper()
	p := Producer(t, addr, func(sc *sarama.Config) { sc.Producer.Partitioner = sarama.NewManualPartitioner })
	defer p.Close()
	out := make([]Produced, len(values))
	for i, v := range values {
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i) % partitions, Value: sarama.ByteEncoder(v)})
		if err != nil {
			t.Fatalf("kafkatest: produce message %d to %s: %v", i, topic, err)
		}
		out[i] = Produced{part, off, v}
	}
	return out
}

// ReadTopic returns every message of topic on the brokers at addr (a
// comma-separated list), from the start to its end now, partition by
// partition; none if the topic does not exist (yet): tests poll topics a
// job creates, and a topic nothing was written to reads empty either way.
func ReadTopic(t testing.TB, addr, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	brokers := strings.Split(addr, ",")
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: brokers})
	if err != nil {
		t.Fatalf("kafkatest: read %s: %v", topic, err)
	}
	cl, err := sarama.NewClient(brokers, sc)
	if err != nil {
		t.Fatalf("kafkatest: read %s: client on %s: %v", topic, addr, err)
	}
	defer cl.Close()
	// Ask the metadata first: asking sarama for the partitions of a missing
	// topic retries for seconds.
	if topics, err := cl.Topics(); err != nil || !slices.Contains(topics, topic) {
		return nil
	}
	parts, err := cl.Partitions(topic)
	if err != nil {
		return nil
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		t.Fatalf("kafkatest: read %s: %v", topic, err)
	}
	defer cons.Close()
	var out []*sarama.ConsumerMessage
	for _, p := range parts {
		end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("kafkatest: read %s: end of partition %d: %v", topic, p, err)
		}
		if end == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("kafkatest: read %s partition %d: %v", topic, p, err)
		}
		for m := range pc.Messages() {
			out = append(out, m)
			if m.Offset >= end-1 {
				break
			}
		}
		pc.Close()
	}
	return out
}

// ReadN reads topic (all partitions, from the start) until it holds want
// messages or wait has passed, then keeps what else arrives within 200 ms:
// a message beyond want is a duplicate worth seeing. It is for topics a
// running pipeline is still writing.
func ReadN(t testing.TB, addr, topic string, want int, wait time.Duration) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, Config())
	if err != nil {
		t.Fatalf("kafkatest: consumer on %s: %v", addr, err)
	}
	defer c.Close()
	timeout := time.After(wait)
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("kafkatest: partitions of %s: %v", topic, err)
	}
	ch := make(chan *sarama.ConsumerMessage, 1024)
	done := make(chan struct{})
	defer close(done)
	for _, p := range parts {
		pc := consumeWithin(t, c, topic, p, timeout)
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				select {
				case ch <- m:
				case <-done: // returned: let Close drain the rest
				}
			}
		}()
	}
	var out []*sarama.ConsumerMessage
	for len(out) < want {
		select {
		case m := <-ch:
			out = append(out, m)
		case <-timeout:
			return out
		}
	}
	for {
		select {
		case m := <-ch:
			out = append(out, m)
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}

// consumeWithin opens a partition from its oldest offset. A topic the
// pipeline has just created may not have its leader yet (the broker says
// "not the leader"): that is retried until timeout.
func consumeWithin(t testing.TB, c sarama.Consumer, topic string, p int32, timeout <-chan time.Time) sarama.PartitionConsumer {
	t.Helper()
	for {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err == nil {
			return pc
		}
		if !errors.Is(err, sarama.ErrNotLeaderForPartition) && !errors.Is(err, sarama.ErrLeaderNotAvailable) {
			t.Fatalf("kafkatest: read %s partition %d: %v", topic, p, err)
		}
		select {
		case <-timeout:
			t.Fatalf("kafkatest: read %s partition %d: %v", topic, p, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Committed returns the group's committed offset in each of partitions
// 0..partitions-1 of topic; a partition without a commit is absent.
func Committed(t testing.TB, addr, group, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	parts := []int32{}
	for p := range partitions {
		parts = append(parts, p)
	}
	// Its own admin, closed at once: tests poll this.
	admin, err := sarama.NewClusterAdmin([]string{addr}, Config())
	if err != nil {
		t.Fatalf("kafkatest: admin on %s: %v", addr, err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatalf("kafkatest: offsets of group %s on %s: %v", group, topic, err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if b := resp.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError && b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}

// CommittedToEnd reports whether the group has committed every partition
// of the topics at its end offset. An error, a missing topic among them,
// is "not yet": tests poll it while a pipeline runs.
func CommittedToEnd(t testing.TB, addr, group string, topics ...string) bool {
	t.Helper()
	cl := client(t, addr)
	defer cl.Close()
	for _, topic := range topics {
		ends, done, err := progress(cl, group, topic)
		if err != nil {
			return false
		}
		for p, end := range ends {
			if done[p] != end {
				return false
			}
		}
	}
	return true
}

// Messages is how many messages topic holds on the brokers at addr (the
// sum of its partitions' end offsets: test topics are never truncated);
// 0 while it does not exist.
func Messages(t testing.TB, addr, topic string) int64 {
	t.Helper()
	cl := client(t, addr)
	defer cl.Close()
	ends, err := EndOffsets(cl, topic)
	if err != nil {
		return 0
	}
	var n int64
	for _, end := range ends {
		n += end
	}
	return n
}

// Lag is how many messages of topic lie beyond the group's committed
// offsets (all of a partition without a commit).
func Lag(t testing.TB, addr, group, topic string) int64 {
	t.Helper()
	cl := client(t, addr)
	defer cl.Close()
	ends, done, err := progress(cl, group, topic)
	if err != nil {
		t.Fatalf("kafkatest: progress of group %s on %s: %v", group, topic, err)
	}
	var lag int64
	for p, end := range ends {
		lag += end - max(done[p], 0)
	}
	return lag
}

// progress is, for each partition of topic, its end offset and the offset
// group has committed there (-1 for none), read through cl.
func progress(cl sarama.Client, group, topic string) (ends, done map[int32]int64, err error) {
	if ends, err = EndOffsets(cl, topic); err != nil {
		return nil, nil, err
	}
	admin, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		return nil, nil, err
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: slices.Collect(maps.Keys(ends))})
	if err != nil {
		return nil, nil, err
	}
	done = map[int32]int64{}
	for p := range ends {
		done[p] = -1
		if b := resp.GetBlock(topic, p); b != nil {
			done[p] = b.Offset
		}
	}
	return ends, done, nil
}

// client is a client of the brokers at addr; the caller closes it (tests
// poll with these, so none waits for the test's end).
func client(t testing.TB, addr string) sarama.Client {
	t.Helper()
	cl, err := sarama.NewClient([]string{addr}, Config())
	if err != nil {
		t.Fatalf("kafkatest: client on %s: %v", addr, err)
	}
	return cl
}

// EndOffsets is the end offset of each partition of topic, read through cl
// (a test that rides out restarting brokers brings its own client).
func EndOffsets(cl sarama.Client, topic string) (map[int32]int64, error) {
	parts, err := cl.Partitions(topic)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	for _, p := range parts {
		if ends[p], err = cl.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, err
		}
	}
	return ends, nil
}
