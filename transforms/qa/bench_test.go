package qa_test

import (
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// exposure generates visit v of a night as points.
func exposure(b *testing.B, survey string, perVisit, v int, artefacts ...sim.Artefact) []qa.Point {
	b.Helper()
	cfg := sim.Defaults(survey)
	cfg.Night, cfg.NoCutouts, cfg.Visits, cfg.AlertsPerVisit = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), true, v+1, perVisit
	cfg.Artefacts = artefacts
	g := simtest.New(b, cfg)
	var pts []qa.Point
	for _, a := range g.Visit(v) {
		pts = append(pts, simPoint(a))
	}
	return pts
}

// The spatial check of one exposure: a Rubin visit of 10,000 candidates
// with a streak, a ZTF exposure of 1,000, and a ZTF rate spike of 10,000.
func BenchmarkFindGroups(b *testing.B) {
	for _, bc := range []struct {
		name string
		pts  func() []qa.Point
	}{
		{"lsst-10k", func() []qa.Point { return exposure(b, sim.SurveyLSST, 10000, 0, sim.Streak{Visit: 0, N: 40}) }},
		{"ztf-1k", func() []qa.Point { return exposure(b, sim.SurveyZTF, 1000, 0, sim.BleedTrail{Visit: 0, N: 20}) }},
		{"ztf-spike-10k", func() []qa.Point { return exposure(b, sim.SurveyZTF, 1000, 0, sim.RateSpike{Visit: 0, Factor: 10}) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pts := bc.pts()
			b.ReportAllocs()
			for b.Loop() {
				qa.FindGroups(pts, qa.SpatialConfig{})
			}
			b.ReportMetric(float64(len(pts))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}

// Throttling a group of 10,000 to 100.
func BenchmarkSample(b *testing.B) {
	pts := exposure(b, sim.SurveyZTF, 10000, 0)
	for _, pick := range []string{qa.PickSNR, qa.PickHash} {
		b.Run(pick, func(b *testing.B) {
			for b.Loop() {
				qa.Sample(pts, 100, pick)
			}
		})
	}
}
