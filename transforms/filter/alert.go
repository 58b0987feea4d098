package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Alert is the decoded alert a filter sees. Exactly one of ZTF and LSST is
// set. Filters must treat it as read-only: every filter of a pipeline sees
// the same decoded alert, so a filter that changes it changes what the
// others see (see TransformFunc for how to publish a modified alert).
type Alert struct {
	ZTF  *ztf.Alert
	LSST *lsst.Alert

	xm    *xmatchState     // catalogs for crossmatch filters (see WithCatalogs)
	lc    *lcState         // light-curve fits, computed on first use (Fits)
	gw    *igwn.Events     // gravitational-wave events for gw filters (WithGW)
	notes []kafkaio.Header // headers a filter adds to what it publishes (Annotated)
}

// Annotated returns a with Kafka headers added to what a filter publishes:
// the same packet (nothing is re-encoded) with the headers after the
// input message's own. A filter returns it to keep the alert and say why,
// e.g. lcfit's fitted parameters.
func (a *Alert) Annotated(hs ...kafkaio.Header) *Alert {
	b := *a
	b.notes = append(slices.Clone(a.notes), hs...)
	return &b
}

// Annotations are the headers filters added (Annotated).
func (a *Alert) Annotations() []kafkaio.Header { return slices.Clone(a.notes) }

// OfZTF wraps a ZTF alert.
func OfZTF(a *ztf.Alert) *Alert { return &Alert{ZTF: a} }

// OfLSST wraps an LSST alert.
func OfLSST(a *lsst.Alert) *Alert { return &Alert{LSST: a} }

// Survey is "ztf" or "lsst" (schemas.ZTF, schemas.LSST), "" for an empty
// Alert.
func (a *Alert) Survey() string {
	switch {
	case a.ZTF != nil:
		return schemas.ZTF
	case a.LSST != nil:
		return schemas.LSST
	}
	return ""
}

// ID is the alert's identifier: ZTF candid, LSST diaSourceId.
func (a *Alert) ID() int64 {
	if a.ZTF != nil {
		return a.ZTF.Candid
	}
	if a.LSST != nil {
		return a.LSST.DiaSourceID
	}
	return 0
}

// Time is the observation time, the alert's event time: ZTF candidate.jd
// (exposure start, UTC), LSST diaSource.midpointMjdTai converted from TAI
// to UTC.
func (a *Alert) Time() time.Time {
	if a.ZTF != nil {
		return alert.JDTime(a.ZTF.Candidate.Jd)
	}
	if a.LSST != nil {
		return alert.MJDTAITime(a.LSST.DiaSource.MidpointMjdTai)
	}
	return time.Time{}
}

// Visit identifies the exposure an alert came from. For ZTF it is
// (candidate.jd, candidate.field): all 64 quadrants of one exposure share
// jd, and field tells apart the rare exposures that start at the same jd.
// For LSST it is diaSource.visit. Per-visit caps group by Key.
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
func (a *Alert) Visit() Visit {
	if a.ZTF != nil {
		f := -1
		if a.ZTF.Candidate.Field != nil {
			f = *a.ZTF.Candidate.Field
		}
		return Visit{Survey: schemas.ZTF, JD: a.ZTF.Candidate.Jd, Field: f}
	}
	if a.LSST != nil {
		return Visit{Survey: schemas.LSST, ID: a.LSST.DiaSource.Visit}
	}
	return Visit{}
}

// SNR is the detection's signal-to-noise ratio, sign-free: ZTF
// 1.0857/candidate.sigmapsf (the S/N a magnitude error implies, since
// σ_m = 2.5/ln10 · σ_F/F), LSST |diaSource.psfFlux/psfFluxErr|. It is 0 when
// the fields it needs are absent or not positive. The per-visit cap ranks by
// it.
func (a *Alert) SNR() float64 {
	if a.ZTF != nil {
		s := float64(a.ZTF.Candidate.Sigmapsf)
		if !(s > 0) || s == Sentinel {
			return 0
		}
		return 2.5 / math.Ln10 / s
	}
	if a.LSST != nil {
		f, e := a.LSST.DiaSource.PsfFlux, a.LSST.DiaSource.PsfFluxErr
		if f == nil || e == nil || !(*e > 0) {
			return 0
		}
		return math.Abs(float64(*f) / float64(*e))
	}
	return 0
}

// Clone returns a copy a transform may change at the top level: the survey
// struct is copied (so its candidate or diaSource record is too), while
// slices, cutouts and other records behind pointers are shared with the
// original. Set a shared field to nil or to a fresh value; never modify
// what it points to.
func (a *Alert) Clone() *Alert {
	switch {
	case a.ZTF != nil:
		z := *a.ZTF
		return &Alert{ZTF: &z, xm: a.xm, gw: a.gw, notes: a.notes}
	case a.LSST != nil:
		l := *a.LSST
		return &Alert{LSST: &l, xm: a.xm, gw: a.gw, notes: a.notes}
	}
	return &Alert{}
}

func (a *Alert) check() error {
	if (a.ZTF == nil) == (a.LSST == nil) {
		return fmt.Errorf("filter: an Alert holds exactly one of ZTF and LSST")
	}
	return nil
}

// Sentinel is the number ZTF writes into numeric fields that have no value
// (ssdistnr, distpsnr1, sgscore1, ...). Filters treat it as absent, like an
// Avro null; so does the expression language.
const Sentinel = -999

// NullName is the string ZTF writes into candidate.ssnamenr when no known
// solar-system object is near.
const NullName = "null"

// f32 reads a nullable ZTF float, treating the sentinel as absent.
func f32(p *float32) (float32, bool) {
	if p == nil || *p == Sentinel {
		return 0, false
	}
	return *p, true
}

// lf32 reads a nullable LSST float (LSST has no sentinels).
func lf32(p *float32) (float32, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

func zint(p *int) (int, bool) {
	if p == nil || *p == Sentinel {
		return 0, false
	}
	return *p, true
}

func zf64(p *float64) (float64, bool) {
	if p == nil || *p == Sentinel {
		return 0, false
	}
	return *p, true
}

// ssName reads candidate.ssnamenr, treating the "null" string as absent.
func ssName(p *string) (string, bool) {
	if p == nil || *p == NullName || *p == "" {
		return "", false
	}
	return *p, true
}
