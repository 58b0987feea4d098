package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/fanout"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// floorBatch is how many records of a partition the floor loops handle
// between two offset commits: the pipelines' read emits at most this many
// per bundle (kafkaio's default BatchRecords).
const floorBatch = 500

// floorArchiveEvery is how many records the full floor stages before it
// commits them into final archive files (the pipeline commits per
// one-minute window of observation time: one or two visits of 1,000).
const floorArchiveEvery = 2000

// floorLoop is a phase's same-work floor: what a user could write by hand
// with sarama and hamba/avro, without Beam, doing the work of the
// distribute phase (full false) or the full phase (full true) with the
// pipelines' own producer settings, codecs and filters.
//
// Each partition of the ingest topic has its goroutine, which never waits:
// it takes up to floorBatch records, routes every alert to its per-night
// topic (alert.Identify, the pipelines' routing decode) and, in full,
// decodes it once, runs every filter and produces each kept copy, and
// stages the batch in the archive's temporary files, then goes on with the
// next batch. This goroutine waits, batch by batch, for the broker's
// acknowledgements; in full, every floorArchiveEvery records it commits
// what was staged into the archive's final files (the pipeline's commit
// step). Only then are the batches' offsets committed, so offsets follow
// every sink, as in the pipelines.
func floorLoop(ctx context.Context, opts Options, phase string, full bool) error {
	conn := kafkaio.Config{Brokers: opts.Brokers}
	cl, cons, err := consumer(opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer cons.Close()
	group := fmt.Sprintf("bench-%s-%d", phase, time.Now().UnixNano())
	om, err := sarama.NewOffsetManagerFromClient(group, cl)
	if err != nil {
		return err
	}
	defer om.Close()

	wcfg := kafkaio.WriteConfig{Config: conn, Partitions: opts.Partitions, Compression: opts.Compression}
	out, err := newFloorProducer(opts.Brokers, wcfg)
	if err != nil {
		return err
	}
	defer out.close()

	var arch *archive.Direct
	if full {
		root := opts.ArchiveRoot
		if root == "" {
			if root, err = os.MkdirTemp("", "alertbeam-bench-archive-"); err != nil {
				return err
			}
			defer os.RemoveAll(root)
		}
		arch, err = archive.NewDirect(ctx, archive.Config{Root: root, Survey: opts.survey(), Registry: opts.Registry, Window: time.Minute})
		if err != nil {
			return err
		}
		defer arch.Close()
	}

	parts, err := cl.Partitions(opts.Topic)
	if err != nil {
		return err
	}
	var workers []*floorWorker
	defer func() {
		for _, w := range workers {
			w.close()
		}
	}()
	for _, p := range parts {
		end, err := cl.GetOffset(opts.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return err
		}
		if end == 0 {
			continue
		}
		w, err := newFloorWorker(ctx, opts, phase, full, p, end, cons, om, out, arch)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan floorDone, 4*len(workers))
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !w.done() {
				b := w.batch(ctx)
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
				if b.err != nil {
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(batches)
	}()

	var pending []floorDone
	staged := 0
	commit := func() error {
		if arch != nil {
			if _, _, err := arch.Commit(ctx); err != nil {
				return err
			}
		}
		for _, b := range pending {
			b.w.pom.MarkOffset(b.next, "")
		}
		om.Commit()
		for _, b := range pending {
			if err := b.w.commitErr(); err != nil {
				return err
			}
		}
		pending, staged = pending[:0], 0
		return nil
	}
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if err := b.acks.wait(); err != nil {
			return err
		}
		pending = append(pending, b)
		staged += b.records
		if arch == nil || staged >= floorArchiveEvery {
			if err := commit(); err != nil {
				return err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return commit()
}

// floorDone is a batch a partition's goroutine has handed on: produced,
// staged, its acknowledgements still to come.
type floorDone struct {
	w       *floorWorker
	next    int64 // the offset to commit once the batch is safe
	records int
	acks    *floorAcks
	err     error
}

// floorWorker handles one partition.
type floorWorker struct {
	opts    Options
	full    bool
	topic   string
	next    int64 // first offset not handled yet
	end     int64
	pc      sarama.PartitionConsumer
	pom     sarama.PartitionOffsetManager
	out     *floorProducer
	codec   *framing.Codec
	filters []*filter.Filter
	ftopics []string
	stager  *archive.Stager
}

func newFloorWorker(ctx context.Context, opts Options, phase string, full bool, p int32, end int64, cons sarama.Consumer,
	om sarama.OffsetManager, out *floorProducer, arch *archive.Direct) (*floorWorker, error) {
	w := &floorWorker{opts: opts, full: full, topic: opts.Topic, end: end, out: out}
	var err error
	// Codecs and filters per goroutine, as each pipeline worker has its own.
	if w.codec, err = framing.Open(opts.survey(), opts.Registry); err != nil {
		return nil, err
	}
	if full {
		for _, spec := range opts.filters() {
			f, err := filter.Build(spec, opts.survey())
			if err != nil {
				return nil, err
			}
			w.filters = append(w.filters, f)
			w.ftopics = append(w.ftopics, "bench."+phase+"."+f.Name())
		}
		if w.stager, err = arch.Stager(ctx); err != nil {
			return nil, err
		}
	}
	if w.pom, err = om.ManagePartition(opts.Topic, p); err != nil {
		return nil, err
	}
	if w.pc, err = cons.ConsumePartition(opts.Topic, p, sarama.OffsetOldest); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *floorWorker) done() bool { return w.next >= w.end }

func (w *floorWorker) commitErr() error {
	select {
	case err := <-w.pom.Errors():
		return err
	default:
		return nil
	}
}

// close starts closing the partition's consumer and offset manager; the
// consumer and offset manager of the whole read wait for them when closed
// (one at a time, each takes up to a commit interval).
func (w *floorWorker) close() {
	w.pc.AsyncClose()
	w.pom.AsyncClose()
	if w.stager != nil {
		w.stager.Close()
	}
}

// batch handles the partition's next batch: routed, filtered, produced
// and staged; the broker's acknowledgements are the caller's to wait for.
func (w *floorWorker) batch(ctx context.Context) floorDone {
	var recs []kafkaio.Record
	acks := &floorAcks{}
	fail := func(err error) floorDone { return floorDone{err: err} }
	n := 0
	for n < floorBatch && w.next < w.end {
		var m *sarama.ConsumerMessage
		select {
		case m = <-w.pc.Messages():
		case cerr := <-w.pc.Errors():
			return fail(cerr)
		case <-ctx.Done():
			return fail(ctx.Err())
		}
		if m.Offset < w.next {
			continue
		}
		w.next = m.Offset + 1
		n++
		rec := kafkaio.Record{Key: m.Key, Value: m.Value, Timestamp: m.Timestamp,
			Source: kafkaio.Source{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}}
		if err := w.route(ctx, rec, acks); err != nil {
			return fail(err)
		}
		if w.full {
			if err := w.filter(ctx, rec, acks); err != nil {
				return fail(err)
			}
			recs = append(recs, rec)
		}
	}
	if w.full {
		dead, err := w.stager.Stage(ctx, recs)
		if err != nil {
			return fail(err)
		}
		for _, d := range dead {
			if err := w.out.send(acks, d.Topic, nil, d.Value); err != nil {
				return fail(err)
			}
		}
	}
	return floorDone{w: w, next: w.next, records: n, acks: acks}
}

func (w *floorWorker) route(ctx context.Context, rec kafkaio.Record, acks *floorAcks) error {
	d, err := w.codec.Unframe(ctx, rec.Value)
	var id alert.Identity
	if err == nil {
		id, err = alert.Identify(w.codec, d.Writer, d.Bytes)
	}
	if err != nil {
		return w.out.deadLetter(acks, rec, fanout.Stage, err)
	}
	return w.out.send(acks, id.Topic(), []byte(strconv.FormatInt(id.ID, 10)), rec.Value)
}

func (w *floorWorker) filter(ctx context.Context, rec kafkaio.Record, acks *floorAcks) error {
	a := &filter.Alert{}
	var err error
	if w.opts.survey() == schemas.LSST {
		a.LSST = &lsst.Alert{}
		err = w.codec.Decode(ctx, rec.Value, a.LSST)
	} else {
		a.ZTF = &ztf.Alert{}
		err = w.codec.Decode(ctx, rec.Value, a.ZTF)
	}
	if err != nil {
		return nil // the routing step has dead-lettered it
	}
	key := []byte(strconv.FormatInt(a.ID(), 10))
	for i, f := range w.filters {
		out, err := f.Apply(a)
		if errors.Is(err, filter.ErrMissing) || out == nil {
			continue
		}
		if err != nil {
			if err := w.out.deadLetter(acks, rec, filter.Stage+"/"+f.Name(), err); err != nil {
				return err
			}
			continue
		}
		value := rec.Value
		if out.ZTF != a.ZTF || out.LSST != a.LSST { // transformed: re-encode, as the pipeline does
			if out.ZTF != nil {
				value, err = w.codec.Encode(out.ZTF)
			} else {
				value, err = w.codec.Encode(out.LSST)
			}
			if err != nil {
				return err
			}
		}
		if err := w.out.send(acks, w.ftopics[i], key, value); err != nil {
			return err
		}
	}
	return nil
}

// floorProducer is one asynchronous producer with kafkaio.Write's settings,
// whose acknowledgements are counted per batch.
type floorProducer struct {
	cl    sarama.Client
	p     sarama.AsyncProducer
	admin sarama.ClusterAdmin
	wcfg  kafkaio.WriteConfig

	mu    sync.Mutex
	known map[string]bool
	wg    sync.WaitGroup
}

func newFloorProducer(brokers []string, wcfg kafkaio.WriteConfig) (*floorProducer, error) {
	sc, err := kafkaio.ProducerConfig(wcfg)
	if err != nil {
		return nil, err
	}
	cl, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return nil, err
	}
	p, err := sarama.NewAsyncProducerFromClient(cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	admin, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		p.Close()
		cl.Close()
		return nil, err
	}
	fp := &floorProducer{cl: cl, p: p, admin: admin, wcfg: wcfg, known: map[string]bool{}}
	fp.wg.Add(2)
	go func() {
		defer fp.wg.Done()
		for m := range p.Successes() {
			m.Metadata.(*floorAcks).done(nil)
		}
	}()
	go func() {
		defer fp.wg.Done()
		for e := range p.Errors() {
			e.Msg.Metadata.(*floorAcks).done(e.Err)
		}
	}()
	return fp, nil
}

// ensure creates a topic as kafkaio.Write does, the first time it is used.
func (fp *floorProducer) ensure(topic string) error {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.known[topic] {
		return nil
	}
	if err := kafkaio.CreateTopic(fp.cl, fp.admin, fp.wcfg, topic); err != nil {
		return fmt.Errorf("bench: creating %s: %w", topic, err)
	}
	fp.known[topic] = true
	return nil
}

func (fp *floorProducer) send(acks *floorAcks, topic string, key, value []byte) error {
	if err := fp.ensure(topic); err != nil {
		return err
	}
	acks.add()
	m := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(value), Metadata: acks}
	if key != nil {
		m.Key = sarama.ByteEncoder(key)
	}
	fp.p.Input() <- m
	return nil
}

func (fp *floorProducer) deadLetter(acks *floorAcks, rec kafkaio.Record, stage string, cause error) error {
	m := deadletter.New(rec, stage, cause).Message(deadletter.DefaultTopic, 1)
	return fp.send(acks, m.Topic, m.Key, m.Value)
}

func (fp *floorProducer) close() {
	fp.p.AsyncClose()
	fp.wg.Wait()
	fp.admin.Close() // closes the client too
}

// floorAcks counts one batch's messages until the broker answered each.
type floorAcks struct {
	mu   sync.Mutex
	cond *sync.Cond
	sent int
	got  int
	err  error
}

func (a *floorAcks) add() {
	a.mu.Lock()
	a.sent++
	a.mu.Unlock()
}

func (a *floorAcks) done(err error) {
	a.mu.Lock()
	a.got++
	if err != nil && a.err == nil {
		a.err = err
	}
	if a.cond != nil {
		a.cond.Broadcast()
	}
	a.mu.Unlock()
}

func (a *floorAcks) wait() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cond == nil {
		a.cond = sync.NewCond(&a.mu)
	}
	for a.got < a.sent {
		a.cond.Wait()
	}
	return a.err
}
