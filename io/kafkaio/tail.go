package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/IBM/sarama"
)

// TailConfig says which records Tail reads: the Last most recent ones, or
// (Last zero) every record written at or after Since.
type TailConfig struct {
	Config
	Topic string
	Last  int
	Since time.Time
}

// Validate reports the first problem with c, as Tail would.
func (c TailConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("kafkaio: Tail needs a topic")
	}
	if (c.Last > 0) == !c.Since.IsZero() {
		return errors.New("kafkaio: Tail needs exactly one of Last (> 0) and Since")
	}
	return nil
}

// Tail reads the end of a topic once, outside any pipeline, and returns
// its records oldest first (by record timestamp, then partition and
// offset): with Last, the Last records with the latest timestamps (each
// partition's last Last records are read, then merged); with Since, every
// record from each partition's first offset at or after Since to its end
// as it was when Tail started. It is a sample for trying things (filters
// try), not a pipeline read: nothing is committed.
func Tail(ctx context.Context, cfg TailConfig) ([]Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc, err := SaramaConfig(cfg.Config)
	if err != nil {
		return nil, err
	}
	cl, err := newClient(ctx, cfg.Config, sc)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// A missing topic is an answer, not a reason to retry the metadata
	// (Partitions would, for seconds).
	if topics, err := cl.Topics(); err == nil && !slices.Contains(topics, cfg.Topic) {
		return nil, fmt.Errorf("kafkaio: %s: %w", cfg.Topic, sarama.ErrUnknownTopicOrPartition)
	}
	parts, err := cl.Partitions(cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: %s: %w", cfg.Topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: %w", err)
	}
	defer consumer.Close()
	var out []Record
	for _, p := range parts {
		end, err := cl.GetOffset(cfg.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("kafkaio: %s/%d: %w", cfg.Topic, p, err)
		}
		oldest, err := cl.GetOffset(cfg.Topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("kafkaio: %s/%d: %w", cfg.Topic, p, err)
		}
		start := max(end-int64(cfg.Last), oldest)
		if cfg.Last == 0 {
			if start, err = cl.GetOffset(cfg.Topic, p, cfg.Since.UnixMilli()); err != nil {
				return nil, fmt.Errorf("kafkaio: %s/%d: %w", cfg.Topic, p, err)
			}
			if start < 0 { // nothing at or after Since
				continue
			}
		}
		if start >= end {
			continue
		}
		recs, err := readRange(ctx, consumer, cfg.Topic, p, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if cfg.Last > 0 && len(out) > cfg.Last {
		out = out[len(out)-cfg.Last:]
	}
	return out, nil
}

// readRange reads [start, end) of one partition; offsets missing inside it
// (transaction markers, compaction) end it at the last record below end.
func readRange(ctx context.Context, consumer sarama.Consumer, topic string, p int32, start, end int64) ([]Record, error) {
	pc, err := consumer.ConsumePartition(topic, p, start)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: %s/%d: %w", topic, p, err)
	}
	defer pc.Close()
	var out []Record
	prev := start - 1
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case m := <-pc.Messages():
			if m.Offset >= end {
				return out, nil
			}
			out = append(out, toRecord(m, prev, start))
			prev = m.Offset
			if m.Offset >= end-1 {
				return out, nil
			}
		case err := <-pc.Errors():
			return nil, fmt.Errorf("kafkaio: %s/%d: %w", topic, p, err)
		}
	}
}

// ReadAt reads the one record at src's topic, partition and offset with
// consumer, outside Read and Fetch (a handful of records a DoFn needs back);
// the record's Source is src. False if the offset holds no record any more
// (retention, compaction) or never did.
func ReadAt(ctx context.Context, consumer sarama.Consumer, src Source, timeout time.Duration) (Record, bool, error) {
	pc, err := consumer.ConsumePartition(src.Topic, src.Partition, src.Offset)
	if errors.Is(err, sarama.ErrOffsetOutOfRange) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("kafkaio: %s: %w", src, err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		if m.Offset != src.Offset {
			return Record{}, false, nil
		}
		r := toRecord(m, src.Prev, src.Base)
		r.Source = src
		return r, true, nil
	case err := <-pc.Errors():
		return Record{}, false, fmt.Errorf("kafkaio: %s: %w", src, err)
	case <-time.After(timeout):
		return Record{}, false, fmt.Errorf("kafkaio: %s: no record within %s", src, timeout)
	case <-ctx.Done():
		return Record{}, false, ctx.Err()
	}
}
