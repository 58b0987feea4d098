package igwn

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/skymap"
)

func cone(t *testing.T) []byte {
	t.Helper()
	b, err := skymap.EncodeCone(30, -40, 6)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A notice round-trips through Encode and Parse, gzip'd sky maps too.
func TestParse(t *testing.T) {
	at := time.Date(2026, 11, 30, 1, 2, 3, 456e6, time.UTC)
	n, err := Parse(Encode("S261130b", Initial, at, cone(t)))
	if err != nil {
		t.Fatal(err)
	}
	if n.SupereventID != "S261130b" || n.AlertType != Initial || !n.Time.Equal(at) || n.Map == nil || !n.Significant {
		t.Fatalf("%+v", n)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(cone(t))
	zw.Close()
	raw := strings.Replace(string(Encode("S261130c", Update, at, nil)), `"skymap":""`,
		`"skymap":"`+base64.StdEncoding.EncodeToString(z.Bytes())+`"`, 1)
	if n, err := Parse([]byte(raw)); err != nil || n.Map == nil {
		t.Fatalf("gzip'd map: %v", err)
	}
	if n, err := Parse(Encode("S261130b", Retraction, time.Time{}, nil)); err != nil || n.AlertType != Retraction || n.Map != nil {
		t.Fatalf("retraction: %+v %v", n, err)
	}
}

// Every kind of bad notice is an error that says what is wrong.
func TestParseErrors(t *testing.T) {
	good := string(Encode("S1", Preliminary, time.Unix(0, 0), cone(t)))
	for _, c := range []struct{ notice, says string }{
		{"not json", "not JSON"},
		{`{"alert_type": "PRELIMINARY"}`, "no superevent_id"},
		{`{"superevent_id": "S1", "alert_type": "GUESS"}`, `alert_type "GUESS"`},
		{`{"superevent_id": "S1", "alert_type": "PRELIMINARY"}`, "without an event"},
		{strings.Replace(good, `"time":"1970-01-01T00:00:00Z"`, `"time":"yesterday"`, 1), `event.time "yesterday"`},
		{strings.Replace(good, `"skymap":"`, `"skymap":"!!`, 1), "not base64"},
		{string(Encode("S1", Preliminary, time.Unix(0, 0), []byte("SIMPLE  = not a sky map"))), "event.skymap"},
	} {
		_, err := Parse([]byte(c.notice))
		if !errors.Is(err, ErrNotice) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%.60q: %v, want an ErrNotice saying %q", c.notice, err, c.says)
		}
	}
}

// Match takes the time window and the credible region as documented, and
// a retraction or an update changes what matches.
func TestEventsMatch(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	e := NewEvents()
	n, err := Parse(Encode("S1", Preliminary, at, cone(t)))
	if err != nil {
		t.Fatal(err)
	}
	e.Apply(n)
	day := 24 * time.Hour
	for _, c := range []struct {
		ra, dec float64
		t       time.Time
		ok      bool
	}{
		{30, -40, at.Add(2 * day), true},
		{30, -40, at.Add(-day + time.Minute), true},
		{30, -40, at.Add(-day - time.Minute), false},
		{30, -40, at.Add(6*day + time.Minute), false},
		{30, -20, at, false},
	} {
		if _, ok := e.Match(c.ra, c.dec, c.t, day, 6*day, 0.9); ok != c.ok {
			t.Errorf("(%v, %v) at %v: match %v, want %v", c.ra, c.dec, c.t, ok, c.ok)
		}
	}
	m, _ := e.Match(30, -40, at, day, day, 0.9)
	if m.SupereventID != "S1" || m.Level <= 0 || m.Level > 0.1 || m.Density <= 0 {
		t.Errorf("match at the peak: %+v", m)
	}
	r, _ := Parse(Encode("S1", Retraction, time.Time{}, nil))
	e.Apply(r)
	if _, ok := e.Match(30, -40, at, day, day, 0.9); ok || e.Len() != 0 {
		t.Errorf("a retracted event still matches")
	}
}
