package alert_test

import (
	"math"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// A packet answers the same questions for both surveys, and says nothing
// (zero values) of what it does not hold.
func TestPacket(t *testing.T) {
	field := 600
	z := alert.Packet{ZTF: &ztf.Alert{Candid: 11, Candidate: ztf.Candidate{Jd: 2461368.7083333, Field: &field, Sigmapsf: 0.125}}}
	if z.Survey() != "ztf" || z.ID() != 11 || z.Visit().Key() != "ztf/2461368.7083333/600" {
		t.Errorf("ZTF survey %q id %d visit %q", z.Survey(), z.ID(), z.Visit().Key())
	}
	if got, want := z.SNR(), 2.5/math.Ln10/0.125; got != want {
		t.Errorf("ZTF SNR %v, want %v", got, want)
	}
	if got, want := z.Time(), time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC); got.Sub(want).Abs() > 10*time.Millisecond {
		t.Errorf("ZTF time %v, want %v", got, want)
	}
	z.ZTF.Candidate.Field, z.ZTF.Candidate.Sigmapsf = nil, alert.Sentinel
	if z.Visit().Key() != "ztf/2461368.7083333/-1" || z.SNR() != 0 {
		t.Errorf("ZTF without field or sigmapsf: visit %q SNR %v", z.Visit().Key(), z.SNR())
	}

	flux, errFlux := float32(-700), float32(100)
	l := alert.Packet{LSST: &lsst.Alert{DiaSourceID: 12, DiaSource: lsst.DiaSource{Visit: 2026112400001, PsfFlux: &flux, PsfFluxErr: &errFlux}}}
	if l.Survey() != "lsst" || l.ID() != 12 || l.Visit().Key() != "lsst/2026112400001" || l.SNR() != 7 {
		t.Errorf("LSST survey %q id %d visit %q SNR %v", l.Survey(), l.ID(), l.Visit().Key(), l.SNR())
	}
	l.LSST.DiaSource.PsfFluxErr = nil
	if l.SNR() != 0 {
		t.Errorf("LSST without psfFluxErr: SNR %v, want 0", l.SNR())
	}

	var none alert.Packet
	if none.Survey() != "" || none.ID() != 0 || !none.Time().IsZero() || none.Visit() != (alert.Visit{}) || none.SNR() != 0 {
		t.Errorf("empty packet: %q %d %v %v %v", none.Survey(), none.ID(), none.Time(), none.Visit(), none.SNR())
	}
}
