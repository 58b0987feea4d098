package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

func init() {
	register.DoFn6x1[context.Context, beam.Window, beam.EventTime, kafkaio.Record, func(beam.EventTime, tempFile), func(kafkaio.Message), error](&writeFn{})
	register.Emitter2[beam.EventTime, tempFile]()
	register.Emitter1[kafkaio.Message]()
}

// tempFile describes a temporary file a bundle wrote: everything the commit
// step needs except the payloads, which stay in the file. Its IDs, Sizes
// and Sources are per record, in file order.
type tempFile struct {
	Survey   string
	Night    string
	Program  int
	FP       string // writer schema fingerprint, hex
	SchemaID int    // LSST registry id of the writer schema
	Name     string // object name under the root
	IDs      []int64
	Sizes    []int64 // bytes of each record's block data, compressed
	Sources  []kafkaio.Source
}

func (t tempFile) dir() string { return nightDir(t.Survey, t.Night, t.Program) }

// groupKey is what commits are serialized and files are named by.
func (t tempFile) groupKey() string { return fmt.Sprintf("%s|%s|%d", t.dir(), t.FP, t.SchemaID) }

// writeFn streams each record of a bundle into a temporary file per
// night, program, writer schema and window, and emits a tempFile for each
// when the bundle finishes. Nothing a reader sees changes here.
type writeFn struct {
	Cfg Config

	store   store
	codec   *framing.Codec
	reg     *registry.Client
	comp    compressor
	writers map[string]*tempWriter
	// schemas caches writerInfo by raw ZTF header text or "id:N" (LSST).
	schemas map[string]*writerInfo
	buf     []byte
	pending []pendingRecord
	// pendingBytes is what pending holds; past pendingMax the records go
	// to the bundle's writing goroutine, which reports on writing.
	pendingBytes int
	writing      chan writeResult

	records beam.Counter
	dead    beam.Counter
	timer   metrics.Timer
}

type tempWriter struct {
	meta tempFile
	ts   beam.EventTime // earliest record; places the tempFile in its window
	obj  objectWriter
	ocf  *ocfWriter
}

func (fn *writeFn) Setup(ctx context.Context) error {
	st, err := openStore(ctx, fn.Cfg.Root, fn.Cfg.RetryTimeout)
	if err != nil {
		return err
	}
	if fn.Cfg.Registry != "" {
		if fn.reg, err = registry.NewClient(fn.Cfg.Registry); err != nil {
			return err
		}
	}
	if fn.codec, err = framing.New(fn.Cfg.Survey, fn.reg); err != nil {
		return err
	}
	if fn.comp, err = newCompressor(fn.Cfg.Codec); err != nil {
		return err
	}
	fn.store = st
	fn.schemas = map[string]*writerInfo{}
	fn.records = beam.NewCounter("alertbeam", "archive_records_staged")
	fn.dead = beam.NewCounter("alertbeam", "archive_deadletter")
	fn.timer = metrics.NewTimer(metrics.StageArchive)
	return nil
}

// StartBundle takes the emitters only because Beam requires a DoFn that
// emits in FinishBundle to declare them here too.
func (fn *writeFn) StartBundle(_ context.Context, _ func(beam.EventTime, tempFile), _ func(kafkaio.Message)) {
	fn.abortAll() // leftovers of a bundle that failed
	fn.writers = map[string]*tempWriter{}
}

func (fn *writeFn) ProcessElement(ctx context.Context, w beam.Window, ts beam.EventTime, r kafkaio.Record, _ func(beam.EventTime, tempFile), emitDead func(kafkaio.Message)) error {
	start := time.Now()
	d, id, info, err := fn.unframe(ctx, r.Value)
	if err != nil {
		if !framing.BadInput(err) && !errors.Is(err, errImplausible) {
			// The registry is unreachable or refusing: not the record's
			// fault, so fail the bundle rather than dead-letter good data.
			return fmt.Errorf("archive: %s: %w", r.Source, err)
		}
		fn.dead.Inc(ctx, 1)
		emitDead(deadletter.New(r, Stage, err).Message(fn.Cfg.DeadLetterTopic, fn.Cfg.Units))
		return nil
	}
	tw, err := fn.writerFor(ctx, w, ts, id, info)
	if err != nil {
		return err
	}
	// Compressing and writing wait for FinishBundle: the archive shares
	// its fused stage with the routing to night topics, and an alert's
	// night copy should not wait for every alert before it in the bundle
	// to be compressed and written. Nothing is acknowledged before the
	// temporary file is committed, so the order of the work is free.
	fn.pending = append(fn.pending, pendingRecord{tw: tw, data: d.Bytes, id: id.ID, source: r.Source, ts: ts, took: time.Since(start)})
	fn.pendingBytes += len(d.Bytes)
	fn.records.Inc(ctx, 1)
	if fn.pendingBytes >= pendingMax {
		return fn.handOff(ctx)
	}
	return nil
}

// pendingMax bounds what a bundle holds waiting to be written. A bundle of
// the read holds up to 500 records per partition it read, and prism runs a
// few partitions in one: 100-300 MB of alerts (ZTF to LSST), held to
// FinishBundle, made the pipeline's memory grow with its throughput. Past
// pendingMax they are written by a goroutine of the bundle while the bundle
// goes on, so the night copies still do not wait for them, and a bundle
// holds at most twice pendingMax.
var pendingMax = 16 << 20 // a variable only so that tests can make it tight

// writeResult is how a handed-off batch was written.
type writeResult struct {
	batch []pendingRecord
	err   error
}

// handOff gives the pending records to a writing goroutine, once the one
// before is done.
func (fn *writeFn) handOff(ctx context.Context) error {
	if err := fn.waitWriting(ctx); err != nil {
		return err
	}
	batch := fn.pending
	fn.pending, fn.pendingBytes = nil, 0
	fn.writing = make(chan writeResult, 1)
	go func(done chan<- writeResult) {
		done <- writeResult{batch, fn.writeRecords(batch)}
	}(fn.writing)
	return nil
}

// waitWriting waits for the handed-off batch, if any, and records its
// stage times (metrics are updated on the bundle's goroutine).
func (fn *writeFn) waitWriting(ctx context.Context) error {
	if fn.writing == nil {
		return nil
	}
	res := <-fn.writing
	fn.writing = nil
	fn.observe(ctx, res.batch)
	return res.err
}

// observe records written records' stage times.
func (fn *writeFn) observe(ctx context.Context, batch []pendingRecord) {
	for _, p := range batch {
		fn.timer.Observe(ctx, p.took)
	}
}

// pendingRecord is a record of the bundle, to be written into its
// temporary file in FinishBundle.
type pendingRecord struct {
	tw     *tempWriter
	data   []byte // the Avro datum, uncompressed
	id     int64
	source kafkaio.Source
	ts     beam.EventTime
	took   time.Duration // in ProcessElement, for the stage timer
}

// writePending compresses and writes the bundle's records, in order:
// first those handed off, then those still pending.
func (fn *writeFn) writePending(ctx context.Context) error {
	if err := fn.waitWriting(ctx); err != nil {
		return err
	}
	defer func() { fn.pending, fn.pendingBytes = fn.pending[:0], 0 }()
	err := fn.writeRecords(fn.pending)
	fn.observe(ctx, fn.pending)
	return err
}

// writeRecords compresses and writes records into their temporary files, in
// order, adding the time it took to each record's. It runs on the bundle's
// goroutine or on the one writing goroutine, never both at once: it alone
// touches the files' encoders, fn.buf and the files' descriptions until
// FinishBundle.
func (fn *writeFn) writeRecords(batch []pendingRecord) error {
	for i := range batch {
		p := &batch[i]
		start := time.Now()
		var err error
		if fn.buf, err = fn.comp.compress(fn.buf[:0], p.data); err != nil {
			return err
		}
		tw := p.tw
		if err := tw.ocf.writeBlock(fn.buf); err != nil {
			return fmt.Errorf("archive: writing %s: %w", fn.store.url(tw.meta.Name), err)
		}
		tw.meta.IDs = append(tw.meta.IDs, p.id)
		tw.meta.Sizes = append(tw.meta.Sizes, int64(len(fn.buf)))
		tw.meta.Sources = append(tw.meta.Sources, p.source)
		if p.ts < tw.ts {
			tw.ts = p.ts
		}
		p.took += time.Since(start)
	}
	return nil
}

// unframe takes a message apart and finds where it belongs.
func (fn *writeFn) unframe(ctx context.Context, msg []byte) (framing.Datum, identity, *writerInfo, error) {
	// Registry lookups (LSST) are retried, since prism fails the whole job
	// on a bundle error.
	d, err := framing.Retry(ctx, func() (framing.Datum, error) { return fn.codec.Unframe(ctx, msg) })
	if err != nil {
		return d, identity{}, nil, err
	}
	id, err := decodeIdentity(fn.codec, d.Writer, d.Bytes)
	if err != nil {
		return d, id, nil, err
	}
	info, err := fn.writerInfo(ctx, d)
	return d, id, info, err
}

func (fn *writeFn) writerInfo(ctx context.Context, d framing.Datum) (*writerInfo, error) {
	key := string(d.Raw)
	if fn.Cfg.Survey == schemas.LSST {
		key = fmt.Sprintf("id:%d", d.SchemaID)
	}
	if info, ok := fn.schemas[key]; ok {
		return info, nil
	}
	raw := d.Raw
	if fn.Cfg.Survey == schemas.LSST {
		// Unframe just resolved the id, so the client has it cached.
		text, err := fn.reg.RawSchema(ctx, d.SchemaID)
		if err != nil {
			return nil, fmt.Errorf("archive: schema %d: %w", d.SchemaID, err)
		}
		raw = []byte(text)
	}
	info, err := newWriterInfo(raw, d.Writer, d.SchemaID)
	if err != nil {
		return nil, err
	}
	fn.schemas[key] = info
	return info, nil
}

// writerFor returns the bundle's temporary file for a record, opening it
// on first use.
func (fn *writeFn) writerFor(ctx context.Context, w beam.Window, ts beam.EventTime, id identity, info *writerInfo) (*tempWriter, error) {
	meta := tempFile{Survey: fn.Cfg.Survey, Night: id.Night, Program: id.Program, FP: info.FP, SchemaID: info.ID}
	key := fmt.Sprintf("%s|%d", meta.groupKey(), w.MaxTimestamp())
	if tw, ok := fn.writers[key]; ok {
		return tw, nil
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	// Random per attempt: a retried bundle never touches an earlier
	// attempt's file, whose tempFile the runner has discarded.
	meta.Name = fmt.Sprintf("%s/%s/%s_%s.tmp", tempDir, meta.dir(), info.FP[:fpLen], hex.EncodeToString(rnd[:]))
	obj, err := fn.store.create(ctx, meta.Name, false)
	if err != nil {
		return nil, err
	}
	h := header{Schema: info.Text, Codec: fn.comp.name, Meta: map[string][]byte{}}
	copy(h.Sync[:], rnd[:])
	if info.ID != 0 {
		h.Meta[metaSchemaID] = []byte(fmt.Sprint(info.ID))
	}
	ow, err := newOCFWriter(obj, h)
	if err != nil {
		obj.abort()
		return nil, fmt.Errorf("archive: writing %s: %w", fn.store.url(meta.Name), err)
	}
	tw := &tempWriter{meta: meta, ts: mtime.MaxTimestamp, obj: obj, ocf: ow}
	fn.writers[key] = tw
	return tw, nil
}

// FinishBundle makes every temporary file durable, then describes it. Its
// timestamp, that of its earliest record, puts it back in its window.
func (fn *writeFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, tempFile), _ func(kafkaio.Message)) error {
	if err := fn.writePending(ctx); err != nil {
		fn.abortAll()
		return err
	}
	writers := fn.writers
	fn.writers = nil
	var first error
	for _, tw := range writers {
		if first != nil {
			tw.obj.abort()
			continue
		}
		if err := tw.ocf.flush(); err != nil {
			tw.obj.abort()
			first = fmt.Errorf("archive: writing %s: %w", fn.store.url(tw.meta.Name), err)
			continue
		}
		if err := tw.obj.commit(); err != nil {
			first = err
			continue
		}
		emit(tw.ts, tw.meta)
	}
	return first
}

func (fn *writeFn) abortAll() {
	if fn.writing != nil {
		<-fn.writing // it may be writing into the files aborted here
		fn.writing = nil
	}
	for _, tw := range fn.writers {
		tw.obj.abort()
	}
	fn.writers = nil
	fn.pending, fn.pendingBytes = fn.pending[:0], 0
}

func (fn *writeFn) Teardown() {
	fn.abortAll()
	if fn.store != nil {
		_ = fn.store.close()
		fn.store = nil
	}
}
