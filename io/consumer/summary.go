package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// The decode targets hold only what a summary line prints. framing decodes
// into a subset of the reader schema's fields and skips the rest, so the
// cutouts (most of a packet's bytes) are never copied out.
type ztfPacket struct {
	ObjectID  string       `avro:"objectId"`
	Candid    int64        `avro:"candid"`
	Candidate ztfCandidate `avro:"candidate"`
	// Only the length of the history is printed.
	PrvCandidates *[]struct {
		Jd float64 `avro:"jd"`
	} `avro:"prv_candidates"`
}

type ztfCandidate struct {
	Jd        float64  `avro:"jd"`
	RA        float64  `avro:"ra"`
	Dec       float64  `avro:"dec"`
	Magpsf    float32  `avro:"magpsf"`
	Sigmapsf  float32  `avro:"sigmapsf"`
	Fid       int      `avro:"fid"`
	Rb        *float32 `avro:"rb"`
	Drb       *float32 `avro:"drb"`
	Isdiffpos string   `avro:"isdiffpos"`
	Programid int      `avro:"programid"`
	Ssnamenr  *string  `avro:"ssnamenr"`
	Ndethist  int      `avro:"ndethist"`
}

type lsstPacket struct {
	DiaSourceID   int64         `avro:"diaSourceId"`
	DiaSource     lsstDiaSource `avro:"diaSource"`
	PrvDiaSources *[]struct {
		DiaSourceID int64 `avro:"diaSourceId"`
	} `avro:"prvDiaSources"`
}

type lsstDiaSource struct {
	DiaObjectID    *int64   `avro:"diaObjectId"`
	Visit          int64    `avro:"visit"`
	Detector       int      `avro:"detector"`
	MidpointMjdTai float64  `avro:"midpointMjdTai"`
	RA             float64  `avro:"ra"`
	Dec            float64  `avro:"dec"`
	Band           *string  `avro:"band"`
	PsfFlux        *float32 `avro:"psfFlux"`
	PsfFluxErr     *float32 `avro:"psfFluxErr"`
	Snr            *float32 `avro:"snr"`
	Reliability    *float32 `avro:"reliability"`
}

// Source is where a line's message came from: the first fields of every
// line (summary or error).
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ZTFSummary is the line printed for a ZTF alert. Floats JSON cannot
// carry (NaN, ±Inf) are null, as are absent values; ssnamenr is null when
// ZTF's "null" sentinel says there is no solar-system counterpart.
type ZTFSummary struct {
	Source
	ObjectID  string   `json:"objectId"`
	Candid    int64    `json:"candid"`
	Jd        *float64 `json:"jd"`
	RA        *float64 `json:"ra"`
	Dec       *float64 `json:"dec"`
	Magpsf    *float32 `json:"magpsf"`
	Sigmapsf  *float32 `json:"sigmapsf"`
	Fid       int      `json:"fid"`
	Rb        *float32 `json:"rb"`
	Drb       *float32 `json:"drb"`
	Isdiffpos string   `json:"isdiffpos"`
	Programid int      `json:"programid"`
	Ssnamenr  *string  `json:"ssnamenr"`
	Ndethist  int      `json:"ndethist"`
	NPrv      int      `json:"n_prv"`
}

// LSSTSummary is the line printed for an LSST alert, with the same rules
// for null as ZTFSummary.
type LSSTSummary struct {
	Source
	DiaSourceID    int64    `json:"diaSourceId"`
	DiaObjectID    *int64   `json:"diaObjectId"`
	Visit          int64    `json:"visit"`
	Detector       int      `json:"detector"`
	MidpointMjdTai *float64 `json:"midpointMjdTai"`
	RA             *float64 `json:"ra"`
	Dec            *float64 `json:"dec"`
	Band           *string  `json:"band"`
	PsfFlux        *float32 `json:"psfFlux"`
	PsfFluxErr     *float32 `json:"psfFluxErr"`
	Snr            *float32 `json:"snr"`
	Reliability    *float32 `json:"reliability"`
	NPrv           int      `json:"n_prv"`
}

// ErrorLine is the line printed for a message that does not decode.
type ErrorLine struct {
	Source
	Error string `json:"error"`
}

// errNotAlert marks messages that are neither framing alertbeam knows; like
// a *framing.Error it is a property of the message, not of the consumer.
var errNotAlert = errors.New("consumer: neither an Avro container (Obj\\x01) nor the Confluent wire format (0x00)")

// errNeedRegistry stops the consumer rather than printing an error line:
// without a registry every LSST message would fail and have its offset
// committed, silently skipping the user's place in the stream.
var errNeedRegistry = errors.New("consumer: LSST wire-format message, but no schema registry is set (--registry URL)")

var ocfMagic = []byte("Obj\x01")

// decoders holds the codecs of one Consume call.
type decoders struct {
	survey string // "", "ztf" or "lsst"
	ztf    *framing.Codec
	lsst   *framing.Codec // nil when no registry was given
}

// decoded is one message made into a summary line.
type decoded struct {
	line []byte // JSON with a trailing newline
	id   int64  // candid or diaSourceId
}

// decode turns a message into its summary. An error that is a *framing.Error
// or errNotAlert is the message's fault and becomes an error line; any other
// error (no or unreachable registry, cancelled ctx) is the consumer's.
func (d *decoders) decode(ctx context.Context, src Source, value []byte) (decoded, error) {
	codec, err := d.codecFor(value)
	if err != nil {
		return decoded{}, err
	}
	if codec.Survey() == schemas.ZTF {
		var p ztfPacket
		if err := codec.Decode(ctx, value, &p); err != nil {
			return decoded{}, err
		}
		line, err := jsonLine(ztfSummary(src, &p))
		return decoded{line: line, id: p.Candid}, err
	}
	var p lsstPacket
	if err := codec.Decode(ctx, value, &p); err != nil {
		return decoded{}, err
	}
	line, err := jsonLine(lsstSummary(src, &p))
	return decoded{line: line, id: p.DiaSourceID}, err
}

// codecFor picks the codec by Options.Survey, or by the first bytes: ZTF
// sends Avro container files, Rubin the Confluent wire format.
func (d *decoders) codecFor(value []byte) (*framing.Codec, error) {
	switch d.survey {
	case schemas.ZTF:
		return d.ztf, nil
	case schemas.LSST:
		return d.lsst, nil
	}
	switch {
	case bytes.HasPrefix(value, ocfMagic):
		return d.ztf, nil
	case len(value) > 0 && value[0] == 0:
		if d.lsst == nil {
			return nil, errNeedRegistry
		}
		return d.lsst, nil
	case len(value) == 0:
		return nil, fmt.Errorf("%w: empty message", errNotAlert)
	default:
		return nil, fmt.Errorf("%w: starts with 0x%02x", errNotAlert, value[0])
	}
}

// isDataError reports whether err is the message's fault.
func isDataError(err error) bool {
	return framing.BadInput(err) || errors.Is(err, errNotAlert)
}

func ztfSummary(src Source, p *ztfPacket) ZTFSummary {
	c := &p.Candidate
	s := ZTFSummary{
		Source:   src,
		ObjectID: p.ObjectID, Candid: p.Candid,
		Jd: f64(c.Jd), RA: f64(c.RA), Dec: f64(c.Dec),
		Magpsf: f32(c.Magpsf), Sigmapsf: f32(c.Sigmapsf), Fid: c.Fid,
		Rb: f32p(c.Rb), Drb: f32p(c.Drb), Isdiffpos: c.Isdiffpos,
		Programid: c.Programid, Ndethist: c.Ndethist,
	}
	if c.Ssnamenr != nil && *c.Ssnamenr != "null" {
		s.Ssnamenr = c.Ssnamenr
	}
	if p.PrvCandidates != nil {
		s.NPrv = len(*p.PrvCandidates)
	}
	return s
}

func lsstSummary(src Source, p *lsstPacket) LSSTSummary {
	d := &p.DiaSource
	s := LSSTSummary{
		Source:      src,
		DiaSourceID: p.DiaSourceID, DiaObjectID: d.DiaObjectID,
		Visit: d.Visit, Detector: d.Detector,
		MidpointMjdTai: f64(d.MidpointMjdTai), RA: f64(d.RA), Dec: f64(d.Dec),
		Band: d.Band, PsfFlux: f32p(d.PsfFlux), PsfFluxErr: f32p(d.PsfFluxErr),
		Snr: f32p(d.Snr), Reliability: f32p(d.Reliability),
	}
	if p.PrvDiaSources != nil {
		s.NPrv = len(*p.PrvDiaSources)
	}
	return s
}

// encoding/json refuses NaN and ±Inf (Rubin fills missing fluxes with NaN),
// so those become null instead of failing the line.
func f64(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func f32(v float32) *float32 { return f32p(&v) }

func f32p(v *float32) *float32 {
	if v == nil || math.IsNaN(float64(*v)) || math.IsInf(float64(*v), 0) {
		return nil
	}
	return v
}
