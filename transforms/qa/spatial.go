package qa

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// Kinds of spatial groups (Group.Kind, Flag.Kind).
const (
	KindClump      = "clump"       // candidates close together
	KindBleedTrail = "bleed-trail" // a line along a CCD column of one readout unit
	KindStreak     = "streak"      // any other line: a great circle, as a satellite leaves
)

// Point is what QA knows of one alert: the small record it groups by
// exposure, instead of the packet.
type Point struct {
	ID      int64
	RA, Dec float64 // degrees
	// Unit is the readout unit the pixel position refers to: ZTF rcid
	// (0-63), LSST detector; -1 when unknown.
	Unit int32
	X, Y float32 // pixel position on Unit; NaN when unknown
	SNR  float64 // alert.Packet.SNR
	// Time is the observation time (Unix nanoseconds), the same for every
	// alert of an exposure.
	Time int64
}

// Sky is a position in degrees.
type Sky struct {
	RA, Dec float64
}

// Group is a set of candidates of one exposure that the spatial check
// found together.
type Group struct {
	Kind    string  // KindClump, KindBleedTrail or KindStreak
	Members []int64 // alert ids, ascending
	// Centre is the members' mean direction; Radius the largest distance
	// of a member from it (arcsec).
	Centre Sky
	Radius float64
	// Lines only (bleed trails and streaks): the ends of the fitted line
	// at the outermost members, its length, and the largest distance of a
	// member from it (arcsec).
	Ends   [2]Sky
	Length float64
	Width  float64
	// Units are the readout units the members lie on, ascending.
	Units []int32
	// Threshold is the size the group is over: cfg.Line for a line found
	// by line finding, cfg.K for a friends-of-friends group.
	Threshold int
}

// FindGroups looks for the groups cfg describes among the candidates of
// one exposure: lines first (more than cfg.Line candidates within
// cfg.Width of one great circle, no more than cfg.Gap apart along it),
// then, among the rest, clumps (friends-of-friends with linking length
// cfg.Radius, more than cfg.K members). A clump that is itself straight
// (every member within cfg.Width of its fitted line, and longer than four
// widths) is reported as a line. A line is a bleed trail when all its
// members lie on one readout unit along a pixel column (x within 2
// widths), a streak otherwise.
//
// The result depends only on the set of points, not their order: points
// are taken in id order (a repeated id counts once) and groups are
// returned ordered by their lowest id.
func FindGroups(pts []Point, cfg SpatialConfig) []Group {
	cfg = cfg.withDefaults()
	s := newSky(pts)
	n := len(s.pts)
	taken := make([]bool, n)
	var groups [][]int32
	var limits []int
	if cfg.lines() && n > cfg.Line {
		for _, line := range s.findLines(cfg, taken) {
			groups = append(groups, line)
			limits = append(limits, cfg.Line)
		}
	}
	free := make([]bool, n)
	for i := range free {
		free[i] = !taken[i]
	}
	for _, c := range s.friends(cfg.Radius, free) {
		if len(c) > cfg.K {
			groups = append(groups, c)
			limits = append(limits, cfg.K)
		}
	}
	out := make([]Group, 0, len(groups))
	for i, g := range groups {
		d := s.describe(g, cfg)
		d.Threshold = limits[i]
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Members[0] < out[j].Members[0] })
	return out
}

// skyPoints are one exposure's points in id order with their unit vectors
// and tangent-plane positions.
type skyPoints struct {
	pts    []Point
	u      []vec
	xs, ys []float64
	plane  tangent
	// mark and gen tag the members of the line being grown.
	mark []uint32
	gen  uint32
}

func newSky(in []Point) *skyPoints {
	pts := slices.Clone(in)
	slices.SortFunc(pts, func(a, b Point) int { return cmp.Compare(a.ID, b.ID) })
	pts = slices.CompactFunc(pts, func(a, b Point) bool { return a.ID == b.ID })
	s := &skyPoints{pts: pts, u: make([]vec, len(pts)), xs: make([]float64, len(pts)), ys: make([]float64, len(pts)),
		mark: make([]uint32, len(pts))}
	var sum vec
	for i, p := range pts {
		s.u[i] = unitVec(p.RA, p.Dec)
		sum = sum.add(s.u[i])
	}
	if len(pts) == 0 || sum.norm() == 0 {
		sum = vec{1, 0, 0}
	}
	s.plane = newTangent(sum.unit())
	for i := range pts {
		s.xs[i], s.ys[i] = s.plane.project(s.u[i])
	}
	return s
}

// friends returns the friends-of-friends groups (linking length r arcsec,
// exact spherical distances) among the points marked in use, each
// ascending, ordered by their first index.
func (s *skyPoints) friends(r float64, use []bool) [][]int32 {
	parent := make([]int32, len(s.pts))
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	g := newGrid(s.xs, s.ys, use, r)
	// The grid is on the tangent plane, where distances grow away from the
	// centre (by under 1% within 5 degrees); search a little wider and
	// decide on the sphere.
	reach := r * 1.02
	limit := chordOf(r)
	for i := range s.pts {
		if !use[i] {
			continue
		}
		g.near(s.xs[i], s.ys[i], reach, func(j int32) bool {
			if int(j) > i && s.u[i].chord2(s.u[j]) <= limit {
				a, b := find(int32(i)), find(j)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			}
			return true
		})
	}
	byRoot := map[int32][]int32{}
	var roots []int32
	for i := range s.pts {
		if !use[i] {
			continue
		}
		r := find(int32(i))
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], int32(i))
	}
	out := make([][]int32, 0, len(roots))
	for _, r := range roots {
		out = append(out, byRoot[r])
	}
	return out
}

// findLines grows lines from pairs of free points no more than cfg.Gap
// apart, closest pairs first (ties by index), so that the densest lines
// set their direction before stray points can, and keeps those of more
// than cfg.Line members, marking them taken.
func (s *skyPoints) findLines(cfg SpatialConfig, taken []bool) [][]int32 {
	// Every point's neighbours within the gap, ascending: what growing a
	// line looks at, again and again.
	g := newGrid(s.xs, s.ys, nil, cfg.Gap)
	adj := make([][]int32, len(s.pts))
	type pair struct {
		d    float64
		i, j int32
	}
	var pairs []pair
	for i := range s.pts {
		g.near(s.xs[i], s.ys[i], cfg.Gap, func(j int32) bool {
			if int(j) != i {
				if d := math.Hypot(s.xs[j]-s.xs[i], s.ys[j]-s.ys[i]); d <= cfg.Gap {
					adj[i] = append(adj[i], j)
					if int(j) > i {
						pairs = append(pairs, pair{d, int32(i), j})
					}
				}
			}
			return true
		})
		slices.Sort(adj[i])
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		switch {
		case a.d != b.d:
			return cmp.Compare(a.d, b.d)
		case a.i != b.i:
			return cmp.Compare(a.i, b.i)
		}
		return cmp.Compare(a.j, b.j)
	})
	var lines [][]int32
	for _, p := range pairs {
		if taken[p.i] || taken[p.j] {
			continue
		}
		if line := s.grow(adj, p.i, p.j, cfg, taken); len(line) > cfg.Line {
			for _, k := range line {
				taken[k] = true
			}
			lines = append(lines, line)
		}
	}
	return s.merge(adj, lines, cfg, taken)
}

// merge joins lines that are pieces of one (a stray point near a line can
// start a slightly tilted piece of it): two lines merge when settling
// their union gives a line longer than either. Points the merged line
// leaves out are free again.
func (s *skyPoints) merge(adj [][]int32, lines [][]int32, cfg SpatialConfig, taken []bool) [][]int32 {
	setTaken := func(ks []int32, v bool) {
		for _, k := range ks {
			taken[k] = v
		}
	}
	for merged := true; merged; {
		merged = false
		for a := 0; a < len(lines) && !merged; a++ {
			for b := a + 1; b < len(lines) && !merged; b++ {
				union := append(slices.Clone(lines[a]), lines[b]...)
				setTaken(union, false)
				m := s.settle(adj, union, cfg, taken)
				if len(m) > max(len(lines[a]), len(lines[b])) {
					setTaken(m, true)
					lines[a] = m
					lines = slices.Delete(lines, b, b+1)
					merged = true
				} else {
					setTaken(union, true)
				}
			}
		}
	}
	return lines
}

// grow extends the line through points i and j: repeatedly, at each end,
// the nearest free neighbour (within cfg.Gap) beyond it along the line,
// within the width of the line fitted so far (twice the width while the
// line has fewer than four points, whose direction is still rough). A
// line of more than cfg.Line points is then settled. adj lists every
// point's neighbours within cfg.Gap.
func (s *skyPoints) grow(adj [][]int32, i, j int32, cfg SpatialConfig, taken []bool) []int32 {
	s.gen++
	gen := s.gen
	var f lineFit
	members := []int32{i, j}
	for _, k := range members {
		s.mark[k] = gen
		f.add(s.xs[k], s.ys[k])
	}
	lo, hi := i, j
	for {
		cx, cy, dx, dy := f.line()
		along := func(k int32) float64 { return (s.xs[k]-cx)*dx + (s.ys[k]-cy)*dy }
		across := func(k int32) float64 { return math.Abs((s.ys[k]-cy)*dx - (s.xs[k]-cx)*dy) }
		if along(hi) < along(lo) {
			lo, hi = hi, lo
		}
		tol := cfg.Width
		if f.n < 4 {
			tol *= 2
		}
		next := func(end int32, dir float64) int32 {
			best, bestD := int32(-1), math.Inf(1)
			a0 := along(end)
			for _, k := range adj[end] {
				if taken[k] || s.mark[k] == gen {
					continue
				}
				if d := (along(k) - a0) * dir; d > 0 && d < bestD && across(k) <= tol {
					best, bestD = k, d
				}
			}
			return best
		}
		up, down := next(hi, 1), next(lo, -1)
		if up < 0 && down < 0 {
			break
		}
		for _, k := range []int32{up, down} {
			if k >= 0 && s.mark[k] != gen {
				s.mark[k] = gen
				members = append(members, k)
				f.add(s.xs[k], s.ys[k])
			}
		}
		if up >= 0 {
			hi = up
		}
		if down >= 0 {
			lo = down
		}
	}
	if len(members) <= cfg.Line {
		return nil
	}
	return s.settle(adj, members, cfg, taken)
}

// settle turns a grown line into the line its members agree on: it fits
// the members, then takes every free point within cfg.Width of the fit
// that is connected to them through such points no more than cfg.Gap
// apart, and repeats until the members stop changing (a stray point that
// helped start the line falls out once the fit follows the majority).
// Of the result it keeps the longest run without a gap over cfg.Gap along
// the line (the one with the lowest index on a tie), ascending.
func (s *skyPoints) settle(adj [][]int32, members []int32, cfg SpatialConfig, taken []bool) []int32 {
	var along func(int32) float64
	for range 8 {
		var f lineFit
		for _, k := range members {
			f.add(s.xs[k], s.ys[k])
		}
		cx, cy, dx, dy := f.line()
		along = func(k int32) float64 { return (s.xs[k]-cx)*dx + (s.ys[k]-cy)*dy }
		across := func(k int32) float64 { return math.Abs((s.ys[k]-cy)*dx - (s.xs[k]-cx)*dy) }
		s.gen++
		gen := s.gen
		var next []int32
		for _, k := range members {
			if across(k) <= cfg.Width {
				s.mark[k] = gen
				next = append(next, k)
			}
		}
		for q := 0; q < len(next); q++ {
			for _, j := range adj[next[q]] {
				if !taken[j] && s.mark[j] != gen && across(j) <= cfg.Width {
					s.mark[j] = gen
					next = append(next, j)
				}
			}
		}
		slices.Sort(next)
		same := slices.Equal(next, members)
		members = next
		if same || len(members) < 2 {
			break
		}
	}
	sort.Slice(members, func(a, b int) bool {
		if along(members[a]) != along(members[b]) {
			return along(members[a]) < along(members[b])
		}
		return members[a] < members[b]
	})
	var best []int32
	start := 0
	for k := 1; k <= len(members); k++ {
		if k == len(members) || along(members[k])-along(members[k-1]) > cfg.Gap {
			run := members[start:k]
			if len(run) > len(best) || len(run) == len(best) && slices.Min(run) < slices.Min(best) {
				best = run
			}
			start = k
		}
	}
	best = slices.Clone(best)
	slices.Sort(best)
	return best
}

// describe measures a group and names its kind.
func (s *skyPoints) describe(members []int32, cfg SpatialConfig) Group {
	g := Group{Kind: KindClump, Members: make([]int64, len(members))}
	var sum vec
	var f lineFit
	units := map[int32]bool{}
	for i, k := range members {
		g.Members[i] = s.pts[k].ID
		sum = sum.add(s.u[k])
		f.add(s.xs[k], s.ys[k])
		units[s.pts[k].Unit] = true
	}
	slices.Sort(g.Members)
	c := sum.unit()
	g.Centre.RA, g.Centre.Dec = c.radec()
	for _, k := range members {
		g.Radius = max(g.Radius, sep(c, s.u[k]))
	}
	for u := range units {
		g.Units = append(g.Units, u)
	}
	slices.Sort(g.Units)

	cx, cy, dx, dy := f.line()
	lo, hi := math.Inf(1), math.Inf(-1)
	width := 0.0
	for _, k := range members {
		a := (s.xs[k]-cx)*dx + (s.ys[k]-cy)*dy
		lo, hi = min(lo, a), max(hi, a)
		width = max(width, math.Abs((s.ys[k]-cy)*dx-(s.xs[k]-cx)*dy))
	}
	// Straight: every member within the width, and longer than wide.
	if width > cfg.Width || hi-lo <= 4*cfg.Width {
		return g
	}
	g.Kind = KindStreak
	if s.column(members, cfg.Width, hi-lo) {
		g.Kind = KindBleedTrail
	}
	for i, a := range []float64{lo, hi} {
		v := s.plane.unproject(cx+a*dx, cy+a*dy)
		g.Ends[i].RA, g.Ends[i].Dec = v.radec()
	}
	g.Length = sep(s.plane.unproject(cx+lo*dx, cy+lo*dy), s.plane.unproject(cx+hi*dx, cy+hi*dy))
	g.Width = width
	return g
}

// column reports whether a straight group of the given length (arcsec)
// lies along one pixel column of one readout unit: its pixel x spread,
// turned into arcsec by the group's own scale, is within twice the width.
func (s *skyPoints) column(members []int32, width, length float64) bool {
	unit := s.pts[members[0]].Unit
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, k := range members {
		p := s.pts[k]
		if p.Unit != unit || unit < 0 || math.IsNaN(float64(p.X)) || math.IsNaN(float64(p.Y)) {
			return false
		}
		xlo, xhi = min(xlo, float64(p.X)), max(xhi, float64(p.X))
		ylo, yhi = min(ylo, float64(p.Y)), max(yhi, float64(p.Y))
	}
	if yhi <= ylo {
		return false
	}
	scale := length / (yhi - ylo) // arcsec per pixel, near enough for a column
	return (xhi-xlo)*scale <= 2*width
}
