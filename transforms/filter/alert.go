package filter

import (
	"fmt"
	"slices"

	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Alert is the decoded alert a filter sees: the packet (alert.Packet, whose
// ZTF and LSST fields, exactly one set, and methods Survey, ID, Time, Visit
// and SNR it carries as its own) with what filters add to it. Filters must
// treat it as read-only: every filter of a pipeline sees the same decoded
// alert, so a filter that changes it changes what the others see (see
// TransformFunc for how to publish a modified alert).
type Alert struct {
	alert.Packet

	xm    *xmatchState     // catalogs for crossmatch filters (see WithCatalogs)
	lc    *lcState         // light-curve fits, computed on first use (Fits)
	gw    *igwn.Events     // gravitational-wave events for gw filters (WithGW)
	notes []kafkaio.Header // headers a filter adds to what it publishes (Annotated)
}

// Visit identifies the exposure an alert came from (alert.Visit).
type Visit = alert.Visit

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
func OfZTF(a *ztf.Alert) *Alert { return &Alert{Packet: alert.Packet{ZTF: a}} }

// OfLSST wraps an LSST alert.
func OfLSST(a *lsst.Alert) *Alert { return &Alert{Packet: alert.Packet{LSST: a}} }

// Clone returns a copy a transform may change at the top level: the survey
// struct is copied (so its candidate or diaSource record is too), while
// slices, cutouts and other records behind pointers are shared with the
// original. Set a shared field to nil or to a fresh value; never modify
// what it points to.
func (a *Alert) Clone() *Alert {
	switch {
	case a.ZTF != nil:
		z := *a.ZTF
		return &Alert{Packet: alert.Packet{ZTF: &z}, xm: a.xm, gw: a.gw, notes: a.notes}
	case a.LSST != nil:
		l := *a.LSST
		return &Alert{Packet: alert.Packet{LSST: &l}, xm: a.xm, gw: a.gw, notes: a.notes}
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
// (alert.Sentinel); filters and the expression language treat it as absent.
const Sentinel = alert.Sentinel

// NullName is the string ZTF writes into candidate.ssnamenr when no known
// solar-system object is near (alert.NullName).
const NullName = alert.NullName

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
