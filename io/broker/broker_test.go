package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/alertbeam/alertbeam/internal/watch"
)

// start starts a broker that the test closes when it ends.
func start(t *testing.T, opts Options) *Broker {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	b, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// config is the sarama configuration alertbeam's writers use: an idempotent
// producer, which needs acks from all replicas and one request in flight.
func config(version sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "alertbeam-broker-test"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	// Closing a partition consumer waits out its in-flight fetch, which an
	// idle broker holds for MaxWaitTime (500 ms by default).
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
	return cfg
}

func newClient(t *testing.T, addr string, cfg *sarama.Config) sarama.Client {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newProducer(t *testing.T, c sarama.Client) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducerFromClient(c)
	if err != nil {
		t.Fatalf("sarama.NewSyncProducerFromClient: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newAdmin(t *testing.T, c sarama.Client) sarama.ClusterAdmin {
	t.Helper()
	a, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		t.Fatalf("sarama.NewClusterAdminFromClient: %v", err)
	}
	// Closing the admin closes its client too, which the client's own
	// cleanup then does again harmlessly.
	t.Cleanup(func() { a.Close() })
	return a
}

// alertSize is above the 100 KB the brief asks for and above the largest
// LSST packets; sarama's own default cap (Producer.MaxMessageBytes,
// 1,000,000) still admits it.
const alertSize = 150_000

// value is a reproducible incompressible payload of alertSize+i bytes, so
// each record differs in length as well as content.
func value(seed uint64, i int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	v := make([]byte, alertSize+i)
	for j := range v {
		v[j] = byte(r.Uint32())
	}
	return v
}

func headers(i int) []sarama.RecordHeader {
	return []sarama.RecordHeader{
		{Key: []byte("stage"), Value: []byte("decode")},
		{Key: []byte("source.offset"), Value: []byte(strconv.Itoa(i))},
	}
}

// produce sends n records to topic/partition and checks the offsets they
// got: first, first+1, ...
func produce(t *testing.T, p sarama.SyncProducer, topic string, partition int32, seed uint64, first int64, n int) {
	t.Helper()
	for i := range n {
		part, off, err := p.SendMessage(&sarama.ProducerMessage{
			Topic:     topic,
			Partition: partition,
			Key:       sarama.StringEncoder(fmt.Sprintf("key-%d", i)),
			Value:     sarama.ByteEncoder(value(seed, i)),
			Headers:   headers(i),
		})
		if err != nil {
			t.Fatalf("SendMessage %d: %v", i, err)
		}
		if part != partition || off != first+int64(i) {
			t.Fatalf("SendMessage %d: partition %d offset %d, want %d and %d", i, part, off, partition, first+int64(i))
		}
	}
}

// consume reads n records of topic/partition from offset from.
func consume(t *testing.T, c sarama.Client, topic string, partition int32, from int64, n int) []*sarama.ConsumerMessage {
	t.Helper()
	cons, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		t.Fatalf("sarama.NewConsumerFromClient: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, partition, from)
	if err != nil {
		t.Fatalf("ConsumePartition(%s, %d, %d): %v", topic, partition, from, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("consuming %s/%d: %v", topic, partition, err)
		}
	}
	return out
}

// checkRecords checks that msgs are the records produce(seed) wrote at
// offsets from, from+1, ..., byte for byte, headers included.
func checkRecords(t *testing.T, msgs []*sarama.ConsumerMessage, seed uint64, from int64) {
	t.Helper()
	for j, m := range msgs {
		i := int(from) + j
		if m.Offset != int64(i) {
			t.Fatalf("record %d: offset %d, want %d", j, m.Offset, i)
		}
		if want := value(seed, i); !bytes.Equal(m.Value, want) {
			t.Fatalf("offset %d: value of %d bytes differs from the %d bytes produced", i, len(m.Value), len(want))
		}
		if want := fmt.Sprintf("key-%d", i); string(m.Key) != want {
			t.Fatalf("offset %d: key %q, want %q", i, m.Key, want)
		}
		want := headers(i)
		if len(m.Headers) != len(want) {
			t.Fatalf("offset %d: %d headers, want %d", i, len(m.Headers), len(want))
		}
		for k, h := range m.Headers {
			if !bytes.Equal(h.Key, want[k].Key) || !bytes.Equal(h.Value, want[k].Value) {
				t.Fatalf("offset %d: header %d is %q=%q, want %q=%q", i, k, h.Key, h.Value, want[k].Key, want[k].Value)
			}
		}
	}
}

func checkOffsets(t *testing.T, c sarama.Client, topic string, partition int32, oldest, newest int64) {
	t.Helper()
	for _, q := range []struct {
		at   int64
		want int64
	}{{sarama.OffsetOldest, oldest}, {sarama.OffsetNewest, newest}} {
		got, err := c.GetOffset(topic, partition, q.at)
		if err != nil {
			t.Fatalf("GetOffset(%s, %d, %d): %v", topic, partition, q.at, err)
		}
		if got != q.want {
			t.Fatalf("GetOffset(%s, %d, %d) = %d, want %d", topic, partition, q.at, got, q.want)
		}
	}
}

// eventually polls cond until it holds, failing the test if it does not
// within a generous deadline. It is for conditions that come true on their
// own schedule (a periodic metadata refresh), never a substitute for a
// synchronous answer.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !watch.Until(30*time.Second, cond) {
		t.Fatalf("still waiting for %s after 30 s", what)
	}
}

// commit commits next as group's offset for topic/partition without joining
// the group, as alertbeam's commit step does.
func commit(t *testing.T, c sarama.Client, group, topic string, partition int32, next int64) {
	t.Helper()
	om, err := sarama.NewOffsetManagerFromClient(group, c)
	if err != nil {
		t.Fatalf("NewOffsetManagerFromClient: %v", err)
	}
	pom, err := om.ManagePartition(topic, partition)
	if err != nil {
		om.Close()
		t.Fatalf("ManagePartition(%s, %d): %v", topic, partition, err)
	}
	pom.MarkOffset(next, "")
	om.Commit()
	// Closing the manager first releases the partition manager at once;
	// the other order waits for the next auto-commit tick. Its Close then
	// returns the errors the commit reported.
	om.Close()
	if err := pom.Close(); err != nil {
		t.Fatalf("commit %s/%d: %v", topic, partition, err)
	}
}

// committed reads group's committed offset for topic/partition back through
// a fresh offset manager.
func committed(t *testing.T, c sarama.Client, group, topic string, partition int32) int64 {
	t.Helper()
	om, err := sarama.NewOffsetManagerFromClient(group, c)
	if err != nil {
		t.Fatalf("NewOffsetManagerFromClient: %v", err)
	}
	pom, err := om.ManagePartition(topic, partition)
	if err != nil {
		om.Close()
		t.Fatalf("ManagePartition(%s, %d): %v", topic, partition, err)
	}
	next, _ := pom.NextOffset()
	om.Close()
	if err := pom.Close(); err != nil {
		t.Fatalf("reading the commit of %s/%d: %v", topic, partition, err)
	}
	return next
}

// TestProduceConsume covers the producer and consumer paths alertbeam's
// Kafka IO takes: an idempotent producer writing 100 KB+ records with
// headers to a chosen partition, a partition consumer starting mid-log, and
// the log's offset bounds.
func TestProduceConsume(t *testing.T) {
	b := start(t, Options{Topics: map[string]int32{"ztf_20261123_programid1": 4}})
	c := newClient(t, b.Addr(), config(SaramaVersion))
	p := newProducer(t, c)

	const n = 30
	produce(t, p, "ztf_20261123_programid1", 2, 1, 0, n)

	checkOffsets(t, c, "ztf_20261123_programid1", 2, 0, n)
	checkOffsets(t, c, "ztf_20261123_programid1", 0, 0, 0)
	checkRecords(t, consume(t, c, "ztf_20261123_programid1", 2, 10, n-10), 1, 10)
	checkRecords(t, consume(t, c, "ztf_20261123_programid1", 2, sarama.OffsetOldest, n), 1, 0)

	parts, err := c.Partitions("ztf_20261123_programid1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parts, []int32{0, 1, 2, 3}) {
		t.Fatalf("partitions %v, want [0 1 2 3]", parts)
	}
}

// TestSaramaVersions runs the produce, consume and commit paths with each
// sarama Version from the oldest alertbeam allows (idempotence and record
// headers need 2.1 in practice) to sarama's newest, so SaramaVersion's
// claim and the package doc's range stay true when either side moves.
func TestSaramaVersions(t *testing.T) {
	b := start(t, Options{Partitions: 2})
	versions := []sarama.KafkaVersion{
		sarama.V2_1_0_0, sarama.V2_8_0_0, sarama.V3_0_0_0, sarama.V3_9_0_0,
		sarama.V4_0_0_0, SaramaVersion,
	}
	if sarama.MaxVersion != SaramaVersion {
		// A newer sarama: this subtest says whether SaramaVersion can move.
		versions = append(versions, sarama.MaxVersion)
	}
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			topic := "versions-" + v.String()
			c := newClient(t, b.Addr(), config(v))
			produce(t, newProducer(t, c), topic, 1, 7, 0, 3)
			checkOffsets(t, c, topic, 1, 0, 3)
			checkRecords(t, consume(t, c, topic, 1, 1, 2), 7, 1)
			commit(t, c, "g-"+v.String(), topic, 1, 2)
			if got := committed(t, c, "g-"+v.String(), topic, 1); got != 2 {
				t.Fatalf("committed offset %d, want 2", got)
			}
			if _, err := newAdmin(t, c).ListTopics(); err != nil {
				t.Fatalf("ListTopics: %v", err)
			}
		})
	}
}

// TestAutoCreate checks that producing to an unknown topic creates it with
// Options.Partitions partitions, the way tonight's topic appears.
func TestAutoCreate(t *testing.T) {
	for _, tc := range []struct {
		opt, want int32
	}{{0, DefaultPartitions}, {5, 5}} {
		b := start(t, Options{Partitions: tc.opt})
		c := newClient(t, b.Addr(), config(SaramaVersion))
		produce(t, newProducer(t, c), "auto", 0, 2, 0, 1)
		parts, err := c.Partitions("auto")
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != int(tc.want) {
			t.Fatalf("Partitions=%d: auto-created topic has %d partitions, want %d", tc.opt, len(parts), tc.want)
		}
	}
}

// TestAdmin covers topic creation with partitions and retention through
// sarama's ClusterAdmin, listing, and the duplicate-topic error.
func TestAdmin(t *testing.T) {
	b := start(t, Options{Topics: map[string]int32{"seeded": 3}})
	a := newAdmin(t, newClient(t, b.Addr(), config(SaramaVersion)))

	twoWeeks := strconv.Itoa(14 * 24 * 3600 * 1000)
	detail := &sarama.TopicDetail{
		NumPartitions:     16,
		ReplicationFactor: 1,
		ConfigEntries:     map[string]*string{"retention.ms": &twoWeeks},
	}
	if err := a.CreateTopic("ztf_20261124_programid1", detail, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	err := a.CreateTopic("ztf_20261124_programid1", detail, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("CreateTopic again: %v, want %v", err, sarama.ErrTopicAlreadyExists)
	}

	topics, err := a.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	got := topics["ztf_20261124_programid1"]
	if got.NumPartitions != 16 || got.ReplicationFactor != 1 {
		t.Fatalf("listed %d partitions, replication %d; want 16 and 1", got.NumPartitions, got.ReplicationFactor)
	}
	if v := got.ConfigEntries["retention.ms"]; v == nil || *v != twoWeeks {
		t.Fatalf("listed retention.ms %v, want %s", v, twoWeeks)
	}
	if got := topics["seeded"].NumPartitions; got != 3 {
		t.Fatalf("seeded topic has %d partitions, want 3", got)
	}

	res, err := a.DescribeConfigs([]*sarama.ConfigResource{{Type: sarama.TopicResource, Name: "ztf_20261124_programid1"}}, sarama.DescribeConfigsOptions{})
	if err != nil || len(res) != 1 || res[0].ErrorCode != sarama.ErrNoError {
		t.Fatalf("DescribeConfigs: %+v, %v", res, err)
	}
	found := false
	for _, e := range res[0].Configs {
		if e.Name == "retention.ms" {
			found = e.Value == twoWeeks && !e.Default
		}
	}
	if !found {
		t.Fatalf("DescribeConfigs: no retention.ms=%s among %d entries", twoWeeks, len(res[0].Configs))
	}

	// The broker-side helper sees sarama's topic and reports kfake's error.
	if err := b.CreateTopic("ztf_20261124_programid1", 1, nil); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("Broker.CreateTopic of an existing topic: %v, want %v", err, kerr.TopicAlreadyExists)
	}
}

// TestMetadataRefresh checks that a client's periodic metadata refresh, with
// no request for the topic, finds a topic created after it started and
// partitions added to it later.
func TestMetadataRefresh(t *testing.T) {
	b := start(t, Options{})
	cfg := config(SaramaVersion)
	cfg.Metadata.RefreshFrequency = 50 * time.Millisecond
	c := newClient(t, b.Addr(), cfg)
	if slices.Contains(mustTopics(t, c), "late") {
		t.Fatal("topic late exists before it was created")
	}

	// Another client creates it, as the distribute step would at dusk.
	a := newAdmin(t, newClient(t, b.Addr(), config(SaramaVersion)))
	if err := a.CreateTopic("late", &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	eventually(t, "topic late in the refreshed metadata", func() bool {
		return slices.Contains(mustTopics(t, c), "late")
	})
	if parts, err := c.Partitions("late"); err != nil || len(parts) != 2 {
		t.Fatalf("Partitions(late) = %v, %v; want 2 partitions", parts, err)
	}

	if err := a.CreatePartitions("late", 4, nil, false); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	eventually(t, "4 partitions of late in the refreshed metadata", func() bool {
		parts, err := c.Partitions("late")
		return err == nil && len(parts) == 4
	})
}

func mustTopics(t *testing.T, c sarama.Client) []string {
	t.Helper()
	ts, err := c.Topics()
	if err != nil {
		t.Fatalf("Topics: %v", err)
	}
	return ts
}

// TestCommitWithoutJoining checks the commit path alertbeam uses: offsets
// committed for a consumer group that no member ever joined, read back by
// another client and by the admin API.
func TestCommitWithoutJoining(t *testing.T) {
	b := start(t, Options{Topics: map[string]int32{"alerts": 3}})
	c := newClient(t, b.Addr(), config(SaramaVersion))
	produce(t, newProducer(t, c), "alerts", 1, 3, 0, 5)

	commit(t, c, "alertbeam-filter", "alerts", 1, 4)
	commit(t, c, "alertbeam-filter", "alerts", 2, 0)

	other := newClient(t, b.Addr(), config(SaramaVersion))
	if got := committed(t, other, "alertbeam-filter", "alerts", 1); got != 4 {
		t.Fatalf("committed offset of alerts/1 = %d, want 4", got)
	}
	// Never committed: the manager falls back to Consumer.Offsets.Initial.
	if got := committed(t, other, "alertbeam-filter", "alerts", 0); got != sarama.OffsetNewest {
		t.Fatalf("uncommitted alerts/0 = %d, want OffsetNewest (%d)", got, sarama.OffsetNewest)
	}

	resp, err := newAdmin(t, other).ListConsumerGroupOffsets("alertbeam-filter", map[string][]int32{"alerts": {0, 1, 2}})
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	for p, want := range map[int32]int64{0: -1, 1: 4, 2: 0} {
		blk := resp.GetBlock("alerts", p)
		if blk == nil || blk.Err != sarama.ErrNoError || blk.Offset != want {
			t.Fatalf("listed offset of alerts/%d = %+v, want %d", p, blk, want)
		}
	}
}

// TestPersistence writes records and a group commit, closes the broker,
// starts a new one on the same data directory, and finds everything where
// it was; writing then continues at the next offset.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	const n = 25
	opts := Options{DataDir: dir, Logf: t.Logf, Topics: map[string]int32{"night": 2}}

	first, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Closed by hand before the broker: no cleanup registrations.
	c, err := sarama.NewClient([]string{first.Addr()}, config(SaramaVersion))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sarama.NewSyncProducerFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, p, "night", 1, 4, 0, n)
	produce(t, p, "auto-created", 0, 5, 0, 2)
	commit(t, c, "archive", "night", 1, 17)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A different port and Topics naming the reloaded topic with another
	// partition count: the data directory's state wins.
	opts.Topics = map[string]int32{"night": 9, "new": 1}
	second := start(t, opts)
	c = newClient(t, second.Addr(), config(SaramaVersion))
	checkOffsets(t, c, "night", 1, 0, n)
	checkOffsets(t, c, "night", 0, 0, 0)
	checkOffsets(t, c, "auto-created", 0, 0, 2)
	checkRecords(t, consume(t, c, "night", 1, 0, n), 4, 0)
	if got := committed(t, c, "archive", "night", 1); got != 17 {
		t.Fatalf("committed offset after restart = %d, want 17", got)
	}
	for topic, want := range map[string]int{"night": 2, "auto-created": DefaultPartitions, "new": 1} {
		if parts, err := c.Partitions(topic); err != nil || len(parts) != want {
			t.Fatalf("Partitions(%s) after restart = %v, %v; want %d partitions", topic, parts, err, want)
		}
	}
	produce(t, newProducer(t, c), "night", 1, 6, n, 1)
	checkOffsets(t, c, "night", 1, 0, n+1)
}

// TestRestart restarts a broker under running clients: the address stays,
// the clients reconnect, the idempotent producer carries on at the next
// offset and the group's commit is still there.
func TestRestart(t *testing.T) {
	b := start(t, Options{DataDir: t.TempDir(), Topics: map[string]int32{"alerts": 1}})
	addr := b.Addr()
	c := newClient(t, addr, config(SaramaVersion))
	p := newProducer(t, c)
	produce(t, p, "alerts", 0, 8, 0, 10)
	commit(t, c, "g", "alerts", 0, 6)

	if err := b.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := b.Addr(); got != addr {
		t.Fatalf("address after restart %s, want %s", got, addr)
	}

	// The same producer and client, whose connections the restart cut.
	_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "alerts", Partition: 0, Value: sarama.StringEncoder("after")})
	if err != nil {
		t.Fatalf("SendMessage after restart: %v", err)
	}
	if off != 10 {
		t.Fatalf("first offset after restart %d, want 10", off)
	}
	checkOffsets(t, c, "alerts", 0, 0, 11)
	checkRecords(t, consume(t, c, "alerts", 0, 0, 10), 8, 0)
	if got := committed(t, c, "g", "alerts", 0); got != 6 {
		t.Fatalf("committed offset after restart = %d, want 6", got)
	}
}

// TestRestartInMemory: without a data directory a restart loses everything
// but Options.Topics, which come back empty.
func TestRestartInMemory(t *testing.T) {
	b := start(t, Options{Topics: map[string]int32{"alerts": 2}})
	c := newClient(t, b.Addr(), config(SaramaVersion))
	produce(t, newProducer(t, c), "alerts", 0, 9, 0, 3)
	if err := b.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	c = newClient(t, b.Addr(), config(SaramaVersion))
	checkOffsets(t, c, "alerts", 0, 0, 0)
	if parts, err := c.Partitions("alerts"); err != nil || len(parts) != 2 {
		t.Fatalf("Partitions(alerts) = %v, %v; want 2 partitions", parts, err)
	}
}

// TestLargeRecords sends one record near the 16 MiB default limit (raising
// sarama's producer cap to match; its consumer needs no change) and one
// above it, which the broker refuses.
func TestLargeRecords(t *testing.T) {
	b := start(t, Options{Topics: map[string]int32{"big": 1}})
	cfg := config(SaramaVersion)
	cfg.Producer.MaxMessageBytes = 2 * DefaultMaxMessageBytes
	c := newClient(t, b.Addr(), cfg)
	p := newProducer(t, c)

	big := bytes.Repeat([]byte{0xa5}, DefaultMaxMessageBytes-1024)
	if _, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "big", Value: sarama.ByteEncoder(big)}); err != nil || off != 0 {
		t.Fatalf("SendMessage of %d bytes: offset %d, %v; want offset 0", len(big), off, err)
	}
	tooBig := make([]byte, DefaultMaxMessageBytes+1)
	_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "big", Value: sarama.ByteEncoder(tooBig)})
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("SendMessage of %d bytes: %v, want %v", len(tooBig), err, sarama.ErrMessageSizeTooLarge)
	}
	msgs := consume(t, c, "big", 0, 0, 1)
	if !bytes.Equal(msgs[0].Value, big) {
		t.Fatalf("read back %d bytes, want the %d written", len(msgs[0].Value), len(big))
	}
	checkOffsets(t, c, "big", 0, 0, 1)
}

// TestAddr covers fixed ports, the wildcard host and bad addresses.
func TestAddr(t *testing.T) {
	b := start(t, Options{Addr: "0.0.0.0:0"})
	host, _, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("wildcard broker advertises %q, want 127.0.0.1:PORT", b.Addr())
	}
	c := newClient(t, b.Addr(), config(SaramaVersion))
	produce(t, newProducer(t, c), "wild", 0, 10, 0, 1)

	// A fixed port: take a free one, free it, and ask for it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	want := ln.Addr().String()
	ln.Close()
	fixed := start(t, Options{Addr: want})
	if fixed.Addr() != want {
		t.Fatalf("Addr() = %s, want %s", fixed.Addr(), want)
	}
	// The port is taken now.
	if _, err := Start(Options{Addr: want}); err == nil {
		t.Fatalf("a second broker started on %s", want)
	}

	for _, bad := range []string{"localhost", "127.0.0.1:http", "127.0.0.1:70000", ":"} {
		if _, err := Start(Options{Addr: bad}); err == nil {
			t.Errorf("Start(Addr: %q) succeeded, want an error", bad)
		}
	}
	if _, err := Start(Options{Partitions: -1}); err == nil {
		t.Error("Start(Partitions: -1) succeeded, want an error")
	}
}

func TestCloseIdempotent(t *testing.T) {
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
	if err := b.Restart(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Restart after Close: %v, want ErrClosed", err)
	}
	if err := b.CreateTopic("x", 1, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateTopic after Close: %v, want ErrClosed", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	addrs, stop, err := Resolve(ctx, "embedded", Options{Topics: map[string]int32{"t": 1}})
	if err != nil {
		t.Fatalf("Resolve(embedded): %v", err)
	}
	if len(addrs) != 1 {
		t.Fatalf("Resolve(embedded) = %v, want one address", addrs)
	}
	c := newClient(t, addrs[0], config(SaramaVersion))
	produce(t, newProducer(t, c), "t", 0, 11, 0, 1)
	c.Close()
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}

	for in, want := range map[string][]string{
		"kafka:9092":                          {"kafka:9092"},
		" a.example:9092, 10.0.0.1:9093 ":     {"a.example:9092", "10.0.0.1:9093"},
		"[::1]:9092,alerts.lsst.cloud:9094":   {"[::1]:9092", "alerts.lsst.cloud:9094"},
		"public.alerts.ztf.uw.edu:9092":       {"public.alerts.ztf.uw.edu:9092"},
		"b-1.msk.amazonaws.com:9096,b-2:9096": {"b-1.msk.amazonaws.com:9096", "b-2:9096"},
	} {
		got, stop, err := Resolve(ctx, in, Options{})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		if err := stop(); err != nil {
			t.Errorf("Resolve(%q): stop: %v", in, err)
		}
	}
	for _, in := range []string{"", " ", "kafka", "kafka:", ":9092", "kafka:port", "kafka:0", "kafka:65536", "a:1,,b:2", "embedded,kafka:9092", "http://kafka:9092"} {
		if _, _, err := Resolve(ctx, in, Options{}); err == nil {
			t.Errorf("Resolve(%q) succeeded, want an error", in)
		} else if !strings.HasPrefix(err.Error(), "broker: ") {
			t.Errorf("Resolve(%q): error %q lacks the package prefix", in, err)
		}
	}
}

// TestResolveContext: cancelling the context stops an embedded broker, so a
// command that forgets stop still shuts it down (and saves its data).
func TestResolveContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs, stop, err := Resolve(ctx, "embedded", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cancel()
	eventually(t, "the broker to close after cancel", func() bool {
		conn, err := net.Dial("tcp", addrs[0])
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	if _, _, err := Resolve(ctx, "embedded", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Resolve with a cancelled context: %v, want context.Canceled", err)
	}
}
