package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// Validate reports the first problem with c.
func (c ReadConfig) Validate() error {
	if c.Survey != schemas.ZTF && c.Survey != schemas.LSST {
		return fmt.Errorf("archive: unknown survey %q (want ztf or lsst)", c.Survey)
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
// time. Records carry no Kafka Source (nothing to commit), and the headers
// HeaderFile and HeaderBlock. A corrupt file fails the pipeline, naming the
// file: a replay must not silently skip alerts. It panics on an invalid
// cfg.
func Read(s beam.Scope, cfg ReadConfig) beam.PCollection {
	s = s.Scope("archive.Read")
	if err := cfg.Validate(); err != nil {
		panic(err)
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
	root, prefix, glob := fn.Cfg.Root, fn.Cfg.Survey+"/"+fn.Cfg.Night+"/", ""
	if fn.Cfg.Pattern != "" {
		root, prefix, glob = splitPattern(fn.Cfg.Pattern)
	}
	st, err := openStore(ctx, root)
	if err != nil {
		return err
	}
	defer st.close()
	objs, err := st.list(ctx, prefix)
	if err != nil {
		return err
	}
	n := 0
	for _, o := range objs {
		if !isFinal(o.Name) {
			continue
		}
		if glob != "" {
			if ok, _ := path.Match(glob, o.Name); !ok {
				continue
			}
		}
		emit(fileRef{Root: root, Name: o.Name})
		n++
	}
	if n == 0 {
		return fmt.Errorf("archive: no archive files match %s", joinRoot(root, prefix+glob))
	}
	return nil
}

type readFn struct {
	Survey string

	codec  *framing.Codec
	stores map[string]store
	files  beam.Counter
	recs   beam.Counter
}

func (fn *readFn) Setup() error {
	c, err := framing.New(fn.Survey, nil)
	if err != nil {
		return err
	}
	fn.codec = c
	fn.stores = map[string]store{}
	fn.files = beam.NewCounter("alertbeam", "archive_files_read")
	fn.recs = beam.NewCounter("alertbeam", "archive_records_read")
	return nil
}

func (fn *readFn) ProcessElement(ctx context.Context, f fileRef, emit func(beam.EventTime, kafkaio.Record)) error {
	st, ok := fn.stores[f.Root]
	if !ok {
		var err error
		if st, err = openStore(ctx, f.Root); err != nil {
			return err
		}
		fn.stores[f.Root] = st
	}
	url := st.url(f.Name)
	n := 0
	err := scanFile(ctx, st, f.Name, func(h *fileInfo, block int, datum []byte) error {
		id, err := decodeIdentity(fn.codec, h.writer, datum)
		if err != nil && !errors.Is(err, errImplausible) {
			return err
		}
		if block == 0 && fn.Survey == schemas.LSST && h.schemaID == 0 {
			// Not written by alertbeam: find the id in the shipped
			// catalogue of versions.
			id, ok := schemas.Default().LSSTRegistryIDOf(h.writer)
			if !ok {
				return fmt.Errorf("archive: the writer schema has no %s and matches no shipped LSST version, so its registry id is unknown", metaSchemaID)
			}
			h.schemaID = id
		}
		var value []byte
		if fn.Survey == schemas.ZTF {
			if value, err = framing.AppendContainer(make([]byte, 0, len(datum)+len(h.Schema)+64), framing.Container{Schema: h.Schema, Datum: datum}); err != nil {
				return err
			}
		} else {
			value = framing.AppendWire(make([]byte, 0, len(datum)+framing.WireHeaderLen), h.schemaID, datum)
		}
		emit(beam.EventTime(id.Time.UnixMilli()), kafkaio.Record{
			Key:       []byte(strconv.FormatInt(id.ID, 10)),
			Value:     value,
			Headers:   []kafkaio.Header{{Key: HeaderFile, Value: []byte(url)}, {Key: HeaderBlock, Value: []byte(strconv.Itoa(block))}},
			Timestamp: id.Time,
		})
		n++
		return nil
	})
	if err != nil {
		return fmt.Errorf("archive: reading %s (record %d): %w", url, n, err)
	}
	fn.files.Inc(ctx, 1)
	fn.recs.Inc(ctx, int64(n))
	return nil
}

func (fn *readFn) Teardown() {
	for _, st := range fn.stores {
		_ = st.close()
	}
	fn.stores = nil
}

// fileInfo is a final file's header with its writer schema parsed.
type fileInfo struct {
	header
	writer   avro.Schema
	schemaID int // LSST: registry id of the writer
	ids      []int64
	hasIDs   bool
}

// scanFile reads a file record by record, calling fn with each datum
// (uncompressed; valid only during the call).
func scanFile(ctx context.Context, st store, name string, fn func(h *fileInfo, block int, datum []byte) error) error {
	rc, err := st.open(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := newOCFReader(rc)
	if err != nil {
		return err
	}
	h := &fileInfo{header: r.h}
	if h.writer, err = framing.ParseWriterSchema(r.h.Schema); err != nil {
		return err
	}
	if h.schemaID, err = schemaIDOf(r.h); err != nil {
		return err
	}
	if b, ok := r.h.Meta[metaIDs]; ok {
		if h.ids, err = parseIDs(b); err != nil {
			return err
		}
		h.hasIDs = true
	}
	for block := 0; ; block++ {
		data, err := r.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		datum, err := decompress(r.h.Codec, data)
		if err != nil {
			return err
		}
		if err := fn(h, block, datum); err != nil {
			return err
		}
	}
}
