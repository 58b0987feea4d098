package filter_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/skymap"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// ztfAtTime is a ZTF alert at (ra, dec) observed at t.
func ztfAtTime(ra, dec float64, t time.Time) *filter.Alert {
	jd := float64(t.UnixNano())/86400e9 + 2440587.5
	return filter.OfZTF(&ztf.Alert{Candid: 1, Candidate: ztf.Candidate{RA: ra, Dec: dec, Jd: jd, Candid: 1}})
}

// gw keeps alerts inside the credible region of an event whose time is in
// the window around their observation, names the event in headers, and
// forgets a retracted event.
func TestGWFilter(t *testing.T) {
	cone, err := skymap.EncodeCone(150, 20, 10)
	if err != nil {
		t.Fatal(err)
	}
	merger := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	n, err := igwn.Parse(igwn.Encode("S261130a", igwn.Preliminary, merger, cone))
	if err != nil {
		t.Fatal(err)
	}
	events := igwn.NewEvents()
	events.Apply(n)
	f, err := filter.Build("gw:cl=90,before=1d,after=6d", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := n.Map.At(151, 21)
	for _, c := range []struct {
		name string
		a    *filter.Alert
		keep bool
	}{
		{"inside, 2 days after", ztfAtTime(151, 21, merger.Add(48*time.Hour)), true},
		{"inside, 12 hours before", ztfAtTime(151, 21, merger.Add(-12*time.Hour)), true},
		{"inside, 7 days after", ztfAtTime(151, 21, merger.Add(7*24*time.Hour)), false},
		{"inside, 2 days before", ztfAtTime(151, 21, merger.Add(-48*time.Hour)), false},
		{"outside the region", ztfAtTime(150, 35, merger.Add(time.Hour)), false},
	} {
		out, err := f.Apply(c.a.WithGW(events))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (out != nil) != c.keep {
			t.Errorf("%s: kept %v, want %v", c.name, out != nil, c.keep)
			continue
		}
		if out == nil {
			continue
		}
		h := map[string]string{}
		for _, x := range out.Annotations() {
			h[x.Key] = string(x.Value)
		}
		if h["gw.superevent_id"] != "S261130a" || h["gw.credible_level"] != strconv.FormatFloat(m.Level, 'g', 6, 64) ||
			h["gw.probdensity"] != strconv.FormatFloat(m.Density, 'g', 6, 64) || m.Level >= 0.9 {
			t.Errorf("%s: headers %v (level %v density %v)", c.name, h, m.Level, m.Density)
		}
	}
	r, err := igwn.Parse(igwn.Encode("S261130a", igwn.Retraction, time.Time{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	events.Apply(r)
	if out, err := f.Apply(ztfAtTime(151, 21, merger.Add(time.Hour)).WithGW(events)); out != nil || err != nil {
		t.Errorf("after the retraction: kept %v (%v)", out != nil, err)
	}
	if _, err := f.Apply(ztfAtTime(151, 21, merger)); err == nil || !strings.Contains(err.Error(), "--gw-topic") {
		t.Errorf("without events: %v, want an error naming --gw-topic", err)
	}
}
