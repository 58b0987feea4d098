package qa

import (
	"context"
	"math"
	"time"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// The parts of a packet QA reads: the alert id and the triggering
// detection, never the history or the cutouts (the codec skips what these
// structs leave out).
type ztfFacts struct {
	Candid    int64         `avro:"candid"`
	Candidate ztf.Candidate `avro:"candidate"`
}

type lsstFacts struct {
	DiaSourceID int64          `avro:"diaSourceId"`
	DiaSource   lsst.DiaSource `avro:"diaSource"`
}

// facts is one decoded alert as QA sees it.
type facts struct {
	Exposure string // alert.Visit key
	Time     time.Time
	Point    Point
}

// decodeFacts decodes what QA needs of msg. Errors that are not the
// message's fault (the registry is unreachable) are retried a few times
// with backoff, since prism fails the whole job on a bundle error; a
// *framing.Error is the message's fault.
func decodeFacts(ctx context.Context, c *framing.Codec, msg []byte) (facts, error) {
	return framing.Retry(ctx, func() (facts, error) { return decodeOnce(ctx, c, msg) })
}

func decodeOnce(ctx context.Context, c *framing.Codec, msg []byte) (facts, error) {
	nan := float32(math.NaN())
	if c.Survey() == schemas.ZTF {
		var z ztfFacts
		if err := c.Decode(ctx, msg, &z); err != nil {
			return facts{}, err
		}
		a := alert.Packet{ZTF: &ztf.Alert{Candid: z.Candid, Candidate: z.Candidate}}
		cd := z.Candidate
		p := Point{ID: a.ID(), RA: cd.RA, Dec: cd.Dec, Unit: -1, X: nan, Y: nan, SNR: a.SNR()}
		if cd.Rcid != nil {
			p.Unit = int32(*cd.Rcid)
		}
		if cd.Xpos != nil && cd.Ypos != nil {
			p.X, p.Y = *cd.Xpos, *cd.Ypos
		}
		return finish(a, p), nil
	}
	var l lsstFacts
	if err := c.Decode(ctx, msg, &l); err != nil {
		return facts{}, err
	}
	a := alert.Packet{LSST: &lsst.Alert{DiaSourceID: l.DiaSourceID, DiaSource: l.DiaSource}}
	d := l.DiaSource
	p := Point{ID: a.ID(), RA: d.RA, Dec: d.Dec, Unit: int32(d.Detector), X: d.X, Y: d.Y, SNR: a.SNR()}
	return finish(a, p), nil
}

func finish(a alert.Packet, p Point) facts {
	t := a.Time()
	p.Time = t.UnixNano()
	return facts{Exposure: a.Visit().Key(), Time: t, Point: p}
}
