package kafkaio_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// sendAt writes keys k<from>..k<to-1> round-robin over partitions, key i
// stamped at t0 + i ms.
func sendAt(t *testing.T, addr, topic string, partitions int32, from, to int, t0 time.Time) {
	t.Helper()
	prod, err := sarama.NewSyncProducer([]string{addr}, saramaCfg())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := from; i < to; i++ {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: int32(i) % partitions, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder("v"), Timestamp: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
}

// inOrder is keys k<from>..k<to-1> in numeric order.
func inOrder(from, to int) []string {
	var ks []string
	for i := from; i < to; i++ {
		ks = append(ks, fmt.Sprintf("k%d", i))
	}
	return ks
}

func keysOfRecords(rs []kafkaio.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Key)
	}
	return out
}

// Tail's last N are the N latest by record time over every partition, and
// Since starts each partition at that time.
func TestTailLastAndSince(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	produce(t, addr, "tail", 3, 0, 0, nil) // creates the topic
	sendAt(t, addr, "tail", 3, 0, 30, t0)
	conn := kafkaio.Config{Brokers: []string{addr}}
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  kafkaio.TailConfig
		want []string
	}{
		{kafkaio.TailConfig{Config: conn, Topic: "tail", Last: 7}, inOrder(23, 30)},
		{kafkaio.TailConfig{Config: conn, Topic: "tail", Last: 100}, inOrder(0, 30)},
		{kafkaio.TailConfig{Config: conn, Topic: "tail", Since: t0.Add(10 * time.Millisecond)}, inOrder(10, 30)},
		{kafkaio.TailConfig{Config: conn, Topic: "tail", Since: t0.Add(time.Hour)}, nil},
	} {
		got, err := kafkaio.Tail(ctx, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keysOfRecords(got), tc.want) {
			t.Fatalf("Tail(last %d, since %v): %v, want %v", tc.cfg.Last, tc.cfg.Since.Sub(t0), keysOfRecords(got), tc.want)
		}
	}
	if _, err := kafkaio.Tail(ctx, kafkaio.TailConfig{Config: conn, Topic: "tail"}); err == nil {
		t.Fatal("Tail with neither Last nor Since should fail")
	}
}

// Follow applies what a topic holds before it says ready, then what
// arrives; a topic that does not exist yet is ready at once, and followed
// once it appears.
func TestFollow(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	t0 := time.Now().Truncate(time.Millisecond)
	produce(t, addr, "follow", 2, 0, 0, nil)
	sendAt(t, addr, "follow", 2, 0, 5, t0)
	conn := kafkaio.Config{Brokers: []string{addr}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	seen := map[string][]string{}
	apply := func(r kafkaio.Record) {
		mu.Lock()
		seen[r.Topic] = append(seen[r.Topic], string(r.Key))
		mu.Unlock()
	}
	keys := func(topic string) []string {
		mu.Lock()
		defer mu.Unlock()
		k := slices.Clone(seen[topic])
		slices.Sort(k)
		return k
	}
	waitFor := func(topic string, want []string) {
		t.Helper()
		slices.Sort(want)
		if !watch.Until(time.Minute, func() bool { return slices.Equal(keys(topic), want) }) {
			t.Fatalf("%s: followed %v after a minute, want %v", topic, keys(topic), want)
		}
	}
	if err := <-kafkaio.Follow(ctx, conn, "follow", apply); err != nil {
		t.Fatal(err)
	}
	if got := keys("follow"); !slices.Equal(got, keyRange(0, 5)) {
		t.Fatalf("ready after %v, want every record there at start", got)
	}
	sendAt(t, addr, "follow", 2, 5, 8, t0)
	waitFor("follow", keyRange(0, 8))

	if err := <-kafkaio.Follow(ctx, conn, "later", apply); err != nil {
		t.Fatal(err)
	}
	produce(t, addr, "later", 1, 0, 0, nil)
	sendAt(t, addr, "later", 1, 0, 3, t0)
	waitFor("later", keyRange(0, 3))
}
