package alert

import (
	"math"
	"strconv"
	"time"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Packet is a decoded alert: exactly one of ZTF and LSST is set. It answers
// the questions every stage asks of an alert (which survey, which id, when,
// which exposure, how significant) the same way for both surveys.
// filter.Alert embeds it, with what filters add.
type Packet struct {
	ZTF  *ztf.Alert
	LSST *lsst.Alert
}

// Survey is "ztf" or "lsst" (schemas.ZTF, schemas.LSST), "" for an empty
// Packet.
func (p Packet) Survey() string {
	switch {
	case p.ZTF != nil:
		return schemas.ZTF
	case p.LSST != nil:
		return schemas.LSST
	}
	return ""
}

// ID is the alert's identifier: ZTF candid, LSST diaSourceId.
func (p Packet) ID() int64 {
	if p.ZTF != nil {
		return p.ZTF.Candid
	}
	if p.LSST != nil {
		return p.LSST.DiaSourceID
	}
	return 0
}

// Time is the observation time, the alert's event time: ZTF candidate.jd
// (exposure start, UTC), LSST diaSource.midpointMjdTai converted from TAI
// to UTC.
func (p Packet) Time() time.Time {
	if p.ZTF != nil {
		return JDTime(p.ZTF.Candidate.Jd)
	}
	if p.LSST != nil {
		return MJDTAITime(p.LSST.DiaSource.MidpointMjdTai)
	}
	return time.Time{}
}

// Visit identifies the exposure an alert came from. For ZTF it is
// (candidate.jd, candidate.field): all 64 quadrants of one exposure share
// jd, and field tells apart the rare exposures that start at the same jd.
// For LSST it is diaSource.visit. Per-visit caps and QA group by Key.
type Visit struct {
	Survey string
	JD     float64 // ZTF exposure start
	Field  int     // ZTF field; -1 when the packet has none
	ID     int64   // LSST visit id
}

// Key is a string unique to the visit, e.g. "ztf/2461003.6250000/519" or
// "lsst/2026112400042".
func (v Visit) Key() string {
	if v.Survey == schemas.LSST {
		return "lsst/" + strconv.FormatInt(v.ID, 10)
	}
	// Seven decimals of a day are under 10 ms, finer than ZTF's cadence,
	// and exactly what the packets carry; the same float always formats
	// the same.
	return "ztf/" + strconv.FormatFloat(v.JD, 'f', 7, 64) + "/" + strconv.Itoa(v.Field)
}

func (v Visit) String() string { return v.Key() }

// Visit is the exposure the alert came from.
func (p Packet) Visit() Visit {
	if p.ZTF != nil {
		f := -1
		if p.ZTF.Candidate.Field != nil {
			f = *p.ZTF.Candidate.Field
		}
		return Visit{Survey: schemas.ZTF, JD: p.ZTF.Candidate.Jd, Field: f}
	}
	if p.LSST != nil {
		return Visit{Survey: schemas.LSST, ID: p.LSST.DiaSource.Visit}
	}
	return Visit{}
}

// SNR is the detection's signal-to-noise ratio, sign-free: ZTF
// 1.0857/candidate.sigmapsf (the S/N a magnitude error implies, since
// σ_m = 2.5/ln10 · σ_F/F), LSST |diaSource.psfFlux/psfFluxErr|. It is 0 when
// the fields it needs are absent or not positive. The per-visit cap and QA's
// throttle rank by it.
func (p Packet) SNR() float64 {
	if p.ZTF != nil {
		s := float64(p.ZTF.Candidate.Sigmapsf)
		if !(s > 0) || s == Sentinel {
			return 0
		}
		return 2.5 / math.Ln10 / s
	}
	if p.LSST != nil {
		f, e := p.LSST.DiaSource.PsfFlux, p.LSST.DiaSource.PsfFluxErr
		if f == nil || e == nil || !(*e > 0) {
			return 0
		}
		return math.Abs(float64(*f) / float64(*e))
	}
	return 0
}

// Sentinel is the number ZTF writes into numeric fields that have no value
// (ssdistnr, distpsnr1, sgscore1, ...). Filters treat it as absent, like an
// Avro null; so does the expression language.
const Sentinel = -999

// NullName is the string ZTF writes into candidate.ssnamenr when no known
// solar-system object is near.
const NullName = "null"
