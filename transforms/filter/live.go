package filter

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Definitions is where live filter definitions arrive: a compacted Kafka
// topic whose record keys are output names and whose values are
// Definitions (see ParseDefinition).
type Definitions struct {
	Conn  kafkaio.Config
	Topic string
	// TopicPrefix is put before a live filter's name to make its output
	// topic, as for the filters given on the command line.
	TopicPrefix string
	// Reserved are the run's own topics (what it reads, its dead-letter,
	// status and definitions topics), and ReservedPattern the pattern it
	// reads by: a live filter whose output topic is one of them is
	// refused, since its alerts would flow back into the run or its
	// bookkeeping.
	Reserved        []string
	ReservedPattern string
	// Static are the names of the run's own filters (Config.Filters),
	// which a capped definition may not replace.
	Static []string
}

// Refuses says why the run cannot publish a live filter named name, or
// nil: its output topic is one of the run's own, or it would put a cap on
// one of the run's own filters (their alerts do not wait for their visits).
func (d Definitions) Refuses(name string, def Definition) error {
	if def.CapPerVisit > 0 && slices.Contains(d.Static, name) {
		return fmt.Errorf("filter: %s is one of the run's --filter outputs; a definition with cap_per_visit cannot replace it (use another name)", name)
	}
	topic := d.TopicPrefix + name
	reserved := slices.Contains(d.Reserved, topic)
	if !reserved && d.ReservedPattern != "" {
		re, err := regexp.Compile("^(?:" + d.ReservedPattern + ")$") // matched against whole names, as kafkaio reads it
		reserved = err == nil && re.MatchString(topic)
	}
	if reserved {
		return fmt.Errorf("filter: %s would publish to %s, a topic the run reads or reports on; choose another name (or --topic-prefix)", name, topic)
	}
	return nil
}

// LiveFilter is one accepted definition, as the filter graph runs it.
type LiveFilter struct {
	Name       string
	Definition Definition
	Filter     *Filter
	// Applied is when this process took the definition in: it runs on
	// the alerts processed after that.
	Applied time.Time
}

// Live is the set of filters defined at run time, safe for concurrent use:
// Apply takes in definitions-topic records, Filters returns the set a
// given alert is filtered with.
type Live struct {
	env DefinitionEnv

	mu      sync.Mutex
	cur     atomic.Pointer[[]LiveFilter] // sorted by name; replaced, never changed
	records atomic.Int64
	// rejected, when set, hears of each definition Apply refuses.
	rejected func(name string, err error)
}

// NewLive returns an empty set whose definitions must check in env.
func NewLive(env DefinitionEnv) *Live {
	l := &Live{env: env}
	l.cur.Store(&[]LiveFilter{})
	return l
}

// Apply takes in one definitions-topic record: a definition that checks
// replaces its name's, a tombstone removes it. A definition that does not
// parse or check changes nothing and comes back as the error: the filters
// running go on as they were.
func (l *Live) Apply(r kafkaio.Record) error {
	defer l.records.Add(1)
	name, d, err := ParseDefinition(r)
	var f *Filter
	if err == nil && d != nil {
		f, err = l.env.Check(name, *d)
	}
	if err != nil {
		if l.rejected != nil {
			l.rejected(name, err)
		}
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	next := slices.Clone(*l.cur.Load())
	i, found := slices.BinarySearchFunc(next, name, func(x LiveFilter, n string) int { return strings.Compare(x.Name, n) })
	switch {
	case d == nil && found:
		next = slices.Delete(next, i, i+1)
	case d == nil:
		return nil
	case found:
		next[i] = LiveFilter{Name: name, Definition: *d, Filter: f, Applied: time.Now()}
	default:
		next = slices.Insert(next, i, LiveFilter{Name: name, Definition: *d, Filter: f, Applied: time.Now()})
	}
	l.cur.Store(&next)
	return nil
}

// Records is how many definitions-topic records the set has taken in,
// accepted or not.
func (l *Live) Records() int64 { return l.records.Load() }

// Filters is the current set, sorted by name. The slice is shared: do not
// modify it.
func (l *Live) Filters() []LiveFilter { return *l.cur.Load() }

// Get returns the live filter named name.
func (l *Live) Get(name string) (LiveFilter, bool) {
	return lookupLive(l.Filters(), name)
}

func lookupLive(fs []LiveFilter, name string) (LiveFilter, bool) {
	i, ok := slices.BinarySearchFunc(fs, name, func(x LiveFilter, n string) int { return strings.Compare(x.Name, n) })
	if !ok {
		return LiveFilter{}, false
	}
	return fs[i], true
}

var (
	liveMu  sync.Mutex
	liveSet = map[string]*liveFollower{}
)

type liveFollower struct {
	live  *Live
	ready <-chan error
	err   error
	done  chan struct{} // closed once ready has answered
}

// FollowDefinitions returns the live filters of src's topic, kept by one
// background reader per process and env (every filter DoFn of a worker
// shares it), from the topic's beginning and then as definitions arrive,
// for the life of the process. The first call waits until the definitions
// already in the topic are applied (at most timeout), so the alerts
// processed after it see them; a definition arriving later applies to the
// alerts processed after it is read. On a runner with several worker
// processes each follows the topic itself, so a new definition reaches
// them at nearly, not exactly, the same moment; the headers of each kept
// alert say which version kept it.
func FollowDefinitions(src Definitions, env DefinitionEnv, timeout time.Duration) (*Live, error) {
	key := strings.Join(src.Conn.Brokers, ",") + "/" + src.Topic + "|" + env.Survey + "|" + strings.Join(env.Catalogs, ";") + fmt.Sprintf("|%v", env.GW)
	liveMu.Lock()
	f, ok := liveSet[key]
	if !ok {
		l := NewLive(env)
		l.rejected = func(name string, err error) {
			log.Warnf(context.Background(), "filter: definition of %s on %s rejected, the filters run on unchanged: %v", name, src.Topic, err)
		}
		f = &liveFollower{live: l, done: make(chan struct{})}
		f.ready = kafkaio.Follow(context.Background(), src.Conn, src.Topic, func(r kafkaio.Record) { _ = l.Apply(r) })
		go func() {
			if f.err = <-f.ready; f.err != nil {
				// The next Setup tries again.
				liveMu.Lock()
				delete(liveSet, key)
				liveMu.Unlock()
			}
			close(f.done)
		}()
		liveSet[key] = f
	}
	liveMu.Unlock()
	select {
	case <-f.done:
		return f.live, f.err
	case <-time.After(timeout):
		return nil, fmt.Errorf("filter: definitions topic %s: not read to its end within %s", src.Topic, timeout)
	}
}
