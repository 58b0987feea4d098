package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*fileRef)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(fileRef), error](&expandFn{})
	register.Emitter1[fileRef]()
	register.DoFn3x1[context.Context, fileRef, func(beam.EventTime, kafkaio.Record), error](&readFn{})
	register.Emitter2[beam.EventTime, kafkaio.Record]()
}

// Headers Read puts on each record, saying where it came from.
const (
	HeaderFile  = "archive.file"
	HeaderBlock = "archive.block"
)

// ReadConfig says which archive files Read reads: either Root, Survey and
// Night (every program), or a Pattern.
type ReadConfig struct {
	Survey string // "ztf" or "lsst"
	Root   string
	Night  string // YYYYMMDD
	// Pattern is a glob of files, local or gs://, e.g.
	// gs://bucket/archive/ztf/2019011[0-2]/programid1/*.avro. Its
	// wildcards follow path.Match: they never match "/".
	Pattern string
	// Speed, when positive, replays the night at its original cadence
	// scaled by Speed (1: as observed, 10: ten times faster): records come
	// out in observation-time order, each when its offset from the night's
	// first alert, divided by Speed, has passed. A paced replay is read by
	// one worker (the night's files merged by time), which keeps up with
	// any survey's real rate. Zero reads as fast as possible, files in
	// parallel, in no particular order.
	Speed float64
}

// Validate reports the first problem with c.
func (c ReadConfig) Validate() error {
	if c.Survey != schemas.ZTF && c.Survey != schemas.LSST {
		return fmt.Errorf("archive: unknown survey %q (want ztf or lsst)", c.Survey)
	}
	if c.Speed < 0 || math.IsNaN(c.Speed) || math.IsInf(c.Speed, 0) {
		return fmt.Errorf("archive: Speed %v must be 0 (as fast as possible) or a positive multiple of real time", c.Speed)
	}
	if c.Pattern != "" {
		if c.Root != "" || c.Night != "" {
			return errors.New("archive: give either Pattern or Root and Night, not both")
		}
		root, _, glob := splitPattern(c.Pattern)
		if _, err := path.Match(glob, ""); err != nil {
			return fmt.Errorf("archive: pattern %q: %w", c.Pattern, err)
		}
		return checkRoot(root)
	}
	if err := parseNight(c.Night); err != nil {
		return err
	}
	return checkRoot(c.Root)
}

// Read replays archive files as records, each with the bytes it was
// archived from: its value is the archived datum framed again as it
// travels on Kafka, a one-record container with the file's writer schema
// (ZTF) or the wire format with the writer's registry id (LSST). Keys are
// the alert ids; the element timestamp and Timestamp are the observation
// time. A record's Source names it in the archive, for Fetch to read it
// again and for dead letters to point at: Topic is the file (an absolute
// local path or a gs:// URL, as the header HeaderFile gives it), Partition
// 0, Offset the record's 0-based index in the file (HeaderBlock), Prev
// Offset-1 and Base 0. These are no Kafka offsets: acks of them (which
// kafkaio.Write emits for messages carrying the Source) must not reach
// kafkaio.Commit. A corrupt file fails the pipeline, naming the file: a
// replay must not silently skip alerts. It panics on an invalid cfg.
func Read(s beam.Scope, cfg ReadConfig) beam.PCollection {
	s = s.Scope("archive.Read")
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.Speed > 0 {
		return beam.ParDo(s, &pacedReadFn{Cfg: cfg}, beam.Impulse(s))
	}
	files := beam.ParDo(s, &expandFn{Cfg: cfg}, beam.Impulse(s))
	// File names are small; spreading them lets each worker read its own
	// files, with records staying in the fused read stage.
	files = beam.Reshuffle(s, files)
	return beam.ParDo(s, &readFn{Survey: cfg.Survey}, files)
}

// fileRef is one file to read.
type fileRef struct {
	Root string // store root
	Name string // object name under Root
}

// splitPattern cuts a pattern into a store root (the directory before the
// first wildcard), a listing prefix and the glob the names must match.
func splitPattern(p string) (root, prefix, glob string) {
	meta := strings.IndexAny(p, "*?[")
	if meta < 0 {
		meta = len(p)
	}
	cut := strings.LastIndex(p[:meta], "/")
	if cut < 0 {
		return ".", p[:meta], p
	}
	root = p[:cut]
	if root == "" { // a pattern like /x*: the root directory
		root = "/"
	}
	return root, p[cut+1 : meta], p[cut+1:]
}

type expandFn struct {
	Cfg ReadConfig
}

func (fn *expandFn) ProcessElement(ctx context.Context, _ []byte, emit func(fileRef)) error {
	refs, err := listFiles(ctx, fn.Cfg)
	for _, r := range refs {
		emit(r)
	}
	return err
}

// parts are the store root cfg reads from, the prefix to list there and
// the glob listed names must match ("" for all).
func (c ReadConfig) parts() (root, prefix, glob string) {
	if c.Pattern != "" {
		return splitPattern(c.Pattern)
	}
	return c.Root, c.Survey + "/" + c.Night + "/", ""
}

// listFiles lists the final files cfg names; none is an error.
func listFiles(ctx context.Context, cfg ReadConfig) ([]fileRef, error) {
	root, prefix, glob := cfg.parts()
	st, err := openStore(ctx, root, DefaultRetryTimeout)
	if err != nil {
		return nil, err
	}
	defer st.close()
	objs, err := st.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var refs []fileRef
	for _, o := range objs {
		if !isFinal(o.Name) {
			continue
		}
		if glob != "" {
			if ok, _ := path.Match(glob, o.Name); !ok {
				continue
			}
		}
		refs = append(refs, fileRef{Root: root, Name: o.Name})
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("archive: no archive files match %s", joinRoot(root, prefix+glob))
	}
	return refs, nil
}

type readFn struct {
	Survey string

	codec  *framing.Codec
	stores openStores
	files  beam.Counter
	recs   beam.Counter
}

func (fn *readFn) Setup() error {
	c, err := framing.New(fn.Survey, nil)
	if err != nil {
		return err
	}
	fn.codec = c
	fn.stores = openStores{}
	fn.files = beam.NewCounter("alertbeam", "archive_files_read")
	fn.recs = beam.NewCounter("alertbeam", "archive_records_read")
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, f fileRef, emit func(beam.EventTime, kafkaio.Record)) error {
	st, err := fn.stores.get(ctx, f.Root)
	if err != nil {
		return err
	}
	for r, err := range fileRecords(ctx, st, f.Name, fn.codec) {
		if err != nil {
			return err
		}
		if kafkaio.Draining() {
			return nil // asked to stop: what was emitted goes on to its sinks
		}
		emit(beam.EventTime(r.Timestamp.UnixMilli()), r)
		fn.recs.Inc(ctx, 1)
	}
	fn.files.Inc(ctx, 1)
	return nil
}

// openStores are the stores a reader has opened, by root, each opened once
// and closed in Teardown.
type openStores map[string]store

func (o openStores) get(ctx context.Context, root string) (store, error) {
	if st, ok := o[root]; ok {
		return st, nil
	}
	st, err := openStore(ctx, root, DefaultRetryTimeout)
	if err != nil {
		return nil, err
	}
	o[root] = st
	return st, nil
}

func (o openStores) closeAll() {
	for root, st := range o {
		_ = st.close()
		delete(o, root)
	}
}

// fileRecords yields the records of one archive file, in file order, framed
// as they travel on Kafka; the first error (naming the file and record)
// ends it.
func fileRecords(ctx context.Context, st store, name string, codec *framing.Codec) iter.Seq2[kafkaio.Record, error] {
	return func(yield func(kafkaio.Record, error) bool) {
		f, err := openFile(ctx, st, name)
		if err != nil {
			yield(kafkaio.Record{}, fmt.Errorf("archive: reading %s (record 0): %w", st.url(name), err))
			return
		}
		defer f.close()
		for {
			i := f.index()
			r, err := f.record(codec)
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(kafkaio.Record{}, fmt.Errorf("archive: reading %s (record %d): %w", f.url, i, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// recordOf frames one archived datum, the record at index i of the file at
// url, as it travels on Kafka: a one-record container with the file's
// writer schema (ZTF) or the wire format with the writer's registry id
// (LSST). Its Source names it in the archive (see Read), so that Fetch can
// read it again.
func recordOf(codec *framing.Codec, url string, h *fileInfo, i int, datum []byte) (kafkaio.Record, error) {
	id, err := decodeIdentity(codec, h.writer, datum)
	if err != nil && !errors.Is(err, errImplausible) {
		return kafkaio.Record{}, err
	}
	survey := codec.Survey()
	// Looked up at the first record framed, whichever it is: Fetch may
	// start in the middle of a file.
	if survey == schemas.LSST && h.schemaID == 0 {
		// Not written by alertbeam: find the id in the shipped catalogue of
		// versions.
		id, ok := schemas.Default().LSSTRegistryIDOf(h.writer)
		if !ok {
			return kafkaio.Record{}, fmt.Errorf("archive: the writer schema has no %s and matches no shipped LSST version, so its registry id is unknown", metaSchemaID)
		}
		h.schemaID = id
	}
	var value []byte
	if survey == schemas.ZTF {
		if value, err = framing.AppendContainer(make([]byte, 0, len(datum)+len(h.Schema)+64), framing.Container{Schema: h.Schema, Datum: datum}); err != nil {
			return kafkaio.Record{}, err
		}
	} else {
		value = framing.AppendWire(make([]byte, 0, len(datum)+framing.WireHeaderLen), h.schemaID, datum)
	}
	return kafkaio.Record{
		// Prev and Base as a read of a Kafka partition from its start
		// sets them: a file's records are one contiguous run.
		Source:    kafkaio.Source{Topic: url, Offset: int64(i), Prev: int64(i) - 1},
		Key:       []byte(strconv.FormatInt(id.ID, 10)),
		Value:     value,
		Headers:   []kafkaio.Header{{Key: HeaderFile, Value: []byte(url)}, {Key: HeaderBlock, Value: []byte(strconv.Itoa(i))}},
		Timestamp: id.Time,
	}, nil
}

func (fn *readFn) Teardown() { fn.stores.closeAll() }

// fileInfo is a final file's header with its writer schema parsed.
type fileInfo struct {
	header
	writer   avro.Schema
	schemaID int // LSST: registry id of the writer
	ids      []int64
	hasIDs   bool
}

// fileReader reads one archive file forward, record by record. It is the
// one way every reader here (Read, its paced form, Fetch, Verify) takes a
// file apart.
type fileReader struct {
	url  string
	rc   io.ReadCloser
	ocf  *ocfReader
	info *fileInfo
}

// openFile opens a file and reads its header; the caller closes it.
func openFile(ctx context.Context, st store, name string) (*fileReader, error) {
	rc, err := st.open(ctx, name)
	if err != nil {
		return nil, err
	}
	info, r, err := readHeader(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &fileReader{url: st.url(name), rc: rc, ocf: r, info: info}, nil
}

// readHeader reads a file's header and parses what it says.
func readHeader(rc io.Reader) (*fileInfo, *ocfReader, error) {
	r, err := newOCFReader(rc)
	if err != nil {
		return nil, nil, err
	}
	h := &fileInfo{header: r.h}
	if h.writer, err = framing.ParseWriterSchema(r.h.Schema); err != nil {
		return nil, nil, err
	}
	if h.schemaID, err = schemaIDOf(r.h); err != nil {
		return nil, nil, err
	}
	if b, ok := r.h.Meta[metaIDs]; ok {
		if h.ids, err = parseIDs(b); err != nil {
			return nil, nil, err
		}
		h.hasIDs = true
	}
	return h, r, nil
}

// index is the index of the next record in the file (files hold one record
// per block, so it is also the block's).
func (f *fileReader) index() int { return f.ocf.block }

// next returns the next record's datum, uncompressed and valid until the
// following call, or io.EOF after the last.
func (f *fileReader) next() ([]byte, error) {
	data, err := f.ocf.next()
	if err != nil {
		return nil, err
	}
	return decompress(f.info.Codec, data)
}

// skip passes over the next record without decompressing it; io.EOF after
// the last.
func (f *fileReader) skip() error {
	_, err := f.ocf.next()
	return err
}

// record returns the next record framed as it travels on Kafka (recordOf),
// or io.EOF after the last.
func (f *fileReader) record(codec *framing.Codec) (kafkaio.Record, error) {
	i := f.index()
	datum, err := f.next()
	if err != nil {
		return kafkaio.Record{}, err
	}
	return recordOf(codec, f.url, f.info, i, datum)
}

func (f *fileReader) close() error { return f.rc.Close() }

// scanFile reads a file record by record, calling fn with each datum
// (uncompressed; valid only during the call).
func scanFile(ctx context.Context, st store, name string, fn func(h *fileInfo, block int, datum []byte) error) error {
	f, err := openFile(ctx, st, name)
	if err != nil {
		return err
	}
	defer f.close()
	for {
		block := f.index()
		datum, err := f.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(f.info, block, datum); err != nil {
			return err
		}
	}
}
