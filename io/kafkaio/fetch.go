package kafkaio

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn5x1[context.Context, beam.EventTime, []Source, func(beam.EventTime, Record), func(beam.EventTime, Missing), error](&fetchFn{})
	register.Emitter2[beam.EventTime, Record]()
	register.Emitter2[beam.EventTime, Missing]()
	beam.RegisterType(reflect.TypeOf((*Missing)(nil)).Elem())
}

// Missing is a ref Fetch could not read back, with why (e.g. the offset was
// deleted by retention or compaction).
type Missing struct {
	Source
	Err string
}

// Fetch re-reads records by Source. refs is a PCollection of []Source (a
// batch, e.g. one exposure's kept alerts; any topics/partitions, any order,
// duplicates allowed). Each ref comes out either as the Record at its
// topic/partition/offset — Key, Value, Headers, Timestamp as Kafka has them,
// and Source equal to the ref itself (Prev and Base included, copied from the
// ref, since commits key on them) — or as a Missing. Outputs keep the input
// element's timestamp and window. It panics on an invalid cfg
// (cfg.Validate()).
//
// A ref is Missing when its offset holds no record any more (below the
// partition's oldest offset, removed by compaction) or never did (a
// transaction marker), is not written yet (at or above the high-water mark:
// Fetch does not wait for it), or when its topic or partition does not
// exist. Records of aborted transactions are read, as Read reads them. A
// partition that yields nothing for a minute (broker unreachable, leader
// lost) fails the bundle with an error naming the offset.
//
// Fetch is fastest when the batches of a partition come roughly in offset
// order: each partition's reader stays open between elements and has the
// next records fetched by the time the next batch asks for them. A batch
// elsewhere costs a round trip to the broker.
func Fetch(s beam.Scope, cfg Config, refs beam.PCollection) (records, missing beam.PCollection) {
	s = s.Scope("kafkaio.Fetch")
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if t, want := refs.Type().Type(), reflect.TypeOf([]Source(nil)); t != want {
		panic(fmt.Errorf("kafkaio: Fetch reads a PCollection of %v, not of %v", want, t))
	}
	fn := &fetchFn{
		Cfg:           cfg,
		Retry:         time.Minute,
		ReadAhead:     64,
		MaxOpen:       64,
		PrefetchBytes: 4 << 20,
	}
	return beam.ParDo2(s, fn, refs)
}

// Why offsets are missing.
const (
	whyNotOffset = "not an offset"
	whyMarker    = "not a record: a transaction marker"
	whyHole      = "not in the log: removed by compaction"
)

func whyDeleted(oldest int64) string {
	return fmt.Sprintf("deleted: the partition now starts at offset %d (retention or DeleteRecords)", oldest)
}

func whyBeyond(hwm int64) string {
	return fmt.Sprintf("beyond the end: the partition holds offsets below %d", hwm)
}

const (
	// stallTick is how often waiting partitions are checked for stalls.
	stallTick = 250 * time.Millisecond
	// Backoff between failed fetches of a partition.
	backoffFirst, backoffMax = 100 * time.Millisecond, 5 * time.Second
	// firstFetchBytes is what a fetch asks for (more only when one record
	// batch is larger): a few large alerts, so that a reader has records to
	// hand over while it asks for the next ones.
	firstFetchBytes = 1 << 20
)

// fetchFn re-reads the refs of one element. It has its own client and
// fetches each partition itself rather than through a sarama consumer:
// sarama allows one consumer per partition per Consumer (and Read's shared
// one holds its partitions), and a consumer cannot seek, while reopening
// one costs over 100 ms (sarama gathers new partitions for that long).
type fetchFn struct {
	Cfg Config
	// Retry is how long a partition may yield nothing (broker unreachable,
	// leader moving) before the bundle fails: prism does not retry bundles,
	// so transient errors are ridden out here.
	Retry time.Duration
	// ReadAhead is how far (in offsets) past what a partition's reader has
	// fetched a batch may start and still be reached by reading on rather
	// than seeking; reading on keeps what was fetched ahead.
	ReadAhead int64
	// MaxOpen is how many partition readers stay open between elements;
	// PrefetchBytes is how much each holds fetched but not yet taken.
	// Together they bound what Fetch holds in memory.
	MaxOpen       int
	PrefetchBytes int64

	client   sarama.Client
	spec     fetchSpec
	readers  map[topicPartition]*reader
	elements int64
	// wake is signalled whenever a reader has something new.
	wake chan struct{}

	mu    sync.Mutex
	known map[topicPartition]bool // partitions seen to exist
}

// fetchSpec is how readers ask for records.
type fetchSpec struct {
	version  int16
	maxBytes int32
}

func (fn *fetchFn) Setup() error {
	sc, err := saramaConfig(fn.Cfg)
	if err != nil {
		return err
	}
	cl, err := newClient(context.Background(), fn.Cfg, sc)
	if err != nil {
		return err
	}
	fn.client = cl
	// Fetch version 10 is the first that may return zstd batches, and
	// Kafka 2.1 the first to serve it; version 4 is the first with record
	// batches, the oldest Kafka 4 serves.
	fn.spec = fetchSpec{version: 4, maxBytes: sc.Consumer.Fetch.Max}
	if sc.Version.IsAtLeast(sarama.V2_1_0_0) {
		fn.spec.version = 10
	}
	fn.readers = map[topicPartition]*reader{}
	fn.known = map[topicPartition]bool{}
	fn.wake = make(chan struct{}, 1)
	return nil
}

func (fn *fetchFn) Teardown() {
	for _, r := range fn.readers {
		r.close()
	}
	if fn.client != nil {
		// Closing the client fails the fetches in flight, so the readers'
		// loops end at once.
		fn.client.Close()
		fn.client = nil
	}
	for _, r := range fn.readers {
		<-r.done
	}
	fn.readers = nil
}

func (fn *fetchFn) ProcessElement(ctx context.Context, ts beam.EventTime, refs []Source, emit func(beam.EventTime, Record), miss func(beam.EventTime, Missing)) error {
	fn.elements++
	start := time.Now()
	parts := plan(refs)
	defer fn.closeUnused()
	defer func() {
		for _, p := range parts {
			if p.r != nil {
				p.r.unwant()
			}
		}
	}()
	flush := func() {
		for _, p := range parts {
			for _, l := range p.lost {
				for _, r := range p.refs[l.k] {
					miss(ts, Missing{Source: refs[r], Err: l.why})
				}
			}
			p.lost = p.lost[:0]
		}
	}
	defer flush()

	// A partition not seen before is looked up in the cluster's metadata:
	// a round trip each, so all at once.
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		if p.lo < p.hi {
			wg.Go(func() { errs[i] = fn.check(ctx, p, start.Add(fn.Retry)) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	var active []*partFetch
	for _, p := range parts {
		if p.lo == p.hi {
			continue
		}
		r := fn.readers[p.tp]
		if r == nil {
			r = newReader(p.tp, fn.client, fn.spec, fn.PrefetchBytes, fn.wake)
			fn.readers[p.tp] = r
		}
		r.used = fn.elements
		r.place(p.offs[p.lo], fn.ReadAhead)
		p.r, p.progress = r, start
		active = append(active, p)
	}

	tick := time.NewTicker(stallTick)
	defer tick.Stop()
	for {
		n := 0
		for _, p := range active {
			p.read(ts, refs, emit)
			if p.lo < p.hi {
				if hwm, ok := p.r.end(start); ok {
					p.trimEnd(hwm)
				}
			}
			if p.lo < p.hi {
				active[n] = p
				n++
			}
		}
		active = active[:n]
		flush()
		if n == 0 {
			return nil
		}
		select {
		case <-fn.wake:
		case <-ctx.Done():
			return fmt.Errorf("kafkaio: fetching: %w", ctx.Err())
		case now := <-tick.C:
			for _, p := range active {
				if err := fn.checkStall(p, now); err != nil {
					return err
				}
			}
		}
	}
}

// closeUnused closes the least recently used readers beyond MaxOpen.
func (fn *fetchFn) closeUnused() {
	if len(fn.readers) <= fn.MaxOpen {
		return
	}
	all := make([]*reader, 0, len(fn.readers))
	for _, r := range fn.readers {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b *reader) int { return cmp.Compare(a.used, b.used) })
	for _, r := range all[:len(all)-fn.MaxOpen] {
		r.close()
		delete(fn.readers, r.tp)
	}
}

// partFetch is what one element wants from one partition.
type partFetch struct {
	tp     topicPartition
	offs   []int64 // distinct, ascending
	refs   [][]int // refs[k] are the element's refs to offs[k]
	lo, hi int     // offs[lo:hi] are still to be read
	lost   []lostOffset
	r      *reader

	progress  time.Time // when an offset was last resolved or the reader last delivered
	nextCheck time.Time
}

type lostOffset struct {
	k   int
	why string
}

// plan groups refs by partition, with their offsets sorted and deduplicated.
func plan(refs []Source) []*partFetch {
	idx := make([]int, len(refs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		ra, rb := refs[a], refs[b]
		return cmp.Or(cmp.Compare(ra.Topic, rb.Topic), cmp.Compare(ra.Partition, rb.Partition), cmp.Compare(ra.Offset, rb.Offset))
	})
	var parts []*partFetch
	var p *partFetch
	for _, i := range idx {
		r := refs[i]
		tp := topicPartition{r.Topic, r.Partition}
		if p == nil || p.tp != tp {
			p = &partFetch{tp: tp}
			parts = append(parts, p)
		}
		if n := len(p.offs); n > 0 && p.offs[n-1] == r.Offset {
			p.refs[n-1] = append(p.refs[n-1], i)
			continue
		}
		p.offs = append(p.offs, r.Offset)
		p.refs = append(p.refs, []int{i})
	}
	for _, p := range parts {
		p.hi = len(p.offs)
		for p.lo < p.hi && p.offs[p.lo] < 0 {
			p.lose(whyNotOffset)
		}
	}
	return parts
}

// lose resolves the first offset still wanted as missing.
func (p *partFetch) lose(why string) {
	p.lost = append(p.lost, lostOffset{p.lo, why})
	p.lo++
	p.progress = time.Now()
}

// trimEnd resolves the wanted offsets at or above the high-water mark as
// missing: they are not written yet, and Fetch does not wait for them.
func (p *partFetch) trimEnd(hwm int64) {
	for p.hi > p.lo && p.offs[p.hi-1] >= hwm {
		p.hi--
		p.lost = append(p.lost, lostOffset{p.hi, whyBeyond(hwm)})
	}
	p.progress = time.Now()
}

// read takes what the reader has and emits the records wanted.
func (p *partFetch) read(ts beam.EventTime, refs []Source, emit func(beam.EventTime, Record)) {
	for p.lo < p.hi {
		f, ok := p.r.take()
		if !ok {
			return
		}
		p.progress = time.Now()
		if f.msg == nil {
			for p.lo < p.hi && p.offs[p.lo] <= f.to {
				p.lose(f.why)
			}
			continue
		}
		// The reader accounts for every offset from where it was placed,
		// so nothing wanted comes before a record unseen; this only
		// guards against a broker that skips offsets without a batch.
		for p.lo < p.hi && p.offs[p.lo] < f.msg.Offset {
			p.lose(whyHole)
		}
		if p.lo < p.hi && p.offs[p.lo] == f.msg.Offset {
			for _, r := range p.refs[p.lo] {
				rec := toRecord(f.msg, refs[r].Prev, refs[r].Base)
				rec.Source = refs[r]
				emit(ts, rec)
			}
			p.lo++
		}
	}
}

// check resolves all of a partition's offsets as missing if it does not
// exist, retrying failed lookups until deadline.
func (fn *fetchFn) check(ctx context.Context, p *partFetch, deadline time.Time) error {
	wait := backoffFirst
	for {
		why, err := fn.exists(p.tp)
		if err == nil {
			for why != "" && p.lo < p.hi {
				p.lose(why)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafkaio: fetching %s/%d@%d: %w", p.tp.topic, p.tp.partition, p.offs[p.lo], err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkaio: fetching %s/%d@%d: %w (after %v)", p.tp.topic, p.tp.partition, p.offs[p.lo], ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, backoffMax)
	}
}

// exists says why a partition cannot be read ("" if it can), looking at the
// cluster's metadata again when the client's does not list it: a topic made
// since is found, and a missing one costs no retries.
func (fn *fetchFn) exists(tp topicPartition) (string, error) {
	fn.mu.Lock()
	ok := fn.known[tp]
	fn.mu.Unlock()
	if ok {
		return "", nil
	}
	look := func() (string, error) {
		topics, err := fn.client.Topics()
		if err != nil {
			return "", err
		}
		if !slices.Contains(topics, tp.topic) {
			return fmt.Sprintf("topic %q does not exist", tp.topic), nil
		}
		ps, err := fn.client.Partitions(tp.topic)
		if err != nil {
			return "", err
		}
		if !slices.Contains(ps, tp.partition) {
			return fmt.Sprintf("topic %q has no partition %d (it has %d)", tp.topic, tp.partition, len(ps)), nil
		}
		return "", nil
	}
	why, err := look()
	if err == nil && why != "" {
		if err := fn.client.RefreshMetadata(); err != nil {
			return "", err
		}
		why, err = look()
	}
	if err != nil {
		return "", err
	}
	if why == "" {
		fn.mu.Lock()
		fn.known[tp] = true
		fn.mu.Unlock()
	}
	return why, nil
}

// checkStall fails a partition that yielded nothing for Retry, and looks
// again whether one whose leader cannot find it still exists.
func (fn *fetchFn) checkStall(p *partFetch, now time.Time) error {
	err := p.r.lastErr()
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) && now.After(p.nextCheck) {
		p.nextCheck = now.Add(time.Second)
		fn.mu.Lock()
		delete(fn.known, p.tp)
		fn.mu.Unlock()
		if why, err := fn.exists(p.tp); err == nil && why != "" {
			for p.lo < p.hi {
				p.lose(why)
			}
			return nil
		}
	}
	idle := now.Sub(p.progress)
	if idle < fn.Retry {
		return nil
	}
	if err == nil {
		err = errors.New("no error reported")
	}
	return fmt.Errorf("kafkaio: fetching %s/%d@%d: nothing read for %v: %w", p.tp.topic, p.tp.partition, p.offs[p.lo], idle.Round(time.Second), err)
}
