package framing_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Generated alerts survive encode → decode → encode byte for byte in both
// framings, and decode to the same ids.
func TestGeneratedRoundTripByteIdentical(t *testing.T) {
	ctx := context.Background()
	night := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, survey := range []string{sim.SurveyZTF, sim.SurveyLSST} {
		t.Run(survey, func(t *testing.T) {
			cfg := sim.Defaults(survey)
			cfg.Night, cfg.Visits, cfg.AlertsPerVisit, cfg.Seed = night, 2, 50, 7
			g := simtest.New(t, cfg)
			var c *framing.Codec
			if survey == sim.SurveyZTF {
				c = ztfCodec(t)
			} else {
				c = lsstRig(t)
			}
			n := 0
			for a, ok := g.Next(); ok; a, ok = g.Next() {
				var in any = a.ZTF
				if a.LSST != nil {
					in = a.LSST
				}
				m1, err := c.Encode(in)
				if err != nil {
					t.Fatal(err)
				}
				var m2 []byte
				if survey == sim.SurveyZTF {
					var back ztf.Alert
					if err := c.Decode(ctx, m1, &back); err != nil {
						t.Fatal(err)
					}
					if back.Candid != a.ZTF.Candid || back.ObjectID != a.ZTF.ObjectID {
						t.Fatalf("ids changed: %d %s", back.Candid, back.ObjectID)
					}
					m2, err = c.Encode(&back)
				} else {
					var back lsst.Alert
					if err := c.Decode(ctx, m1, &back); err != nil {
						t.Fatal(err)
					}
					if back.DiaSourceID != a.LSST.DiaSourceID {
						t.Fatalf("id changed: %d", back.DiaSourceID)
					}
					m2, err = c.Encode(&back)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m1, m2) {
					t.Fatalf("alert %d: re-encoding changed the bytes", n)
				}
				n++
			}
			if n != 100 {
				t.Fatalf("%d alerts, want 100", n)
			}
		})
	}
}

// A ~60 KB generated ZTF packet, the size the survey documents quote.
func BenchmarkZTFGeneratedDecodeStruct(b *testing.B) {
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Night, cfg.Visits, cfg.AlertsPerVisit = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1, 1
	g := simtest.New(b, cfg)
	a, _ := g.Next()
	c := ztfCodec(b)
	msg, err := c.Encode(a.ZTF)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		var out ztf.Alert
		if err := c.Decode(context.Background(), msg, &out); err != nil {
			b.Fatal(err)
		}
	}
}
