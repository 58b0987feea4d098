package qa

import (
	"context"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// What QA decodes of a packet agrees with the full alert, and costs a
// fraction of a full decode.
func TestDecodeFacts(t *testing.T) {
	for _, survey := range []string{sim.SurveyZTF, sim.SurveyLSST} {
		cfg := sim.Defaults(survey)
		cfg.Night, cfg.Visits, cfg.AlertsPerVisit = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), 1, 20
		g := simtest.New(t, cfg)
		c, err := framing.New(survey, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range g.Visit(0) {
			var msg []byte
			var want *filter.Alert
			if a.ZTF != nil {
				msg, err = c.Encode(a.ZTF)
				want = filter.OfZTF(a.ZTF)
			} else {
				msg, err = c.Encode(a.LSST)
				want = filter.OfLSST(a.LSST)
			}
			if err != nil {
				t.Fatal(err)
			}
			if survey == sim.SurveyLSST {
				continue // the wire format needs a registry to decode: see the pipeline tests
			}
			f, err := decodeFacts(context.Background(), c, msg)
			if err != nil {
				t.Fatal(err)
			}
			p := f.Point
			if p.ID != want.ID() || f.Exposure != want.Visit().Key() || !f.Time.Equal(want.Time()) || p.SNR != want.SNR() ||
				p.RA != a.ZTF.Candidate.RA || p.Unit != int32(*a.ZTF.Candidate.Rcid) || p.X != *a.ZTF.Candidate.Xpos || p.Time != want.Time().UnixNano() {
				t.Fatalf("decoded %+v %+v, want the alert's %d %s %v", f, p, want.ID(), want.Visit().Key(), want.Time())
			}
		}
	}
}

func BenchmarkDecodeFacts(b *testing.B) {
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Night, cfg.Visits, cfg.AlertsPerVisit = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), 1, 1
	g := simtest.New(b, cfg)
	a := g.Visit(0)[0]
	c, err := framing.NewZTF()
	if err != nil {
		b.Fatal(err)
	}
	msg, err := c.Encode(a.ZTF)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	ctx := context.Background()
	for b.Loop() {
		if _, err := decodeFacts(ctx, c, msg); err != nil {
			b.Fatal(err)
		}
	}
}
