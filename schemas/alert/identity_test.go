package alert_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// Identify places a generated alert in its night and program, and flags a
// program or time that no real alert has.
func TestIdentify(t *testing.T) {
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Night, cfg.Visits, cfg.AlertsPerVisit, cfg.NoCutouts = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1, 1, true
	g, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := g.Next()
	c, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	identify := func() (alert.Identity, error) {
		msg, err := c.Encode(a.ZTF)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Unframe(t.Context(), msg)
		if err != nil {
			t.Fatal(err)
		}
		return alert.Identify(c, d.Writer, d.Bytes)
	}
	id, err := identify()
	if err != nil {
		t.Fatal(err)
	}
	want := alert.ZTFTopic(a.ZTF.Candidate.Jd, a.ZTF.Candidate.Programid)
	if id.ID != a.ZTF.Candid || id.Topic() != want || id.Night.Format("20060102") != "20261120" {
		t.Fatalf("identity %+v topic %s, want candid %d topic %s", id, id.Topic(), a.ZTF.Candid, want)
	}
	a.ZTF.Candidate.Programid = 9
	if _, err := identify(); !errors.Is(err, alert.ErrImplausible) {
		t.Fatalf("programid 9: want ErrImplausible, got %v", err)
	}
	a.ZTF.Candidate.Programid, a.ZTF.Candidate.Jd = 1, 2400000.5 // 1858
	if _, err := identify(); !errors.Is(err, alert.ErrImplausible) {
		t.Fatalf("a jd in 1858: want ErrImplausible, got %v", err)
	}
}
