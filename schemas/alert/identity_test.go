package alert_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/schemas/alert"
)

// Identify places a generated alert in its night and program, and flags a
// program or time that no real alert has.
func TestIdentify(t *testing.T) {
	a, c := simtest.ZTF(t, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 1)
	identify := func() (alert.Identity, error) {
		msg, err := c.Encode(&a)
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
	want := alert.ZTFTopic(a.Candidate.Jd, a.Candidate.Programid)
	if id.ID != a.Candid || id.Topic() != want || id.Night.Format("20060102") != "20261120" {
		t.Fatalf("identity %+v topic %s, want candid %d topic %s", id, id.Topic(), a.Candid, want)
	}
	a.Candidate.Programid = 9
	if _, err := identify(); !errors.Is(err, alert.ErrImplausible) {
		t.Fatalf("programid 9: want ErrImplausible, got %v", err)
	}
	a.Candidate.Programid, a.Candidate.Jd = 1, 2400000.5 // 1858
	if _, err := identify(); !errors.Is(err, alert.ErrImplausible) {
		t.Fatalf("a jd in 1858: want ErrImplausible, got %v", err)
	}
}
