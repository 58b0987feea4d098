package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
)

// Follow reads a small control topic (filter definitions, notices) outside
// any pipeline: every partition from its beginning, then each record as it
// arrives, until ctx ends, handing each record to apply. apply is called
// from one goroutine per partition, so in order within a partition, and
// must be safe for concurrent use. Partitions (and the topic itself) that
// appear later are picked up within a second.
//
// The returned channel receives nil once the records that were in the
// topic when Follow started have all been applied (a topic that does not
// exist yet counts as empty), or the error that stopped Follow from
// connecting; callers wait on it so that what they process next sees the
// topic's state.
func Follow(ctx context.Context, c Config, topic string, apply func(Record)) <-chan error {
	ready := make(chan error, 1)
	go follow(ctx, c, topic, apply, ready)
	return ready
}

func follow(ctx context.Context, c Config, topic string, apply func(Record), ready chan<- error) {
	sc, err := SaramaConfig(c)
	if err != nil {
		ready <- err
		return
	}
	cl, err := newClient(ctx, c, sc)
	if err != nil {
		ready <- fmt.Errorf("kafkaio: following %s: %w", topic, err)
		return
	}
	defer cl.Close()
	consumer, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		ready <- fmt.Errorf("kafkaio: following %s: %w", topic, err)
		return
	}
	defer consumer.Close()
	started := map[int32]bool{}
	var caughtUp sync.WaitGroup // partitions present at start, read to their start-time end
	first := true
	for {
		parts, err := cl.Partitions(topic)
		if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			log.Warnf(ctx, "kafkaio: following %s: %v", topic, err)
		}
		for _, p := range parts {
			if started[p] {
				continue
			}
			end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				log.Warnf(ctx, "kafkaio: following %s/%d: %v", topic, p, err)
				continue
			}
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				log.Warnf(ctx, "kafkaio: following %s/%d: %v", topic, p, err)
				continue
			}
			started[p] = true
			// Only the partitions there at start hold back readiness: a
			// later one's records are news, applied as they come.
			if first {
				caughtUp.Add(1)
				go followPartition(ctx, pc, end, apply, caughtUp.Done)
			} else {
				go followPartition(ctx, pc, end, apply, func() {})
			}
		}
		if first {
			first = false
			go func() { caughtUp.Wait(); ready <- nil }()
		}
		if err := cl.RefreshMetadata(topic); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			log.Warnf(ctx, "kafkaio: following %s: %v", topic, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// followPartition applies one partition's records; caughtUp is called
// once the records below end are applied.
func followPartition(ctx context.Context, pc sarama.PartitionConsumer, end int64, apply func(Record), caughtUp func()) {
	defer pc.Close()
	done := sync.OnceFunc(caughtUp)
	if end <= 0 {
		done()
	}
	prev := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-pc.Messages():
			apply(toRecord(m, prev, 0))
			prev = m.Offset
			if m.Offset >= end-1 {
				done()
			}
		case err := <-pc.Errors():
			log.Warnf(ctx, "kafkaio: following: %v", err)
		}
	}
}
