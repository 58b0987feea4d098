package igwn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Source is where notices arrive: a Kafka topic.
type Source struct {
	Conn  kafkaio.Config
	Topic string
}

func (s Source) key() string { return strings.Join(s.Conn.Brokers, ",") + "/" + s.Topic }

var (
	followMu  sync.Mutex
	following = map[string]*follower{}
)

type follower struct {
	events *Events
	ready  chan struct{} // closed once the topic was read to its end at start
	err    error         // set before ready closes, if the start failed
}

// Follow returns the events of src's notices, read by one background
// reader per process (every filter DoFn of a worker shares it), from the
// topic's beginning and then as notices arrive, for the life of the
// process. The first call waits until the notices already in the topic
// are applied (at most timeout), so alerts processed after it see them; a
// notice arriving later applies to the alerts processed after it is read.
// A notice that does not parse is skipped with a WARN (the pipeline's
// notice check dead-letters it). A topic that does not exist yet is waited
// for.
func Follow(src Source, timeout time.Duration) (*Events, error) {
	followMu.Lock()
	f, ok := following[src.key()]
	if !ok {
		f = &follower{events: NewEvents(), ready: make(chan struct{})}
		f.events.notify = func(n Notice) {
			if n.AlertType == Retraction {
				log.Infof(context.Background(), "igwn: %s retracted", n.SupereventID)
				return
			}
			log.Infof(context.Background(), "igwn: %s %s applied (event at %s)", n.SupereventID, n.AlertType, n.Time.Format(time.RFC3339))
		}
		following[src.key()] = f
		go f.run(src)
	}
	followMu.Unlock()
	select {
	case <-f.ready:
		return f.events, f.err
	case <-time.After(timeout):
		return nil, fmt.Errorf("igwn: %s: not read to its end within %s", src.Topic, timeout)
	}
}

// run reads every partition of the topic, as they appear, for ever.
func (f *follower) run(src Source) {
	ctx := context.Background()
	sc, err := kafkaio.SaramaConfig(src.Conn)
	if err != nil {
		f.err = err
		close(f.ready)
		return
	}
	var cl sarama.Client
	for {
		if cl, err = sarama.NewClient(src.Conn.Brokers, sc); err == nil {
			break
		}
		if !kafkaio.Transient(err) {
			f.err = fmt.Errorf("igwn: %s: %w", src.Topic, err)
			close(f.ready)
			return
		}
		time.Sleep(time.Second)
	}
	consumer, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		f.err = err
		close(f.ready)
		return
	}
	started := map[int32]bool{}
	var pending sync.WaitGroup // partitions still reading up to their start-time end
	readyOnce := sync.OnceFunc(func() { close(f.ready) })
	first := true
	for {
		parts, err := cl.Partitions(src.Topic)
		if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			log.Warnf(ctx, "igwn: listing %s: %v", src.Topic, err)
		}
		for _, p := range parts {
			if started[p] {
				continue
			}
			end, err := cl.GetOffset(src.Topic, p, sarama.OffsetNewest)
			if err != nil {
				log.Warnf(ctx, "igwn: %s/%d: %v", src.Topic, p, err)
				continue
			}
			pc, err := consumer.ConsumePartition(src.Topic, p, sarama.OffsetOldest)
			if err != nil {
				log.Warnf(ctx, "igwn: %s/%d: %v", src.Topic, p, err)
				continue
			}
			started[p] = true
			caughtUp := make(chan struct{})
			if first && end > 0 {
				pending.Add(1)
				go func() { <-caughtUp; pending.Done() }()
			} else {
				close(caughtUp)
			}
			go f.read(pc, end, caughtUp)
		}
		if first {
			first = false
			go func() { pending.Wait(); readyOnce() }()
		}
		if err := cl.RefreshMetadata(src.Topic); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			log.Warnf(ctx, "igwn: %s: %v", src.Topic, err)
		}
		time.Sleep(time.Second)
	}
}

// read applies one partition's notices; caughtUp closes once the records
// before end are applied.
func (f *follower) read(pc sarama.PartitionConsumer, end int64, caughtUp chan struct{}) {
	ctx := context.Background()
	once := sync.OnceFunc(func() {
		select {
		case <-caughtUp:
		default:
			close(caughtUp)
		}
	})
	if end == 0 {
		once()
	}
	for {
		select {
		case m := <-pc.Messages():
			if n, err := Parse(m.Value); err != nil {
				log.Warnf(ctx, "igwn: %s/%d@%d skipped: %v", m.Topic, m.Partition, m.Offset, err)
			} else {
				f.events.Apply(n)
			}
			if m.Offset >= end-1 {
				once()
			}
		case err := <-pc.Errors():
			log.Warnf(ctx, "igwn: %v", err)
		}
	}
}
