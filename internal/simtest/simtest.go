package simtest

import (
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// ZTF is the first alert of a simulated ZTF night (without cutouts, so
// packets stay small) from seed, and a codec to encode what a test makes
// of it. A copy shares its history slices: set fields, do not append.
func ZTF(t testing.TB, night time.Time, seed int64) (ztf.Alert, *framing.Codec) {
	t.Helper()
	gen, err := sim.Generate(Night(night, seed, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	return *gen[0].ZTF, codec
}

// Night is a small simulated ZTF night from seed: visits exposures of
// perVisit alerts (before artefacts), without cutouts, so packets are a
// few KB where a test checks routing and counts rather than stamps.
func Night(night time.Time, seed int64, visits, perVisit int) sim.Config {
	c := sim.Defaults(sim.SurveyZTF)
	c.Night, c.Seed, c.Visits, c.AlertsPerVisit, c.NoCutouts = night, seed, visits, perVisit, true
	return c
}

// New is sim.New for a test: a config it refuses fails the test.
func New(t testing.TB, c sim.Config) *sim.Generator {
	t.Helper()
	g, err := sim.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
