package kafkaio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.Function1x2(keyAck)
	register.DoFn5x1[context.Context, state.Provider, string, Ack, func(Committed), error](&commitFn{})
	register.Emitter1[Committed]()
	beam.RegisterType(reflect.TypeOf((*Committed)(nil)).Elem())
}

// CommitConfig configures Commit.
type CommitConfig struct {
	Config
	Group string
	// Units is how many ack units make a source record done: the number of
	// sinks every record reaches. A record that reaches fewer sinks (one
	// sent to the dead-letter output instead) is acked with the full
	// number by the sink that finishes it.
	Units int
}

// Committed reports a commit: the group will resume Partition of Topic at
// Offset.
type Committed struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Commit advances the consumer group's offsets from the acknowledgements of
// every sink. Per partition, it commits the offset after the longest run of
// records, in the order they were read, whose ack units all add up to
// cfg.Units. So a restart with the group resumes at the first record not
// yet finished by every sink, and nothing is lost; records after it may be
// processed again (at least once).
//
// Offsets are committed from the sinks' acknowledgements rather than in
// read-bundle finalization because on prism state lives in memory:
// finalization only says the read's output is durable in the runner, not
// that the sinks wrote it.
func Commit(s beam.Scope, cfg CommitConfig, acks ...beam.PCollection) beam.PCollection {
	s = s.Scope("kafkaio.Commit")
	if err := cfg.Config.Validate(); err != nil {
		panic(err)
	}
	if cfg.Group == "" {
		panic(errors.New("kafkaio: Commit needs a consumer group"))
	}
	if cfg.Units < 1 {
		panic(fmt.Errorf("kafkaio: Commit needs Units >= 1, got %d", cfg.Units))
	}
	// Sinks ack in their own windows (the archive's are event-time
	// windows); commits are global, and Flatten needs one windowing.
	global := make([]beam.PCollection, len(acks))
	for i, a := range acks {
		global[i] = beam.WindowInto(s, window.NewGlobalWindows(), a)
	}
	keyed := beam.ParDo(s, keyAck, beam.Flatten(s, global...))
	return beam.ParDo(s, &commitFn{Cfg: cfg, State: state.MakeValueState[string]("frontier")}, keyed)
}

func keyAck(a Ack) (string, Ack) {
	return a.Topic + "/" + strconv.Itoa(int(a.Partition)), a
}

// frontier is one partition's commit state: the last offset done by every
// sink (Done), and records acked but not yet contiguous with it.
type frontier struct {
	Done    int64
	Set     bool
	Pending []pendingRec
}

type pendingRec struct {
	Offset, Prev int64
	Units        int
}

// add records an ack and reports whether the frontier moved.
func (f *frontier) add(a Ack, need int) bool {
	if !f.Set {
		f.Done, f.Set = a.Base-1, true
	}
	if a.Offset <= f.Done {
		return false // a duplicate of something already committed
	}
	found := false
	for i := range f.Pending {
		if f.Pending[i].Offset == a.Offset {
			f.Pending[i].Units += a.Units
			found = true
			break
		}
	}
	if !found {
		f.Pending = append(f.Pending, pendingRec{Offset: a.Offset, Prev: a.Prev, Units: a.Units})
	}
	moved := false
	for {
		next := -1
		for i, p := range f.Pending {
			if p.Prev == f.Done && p.Units >= need {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		f.Done = f.Pending[next].Offset
		f.Pending = append(f.Pending[:next], f.Pending[next+1:]...)
		moved = true
	}
	return moved
}

type commitFn struct {
	Cfg   CommitConfig
	State state.Value[string]

	client sarama.Client
	om     sarama.OffsetManager
	poms   map[string]sarama.PartitionOffsetManager
	dirty  map[string]int64
	failed map[string]int64
}

func (fn *commitFn) Setup() error {
	sc, err := saramaConfig(fn.Cfg.Config)
	if err != nil {
		return err
	}
	// Commits happen when asked (Flush), not on a timer.
	sc.Consumer.Offsets.AutoCommit.Enable = false
	sc.Consumer.Return.Errors = true
	cl, err := sarama.NewClient(fn.Cfg.Brokers, sc)
	if err != nil {
		return fmt.Errorf("kafkaio: connecting to %v: %w", fn.Cfg.Brokers, err)
	}
	om, err := sarama.NewOffsetManagerFromClient(fn.Cfg.Group, cl)
	if err != nil {
		cl.Close()
		return fmt.Errorf("kafkaio: offset manager: %w", err)
	}
	fn.client, fn.om = cl, om
	fn.poms = map[string]sarama.PartitionOffsetManager{}
	return nil
}

func (fn *commitFn) StartBundle(_ context.Context, _ func(Committed)) {
	// Commits that failed last time are retried with this bundle's.
	fn.dirty = fn.failed
	fn.failed = nil
	if fn.dirty == nil {
		fn.dirty = map[string]int64{}
	}
}

func (fn *commitFn) ProcessElement(ctx context.Context, sp state.Provider, key string, a Ack, emit func(Committed)) error {
	raw, ok, err := fn.State.Read(sp)
	if err != nil {
		return err
	}
	var f frontier
	if ok {
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			return fmt.Errorf("kafkaio: commit state of %s: %w", key, err)
		}
	}
	if f.add(a, fn.Cfg.Units) {
		fn.dirty[key] = f.Done + 1
	}
	return fn.write(sp, f)
}

func (fn *commitFn) write(sp state.Provider, f frontier) error {
	sort.Slice(f.Pending, func(i, j int) bool { return f.Pending[i].Offset < f.Pending[j].Offset })
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return fn.State.Write(sp, string(b))
}

// FinishBundle commits the partitions whose frontier moved in this bundle,
// once, and reports them.
func (fn *commitFn) FinishBundle(ctx context.Context, emit func(Committed)) error {
	if len(fn.dirty) == 0 {
		return nil
	}
	keys := make([]string, 0, len(fn.dirty))
	for k := range fn.dirty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Committed
	for _, k := range keys {
		i := strings.LastIndexByte(k, '/')
		topic := k[:i]
		p, _ := strconv.Atoi(k[i+1:])
		pom, ok := fn.poms[k]
		if !ok {
			var err error
			if pom, err = fn.om.ManagePartition(topic, int32(p)); err != nil {
				return fmt.Errorf("kafkaio: committing %s: %w", k, err)
			}
			fn.poms[k] = pom
		}
		pom.MarkOffset(fn.dirty[k], "")
		out = append(out, Committed{Topic: topic, Partition: int32(p), Offset: fn.dirty[k]})
	}
	fn.om.Commit()
	for _, k := range keys {
		select {
		case perr := <-fn.poms[k].Errors():
			// The broker may be restarting: retry with the next bundle
			// rather than fail the whole job, as prism would.
			log.Warnf(ctx, "kafkaio: committing %s: %v (retrying with the next bundle)", k, perr.Err)
			fn.failed = fn.dirty
			return nil
		default:
		}
	}
	for _, c := range out {
		log.Debugf(ctx, "kafkaio: committed %s/%d at %d", c.Topic, c.Partition, c.Offset)
		emit(c)
	}
	return nil
}

func (fn *commitFn) Teardown() {
	for _, pom := range fn.poms {
		_ = pom.Close()
	}
	if fn.om != nil {
		_ = fn.om.Close()
	}
	if fn.client != nil {
		_ = fn.client.Close()
	}
}
