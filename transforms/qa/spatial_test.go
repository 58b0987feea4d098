package qa_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// offsetBy returns the position dx east and dy north (arcsec) of (ra,
// dec) on the tangent plane there (the inverse gnomonic projection), RA in
// [0, 360).
func offsetBy(ra, dec, dx, dy float64) (float64, float64) {
	const rad = math.Pi / 180
	x, y, d0 := dx/3600*rad, dy/3600*rad, dec*rad
	den := math.Cos(d0) - y*math.Sin(d0)
	a := math.Mod(ra+math.Atan2(x, den)/rad+360, 360)
	return a, math.Atan2(math.Sin(d0)+y*math.Cos(d0), math.Hypot(x, den)) / rad
}

// field lays n points at random within a square of side 2 degrees around
// (ra, dec), ids from 1, with a fixed seed: a sparse background no clump
// or line can come from.
func field(n int, ra, dec float64) []qa.Point {
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]qa.Point, n)
	for i := range pts {
		a, d := offsetBy(ra, dec, (r.Float64()-0.5)*7200, (r.Float64()-0.5)*7200)
		pts[i] = qa.Point{ID: int64(i + 1), RA: a, Dec: d, Unit: int32(i % 64), X: float32(r.Float64() * 3000), Y: float32(r.Float64() * 3000)}
	}
	return pts
}

func ids(g qa.Group) []int64 { return g.Members }

func span64(lo, hi int64) []int64 {
	var out []int64
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// A clump of 7 within a few arcsec is more than k=5 (and not more than
// k=7); friends of friends chain through neighbours within r, and break
// where a gap is wider.
func TestClumps(t *testing.T) {
	base := field(200, 150, 20)
	var clump []qa.Point
	for i := range 7 {
		th := 2 * math.Pi * float64(i) / 7
		a, d := offsetBy(150.3, 20.2, 3*math.Cos(th), 3*math.Sin(th))
		clump = append(clump, qa.Point{ID: int64(1000 + i), RA: a, Dec: d, Unit: -1})
	}
	pts := append(slices.Clone(base), clump...)
	gs := qa.FindGroups(pts, qa.SpatialConfig{K: 5, Radius: 10})
	if len(gs) != 1 || !slices.Equal(ids(gs[0]), span64(1000, 1007)) || gs[0].Kind != qa.KindClump || gs[0].Threshold != 5 {
		t.Fatalf("groups %+v, want the clump of 7", gs)
	}
	if g := gs[0]; math.Abs(g.Centre.RA-150.3) > 1e-5 || math.Abs(g.Centre.Dec-20.2) > 1e-5 || g.Radius > 3.01 || g.Radius < 2.9 {
		t.Errorf("clump centre %+v radius %.3f, want (150.3, 20.2) and 3 arcsec", g.Centre, g.Radius)
	}
	if gs := qa.FindGroups(pts, qa.SpatialConfig{K: 7, Radius: 10}); len(gs) != 0 {
		t.Errorf("k=7 flags a clump of 7: %+v", gs)
	}

	// A zigzag of 8, neighbours 9" apart: one group with r=10, none with r=8.
	var zig []qa.Point
	for i := range 8 {
		a, d := offsetBy(151, 20.5, float64(i)*9*math.Cos(math.Pi/6), float64(i%2)*9*math.Sin(math.Pi/6))
		zig = append(zig, qa.Point{ID: int64(2000 + i), RA: a, Dec: d, Unit: -1})
	}
	pts = append(slices.Clone(base), zig...)
	if gs := qa.FindGroups(pts, qa.SpatialConfig{K: 5, Radius: 10, Line: -1}); len(gs) != 1 || !slices.Equal(ids(gs[0]), span64(2000, 2008)) || gs[0].Kind != qa.KindClump {
		t.Errorf("r=10: groups %+v, want the zigzag of 8 as a clump", gs)
	}
	if gs := qa.FindGroups(pts, qa.SpatialConfig{K: 5, Radius: 8, Line: -1}); len(gs) != 0 {
		t.Errorf("r=8: groups %+v, want none", gs)
	}
}

// A streak: 12 candidates 60" apart along a great circle across two
// units, each within 0.3" of it, is one line of more than 8; a candidate
// 2" off the line and one 200" past its end (beyond the gap) stay out.
func TestStreak(t *testing.T) {
	base := field(300, 200, -30)
	var line []qa.Point
	for i := range 12 {
		a, d := offsetBy(200.1, -30.1, float64(i)*60*0.8, float64(i)*60*0.6+0.3*math.Sin(float64(i)))
		line = append(line, qa.Point{ID: int64(5000 + i), RA: a, Dec: d, Unit: int32(7 + i/6), X: float32(i * 100), Y: float32(i * 50)})
	}
	offLine := func(id int64, along, across float64) qa.Point {
		a, d := offsetBy(200.1, -30.1, along*0.8-across*0.6, along*0.6+across*0.8)
		return qa.Point{ID: id, RA: a, Dec: d, Unit: 3}
	}
	pts := append(slices.Clone(base), line...)
	pts = append(pts, offLine(6000, 150, 2), offLine(6001, 11*60+200, 0))
	gs := qa.FindGroups(pts, qa.SpatialConfig{Line: 8, Width: 1, Gap: 120})
	if len(gs) != 1 {
		t.Fatalf("groups %+v, want the streak", gs)
	}
	g := gs[0]
	if g.Kind != qa.KindStreak || !slices.Equal(ids(g), span64(5000, 5012)) || g.Threshold != 8 || !slices.Equal(g.Units, []int32{7, 8}) {
		t.Errorf("streak %+v", g)
	}
	if math.Abs(g.Length-660) > 1 || g.Width > 0.6 {
		t.Errorf("streak length %.2f width %.2f arcsec, want 660 and at most 0.6", g.Length, g.Width)
	}
	a0, d0 := offsetBy(200.1, -30.1, 0, 0)
	if e := g.Ends[0]; math.Abs(e.RA-a0)*3600*math.Cos(30*math.Pi/180) > 1 || math.Abs(e.Dec-d0)*3600 > 1 {
		t.Errorf("streak starts at %+v, want (%.6f, %.6f)", e, a0, d0)
	}
	// Without line finding the 60" spacing is no clump.
	if gs := qa.FindGroups(pts, qa.SpatialConfig{Line: -1}); len(gs) != 0 {
		t.Errorf("line=off: %+v", gs)
	}
	// Two streaks crossing are two lines.
	var cross []qa.Point
	for i := range 12 {
		a, d := offsetBy(200.1, -30.1, 330*0.8+(float64(i)-5.5)*60*0.6, 330*0.6-(float64(i)-5.5)*60*0.8)
		cross = append(cross, qa.Point{ID: int64(7000 + i), RA: a, Dec: d, Unit: 9})
	}
	gs = qa.FindGroups(append(slices.Clone(pts), cross...), qa.SpatialConfig{Line: 8, Width: 1, Gap: 120})
	if len(gs) != 2 || !slices.Equal(ids(gs[0]), span64(5000, 5012)) || !slices.Equal(ids(gs[1]), span64(7000, 7012)) {
		t.Errorf("crossing streaks: %+v", gs)
	}
}

// A bleed trail: candidates along one pixel column of one unit, 3" apart
// on both sides of a star; the same line on several units, or slanted
// across the columns, is a streak.
func TestBleedTrail(t *testing.T) {
	trail := func(unit func(int) int32, slant float32) []qa.Point {
		var out []qa.Point
		for i := range 10 {
			m := float64(i/2 + 1)
			if i%2 == 1 {
				m = -m
			}
			a, d := offsetBy(10, 45, 0.1*math.Sin(float64(i)), 3*m)
			out = append(out, qa.Point{ID: int64(1000 + i), RA: a, Dec: d, Unit: unit(i),
				X: 1500 + 0.1*float32(math.Sin(float64(i))) + slant*float32(m), Y: 2000 + 3*float32(m)})
		}
		return out
	}
	one := func(int) int32 { return 12 }
	gs := qa.FindGroups(append(field(100, 10, 45), trail(one, 0)...), qa.SpatialConfig{})
	if len(gs) != 1 || gs[0].Kind != qa.KindBleedTrail || !slices.Equal(ids(gs[0]), span64(1000, 1010)) || !slices.Equal(gs[0].Units, []int32{12}) {
		t.Fatalf("groups %+v, want the trail", gs)
	}
	if gs := qa.FindGroups(trail(func(i int) int32 { return int32(12 + i%2) }, 0), qa.SpatialConfig{}); len(gs) != 1 || gs[0].Kind != qa.KindStreak {
		t.Errorf("a trail over two units: %+v, want a streak", gs)
	}
	if gs := qa.FindGroups(trail(one, 1), qa.SpatialConfig{}); len(gs) != 1 || gs[0].Kind != qa.KindStreak {
		t.Errorf("a slanted trail: %+v, want a streak", gs)
	}
}

// The groups depend on the set of points only: shuffled, with ids
// repeated, across RA 0 or at the pole, the answer is the same.
func TestGroupsOrderIndependent(t *testing.T) {
	for _, at := range []struct{ ra, dec float64 }{{0.001, 10}, {359.999, -10}, {120, 89.99}} {
		var pts []qa.Point
		for i := range 8 {
			a, d := offsetBy(at.ra, at.dec, 4*math.Cos(float64(i)), 4*math.Sin(float64(i)))
			pts = append(pts, qa.Point{ID: int64(10 + i), RA: a, Dec: d, Unit: -1})
		}
		for i := range 12 {
			a, d := offsetBy(at.ra, at.dec, 300+float64(i)*40, 200)
			pts = append(pts, qa.Point{ID: int64(100 + i), RA: a, Dec: d, Unit: int32(i)})
		}
		want := qa.FindGroups(pts, qa.SpatialConfig{})
		if len(want) != 2 || want[0].Kind != qa.KindClump || want[1].Kind != qa.KindStreak ||
			!slices.Equal(want[0].Members, span64(10, 18)) || !slices.Equal(want[1].Members, span64(100, 112)) {
			t.Fatalf("at %+v: groups %+v, want a clump of 8 and a streak of 12", at, want)
		}
		r := rand.New(rand.NewPCG(3, 4))
		for range 5 {
			shuffled := slices.Clone(pts)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			shuffled = append(shuffled, shuffled[:5]...) // delivered twice
			if got := qa.FindGroups(shuffled, qa.SpatialConfig{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("at %+v: shuffled input gives %+v, want %+v", at, got, want)
			}
		}
	}
	if gs := qa.FindGroups(nil, qa.SpatialConfig{}); len(gs) != 0 {
		t.Errorf("no points: %+v", gs)
	}
}

// simPoint is what QA decodes of a generated alert.
func simPoint(g sim.Generated) qa.Point {
	if g.ZTF != nil {
		c := g.ZTF.Candidate
		return qa.Point{ID: g.ZTF.Candid, RA: c.RA, Dec: c.Dec, Unit: int32(*c.Rcid), X: *c.Xpos, Y: *c.Ypos}
	}
	d := g.LSST.DiaSource
	return qa.Point{ID: d.DiaSourceID, RA: d.RA, Dec: d.Dec, Unit: int32(d.Detector), X: d.X, Y: d.Y}
}

// On generated ZTF exposures (several seeds), the spatial core finds
// exactly the injected bleed trails and streaks, with their kinds, and
// nothing in clean or rate-spiked exposures.
func TestGroupsOnGeneratedExposures(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		cfg := sim.Defaults(sim.SurveyZTF)
		cfg.Seed, cfg.Night, cfg.NoCutouts, cfg.Visits = seed, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), true, 4
		cfg.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 1, N: 12}, sim.Streak{Visit: 2, N: 100}, sim.RateSpike{Visit: 3, Factor: 5}}
		g := simtest.New(t, cfg)
		for v := range cfg.Visits {
			var pts []qa.Point
			want := map[string][]int64{}
			for _, a := range g.Visit(v) {
				p := simPoint(a)
				pts = append(pts, p)
				if a.Artefact == sim.ArtefactBleedTrail || a.Artefact == sim.ArtefactStreak {
					want[a.Artefact] = append(want[a.Artefact], p.ID)
				}
			}
			got := map[string][]int64{}
			for _, gr := range qa.FindGroups(pts, qa.SpatialConfig{Width: 0.6}) {
				if got[gr.Kind] != nil {
					t.Errorf("seed %d visit %d: two %s groups", seed, v, gr.Kind)
				}
				got[gr.Kind] = gr.Members
			}
			for k := range want {
				slices.Sort(want[k])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("seed %d visit %d: groups %v, want %v", seed, v, got, want)
			}
		}
	}
}
