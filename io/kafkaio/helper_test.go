package kafkaio_test

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func saramaCfg() *sarama.Config {
	sc := sarama.NewConfig()
	sc.Version = kafkaio.KafkaVersion
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	// sarama fills a batch up to this size; Kafka's default limit is 1 MB.
	sc.Producer.MaxMessageBytes = 1000000
	sc.Producer.Partitioner = sarama.NewManualPartitioner
	// A topic just created may have no leader known to every broker for
	// a moment ("not the leader ... metadata is out of date" on a busy
	// machine): ride that out as a real producer would (5 s).
	sc.Producer.Retry.Max, sc.Producer.Retry.Backoff = 20, 250*time.Millisecond
	return sc
}

// produce writes n messages round-robin over the topic's partitions with
// keys "k<i>" and values from value(i), using plain sarama.
func produce(t testing.TB, addr, topic string, partitions int32, from, n int, value func(int) []byte) {
	t.Helper()
	if err := produceErr(addr, topic, partitions, from, n, value); err != nil {
		t.Fatal(err)
	}
}

// produceErr is produce for goroutines, which must not call t.Fatal.
func produceErr(addr, topic string, partitions int32, from, n int, value func(int) []byte) error {
	sc := saramaCfg()
	admin, err := sarama.NewClusterAdmin([]string{addr}, sc)
	if err != nil {
		return err
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
	if err != nil {
		if te, ok := err.(*sarama.TopicError); !ok || te.Err != sarama.ErrTopicAlreadyExists {
			return fmt.Errorf("create %s: %w", topic, err)
		}
	}
	p, err := sarama.NewAsyncProducer([]string{addr}, sc)
	if err != nil {
		return err
	}
	defer p.Close()
	err = sendAll(p, n, func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: topic, Partition: int32(from+i) % partitions,
			Key: sarama.StringEncoder(fmt.Sprintf("k%d", from+i)), Value: sarama.ByteEncoder(value(from + i))}
	})
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// sendAll sends message(i) for i in [0, n) through p and returns once the
// broker has answered every one: nil, or the first error.
func sendAll(p sarama.AsyncProducer, n int, message func(i int) *sarama.ProducerMessage) error {
	answered := make(chan error, 1)
	go func() {
		var first error
		for range n {
			select {
			case <-p.Successes():
			case e := <-p.Errors():
				if first == nil {
					first = e.Err
				}
			}
		}
		answered <- first
	}()
	for i := range n {
		p.Input() <- message(i)
	}
	return <-answered
}

func keysOf(ms []*sarama.ConsumerMessage) []string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, string(m.Key))
	}
	sort.Strings(ks)
	return ks
}

func keyRange(from, n int) []string {
	var ks []string
	for i := from; i < from+n; i++ {
		ks = append(ks, fmt.Sprintf("k%d", i))
	}
	sort.Strings(ks)
	return ks
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// underBothBudgets runs check with the default budgets and again within
// 16-byte ones (kafkaio.TightBudgets), where every read-ahead pause and
// every wait for unanswered bytes happens: check's results must not change.
func underBothBudgets(t *testing.T, check func(t *testing.T)) {
	t.Run("default budgets", check)
	t.Run("16-byte budgets", func(t *testing.T) {
		defer kafkaio.TightBudgets(16)()
		check(t)
	})
}
