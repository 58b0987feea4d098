package igwn

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

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
		ready := kafkaio.Follow(context.Background(), src.Conn, src.Topic, f.apply)
		go func() {
			if err := <-ready; err != nil {
				f.err = fmt.Errorf("igwn: %w", err)
			}
			close(f.ready)
		}()
	}
	followMu.Unlock()
	select {
	case <-f.ready:
		return f.events, f.err
	case <-time.After(timeout):
		return nil, fmt.Errorf("igwn: %s: not read to its end within %s", src.Topic, timeout)
	}
}

// apply takes in one record of the notice topic.
func (f *follower) apply(r kafkaio.Record) {
	n, err := Parse(r.Value)
	if err != nil {
		log.Warnf(context.Background(), "igwn: %s skipped: %v", r.Source, err)
		return
	}
	f.events.Apply(n)
}
