package framing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

// API is the frozen hamba/avro configuration every codec shares. Cutouts are
// byte fields of up to a few hundred KB, above hamba's default slice limit.
var API = avro.Config{
	TagKey:            "avro",
	MaxByteSliceSize:  64 << 20,
	MaxSliceAllocSize: 1 << 20,
}.Freeze()

// Codec frames and unframes the alerts of one survey and decodes them into Go
// structs of its reader schema. Writer schemas are parsed once and cached
// (ZTF: by the raw schema text in the container header; LSST: by registry id),
// together with their resolution to the reader schema.
// A Codec is safe for concurrent use.
type Codec struct {
	survey   string
	version  schemas.Version
	reader   avro.Schema
	lenient  avro.Schema // reader with zero defaults, for resolving older writers
	readerFP [32]byte
	// readerJSON is written into every ZTF container header we produce.
	readerJSON []byte
	readerID   int // LSST registry id of the reader version
	registry   *registry.Client

	// byText maps a raw writer schema (a ZTF header's) to its writer. A
	// plain map under a lock, not a sync.Map: indexing with string(raw)
	// does not copy the 10-20 KB schema, while boxing it as a sync.Map key
	// did, for every message.
	textMu sync.RWMutex
	byText map[string]*writer
	byID   sync.Map // int schema id -> *writer
	byFP   sync.Map // [32]byte writer fingerprint -> *writer
}

type writer struct {
	schema   avro.Schema
	resolved avro.Schema // schema to decode reader structs with
	// transcode: decode generically with resolved, re-encode with the reader
	// schema, then decode the struct (see promotesIntoUnion).
	transcode bool
	err       error // why resolution failed, kept so we fail fast
}

// Datum is one message taken apart: its Avro binary datum and writer schema.
type Datum struct {
	Bytes    []byte
	Writer   avro.Schema
	SchemaID int    // LSST only
	Raw      []byte // ZTF only: the header's schema text
}

// NewZTF returns the codec for ZTF one-record container messages, decoding into
// schemas/ztf structs (schema 4.02).
func NewZTF() (*Codec, error) {
	return newCodec(schemas.Version{Survey: schemas.ZTF, Version: schemas.ZTFVersion}, nil)
}

// NewLSST returns the codec for LSST wire-format messages whose schema ids are
// resolved through reg, decoding into schemas/lsst structs. A codec that
// only encodes may pass a nil reg.
func NewLSST(reg *registry.Client) (*Codec, error) {
	return newCodec(schemas.Version{Survey: schemas.LSST, Version: schemas.LSSTVersion}, reg)
}

// Open returns the codec for a survey with a registry client for
// registryURL (none when it is empty), as DoFns build theirs in Setup.
func Open(survey, registryURL string) (*Codec, error) {
	var reg *registry.Client
	if registryURL != "" {
		var err error
		if reg, err = registry.NewClient(registryURL); err != nil {
			return nil, err
		}
	}
	return New(survey, reg)
}

// New returns the codec for a survey ("ztf" or "lsst").
func New(survey string, reg *registry.Client) (*Codec, error) {
	switch survey {
	case schemas.ZTF:
		return NewZTF()
	case schemas.LSST:
		return NewLSST(reg)
	default:
		return nil, fmt.Errorf("framing: unknown survey %q (want ztf or lsst)", survey)
	}
}

func newCodec(v schemas.Version, reg *registry.Client) (*Codec, error) {
	s, err := schemas.Default().Schema(v)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("framing: %w", err)
	}
	lenient, err := lenientReader(s)
	if err != nil {
		return nil, fmt.Errorf("framing: %s: %w", v, err)
	}
	c := &Codec{survey: v.Survey, version: v, reader: s, lenient: lenient, readerJSON: js, registry: reg}
	c.readerFP = s.Fingerprint()
	if v.Survey == schemas.LSST {
		if c.readerID, err = v.RegistryID(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Survey is "ztf" or "lsst".
func (c *Codec) Survey() string { return c.survey }

// Reader is the reader schema structs are decoded with.
func (c *Codec) Reader() avro.Schema { return c.reader }

// Unframe splits a message into its datum and writer schema.
func (c *Codec) Unframe(ctx context.Context, msg []byte) (Datum, error) {
	if c.survey == schemas.ZTF {
		ct, err := ParseContainer(msg)
		if err != nil {
			return Datum{}, err
		}
		w, err := c.writerForText(ct.Schema)
		if err != nil {
			return Datum{}, err
		}
		return Datum{Bytes: ct.Datum, Writer: w.schema, Raw: ct.Schema}, nil
	}
	id, datum, err := ParseWire(msg)
	if err != nil {
		return Datum{}, err
	}
	w, err := c.writerForID(ctx, id)
	if err != nil {
		return Datum{}, err
	}
	return Datum{Bytes: datum, Writer: w.schema, SchemaID: id}, nil
}

// Decode unframes msg and decodes it into v, a pointer to a struct of the
// reader schema (or to a struct with a subset of its fields: fields the
// struct lacks are skipped, which is how routing decodes only what it needs).
func (c *Codec) Decode(ctx context.Context, msg []byte, v any) error {
	var w *writer
	var datum []byte
	if c.survey == schemas.ZTF {
		ct, err := ParseContainer(msg)
		if err != nil {
			return err
		}
		if w, err = c.writerForText(ct.Schema); err != nil {
			return err
		}
		datum = ct.Datum
	} else {
		id, d, err := ParseWire(msg)
		if err != nil {
			return err
		}
		if w, err = c.writerForID(ctx, id); err != nil {
			return err
		}
		datum = d
	}
	return c.decodeDatum(w, datum, v)
}

// DecodeDatum decodes an Avro binary datum written with writer into v.
func (c *Codec) DecodeDatum(writerSchema avro.Schema, datum []byte, v any) error {
	w := c.resolve(writerSchema)
	return c.decodeDatum(w, datum, v)
}

func (c *Codec) decodeDatum(w *writer, datum []byte, v any) (err error) {
	if w.err != nil {
		return w.err
	}
	// hamba/avro can panic on some malformed inputs; a bad packet must
	// become an error for the dead-letter output, never a crash.
	defer func() {
		if r := recover(); r != nil {
			err = newErr(c.format(), ErrCorrupt, nil, "decoder panic: %v", r)
		}
	}()
	if w.transcode {
		var generic any
		if err := API.Unmarshal(w.resolved, datum, &generic); err != nil {
			return newErr(c.format(), ErrCorrupt, err, "")
		}
		if datum, err = API.Marshal(c.reader, generic); err != nil {
			return newErr(c.format(), ErrIncompatible, err, "re-encoding with the reader schema")
		}
		if err := API.Unmarshal(c.reader, datum, v); err != nil {
			return newErr(c.format(), ErrCorrupt, err, "")
		}
		return nil
	}
	if err := API.Unmarshal(w.resolved, datum, v); err != nil {
		return newErr(c.format(), ErrCorrupt, err, "")
	}
	return nil
}

// Encode encodes v (a struct of the reader schema) and frames it: a
// one-record container for ZTF, the wire format with the reader version's
// Rubin id for LSST.
func (c *Codec) Encode(v any) ([]byte, error) {
	datum, err := API.Marshal(c.reader, v)
	if err != nil {
		return nil, fmt.Errorf("framing: encoding %s alert: %w", c.survey, err)
	}
	return c.Frame(datum)
}

// EncodeContainer encodes v as a one-record Avro container file with the
// reader schema in its header, whatever the survey: the form alert files
// take on disk (Rubin's sample alerts are such files too).
func (c *Codec) EncodeContainer(v any) ([]byte, error) {
	datum, err := API.Marshal(c.reader, v)
	if err != nil {
		return nil, fmt.Errorf("framing: encoding %s alert: %w", c.survey, err)
	}
	return AppendContainer(make([]byte, 0, len(datum)+len(c.readerJSON)+128), Container{Schema: c.readerJSON, Datum: datum})
}

// Frame frames a datum already encoded with the reader schema.
func (c *Codec) Frame(datum []byte) ([]byte, error) {
	if c.survey == schemas.ZTF {
		return AppendContainer(make([]byte, 0, len(datum)+len(c.readerJSON)+128), Container{Schema: c.readerJSON, Datum: datum})
	}
	return AppendWire(make([]byte, 0, len(datum)+WireHeaderLen), c.readerID, datum), nil
}

func (c *Codec) format() string {
	if c.survey == schemas.ZTF {
		return "ocf"
	}
	return "wire"
}

func (c *Codec) writerForText(raw []byte) (*writer, error) {
	c.textMu.RLock()
	w, ok := c.byText[string(raw)]
	c.textMu.RUnlock()
	if ok {
		return w, nil
	}
	s, err := ParseWriterSchema(raw)
	if err != nil {
		return nil, err
	}
	w = c.resolve(s)
	c.textMu.Lock()
	if c.byText == nil {
		c.byText = map[string]*writer{}
	}
	c.byText[string(raw)] = w
	c.textMu.Unlock()
	return w, nil
}

// ParseWriterSchema parses a writer schema from a container header. Real ZTF
// headers declare defaults hamba/avro rejects; as defaults play no part in
// decoding, they are dropped when the schema does not parse as it is.
func ParseWriterSchema(raw []byte) (avro.Schema, error) {
	s, err := schemas.ParseWriter(raw)
	if err != nil {
		return nil, newErr("ocf", ErrBadSchema, err, "")
	}
	return s, nil
}

func (c *Codec) writerForID(ctx context.Context, id int) (*writer, error) {
	if w, ok := c.byID.Load(id); ok {
		return w.(*writer), nil
	}
	if c.registry == nil {
		return nil, fmt.Errorf("framing: no schema registry configured to resolve schema id %d", id)
	}
	s, err := c.registry.Schema(ctx, id)
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return nil, newErr("wire", ErrUnknownSchema, err, "id %d", id)
		}
		// Not a property of the message: the registry is down or refusing.
		return nil, fmt.Errorf("framing: looking up schema %d: %w", id, err)
	}
	w := c.resolve(s)
	c.byID.Store(id, w)
	return w, nil
}

// resolve returns the cached resolution of a writer schema to the reader,
// keyed by the writer's fingerprint so a writer reached by text, by id or
// directly is resolved once.
func (c *Codec) resolve(ws avro.Schema) *writer {
	fp := ws.Fingerprint()
	if w, ok := c.byFP.Load(fp); ok {
		return w.(*writer)
	}
	w := &writer{schema: ws}
	if fp == c.readerFP {
		w.resolved = c.reader
	} else if r, err := avro.NewSchemaCompatibility().Resolve(c.lenient, ws); err != nil {
		w.err = newErr(c.format(), ErrIncompatible, err, "writer %s", shortName(ws))
	} else {
		w.resolved = r
		w.transcode = promotesIntoUnion(c.lenient, ws)
	}
	actual, _ := c.byFP.LoadOrStore(fp, w)
	return actual.(*writer)
}

func shortName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}
