package qa

import "math"

const (
	deg2rad      = math.Pi / 180
	rad2deg      = 180 / math.Pi
	arcsecPerRad = 180 * 3600 / math.Pi
)

// vec is a unit vector on the celestial sphere.
type vec [3]float64

func unitVec(ra, dec float64) vec {
	a, d := ra*deg2rad, dec*deg2rad
	return vec{math.Cos(d) * math.Cos(a), math.Cos(d) * math.Sin(a), math.Sin(d)}
}

func (v vec) dot(w vec) float64 { return v[0]*w[0] + v[1]*w[1] + v[2]*w[2] }

func (v vec) cross(w vec) vec {
	return vec{v[1]*w[2] - v[2]*w[1], v[2]*w[0] - v[0]*w[2], v[0]*w[1] - v[1]*w[0]}
}

func (v vec) add(w vec) vec        { return vec{v[0] + w[0], v[1] + w[1], v[2] + w[2]} }
func (v vec) scale(f float64) vec  { return vec{v[0] * f, v[1] * f, v[2] * f} }
func (v vec) norm() float64        { return math.Sqrt(v.dot(v)) }
func (v vec) unit() vec            { return v.scale(1 / v.norm()) }
func (v vec) chord2(w vec) float64 { d := v.add(w.scale(-1)); return d.dot(d) }

// radec returns the position of v in degrees, RA in [0, 360).
func (v vec) radec() (ra, dec float64) {
	ra = math.Atan2(v[1], v[0]) * rad2deg
	if ra < 0 {
		ra += 360
	}
	return ra, math.Asin(math.Max(-1, math.Min(1, v[2]))) * rad2deg
}

// sep is the angle between two unit vectors in arcsec, accurate at small
// separations (from the chord, not the dot product).
func sep(v, w vec) float64 {
	return 2 * math.Asin(math.Min(1, math.Sqrt(v.chord2(w))/2)) * arcsecPerRad
}

// chordOf is the chord length squared of an angle given in arcsec: two
// points are within the angle exactly when their chord is within it.
func chordOf(arcsec float64) float64 {
	c := 2 * math.Sin(math.Min(arcsec/arcsecPerRad, math.Pi)/2)
	return c * c
}

// tangent is the gnomonic projection at a centre: great circles project to
// straight lines, which is what line finding relies on. Coordinates are in
// arcsec, x towards the east and y towards the north.
type tangent struct{ c, e, n vec }

func newTangent(c vec) tangent {
	pole := vec{0, 0, 1}
	e := pole.cross(c)
	if e.norm() < 1e-12 { // at a pole any east will do
		e = vec{0, 1, 0}
	}
	e = e.unit()
	return tangent{c: c, e: e, n: c.cross(e)}
}

func (t tangent) project(u vec) (x, y float64) {
	cos := t.c.dot(u)
	if cos < 1e-9 { // the far hemisphere: not part of one exposure
		cos = 1e-9
	}
	return u.dot(t.e) / cos * arcsecPerRad, u.dot(t.n) / cos * arcsecPerRad
}

func (t tangent) unproject(x, y float64) vec {
	return t.c.add(t.e.scale(x / arcsecPerRad)).add(t.n.scale(y / arcsecPerRad)).unit()
}

// grid is the spatial index: points of the tangent plane hashed into
// square cells, so that the points within r of a position are found by
// looking at the cells the square of side 2r around it overlaps.
type grid struct {
	cell  float64
	cells map[[2]int32][]int32
}

func newGrid(xs, ys []float64, use []bool, cell float64) *grid {
	g := &grid{cell: cell, cells: make(map[[2]int32][]int32, len(xs)/2+1)}
	for i := range xs {
		if use != nil && !use[i] {
			continue
		}
		k := g.key(xs[i], ys[i])
		g.cells[k] = append(g.cells[k], int32(i))
	}
	return g
}

func (g *grid) key(x, y float64) [2]int32 {
	return [2]int32{int32(math.Floor(x / g.cell)), int32(math.Floor(y / g.cell))}
}

// near calls fn for every point in the cells within r of (x, y), cell by
// cell in a fixed order and by index within a cell, so that the visiting
// order depends only on the points. fn returns false to stop.
func (g *grid) near(x, y, r float64, fn func(j int32) bool) {
	lo, hi := g.key(x-r, y-r), g.key(x+r, y+r)
	for cx := lo[0]; cx <= hi[0]; cx++ {
		for cy := lo[1]; cy <= hi[1]; cy++ {
			for _, j := range g.cells[[2]int32{cx, cy}] {
				if !fn(j) {
					return
				}
			}
		}
	}
}

// lineFit accumulates the moments of points in the plane for a total
// least-squares line.
type lineFit struct{ n, sx, sy, sxx, sxy, syy float64 }

func (f *lineFit) add(x, y float64) {
	f.n++
	f.sx += x
	f.sy += y
	f.sxx += x * x
	f.sxy += x * y
	f.syy += y * y
}

// line returns the centroid and the unit direction of largest spread.
func (f *lineFit) line() (cx, cy, dx, dy float64) {
	cx, cy = f.sx/f.n, f.sy/f.n
	vxx := f.sxx/f.n - cx*cx
	vyy := f.syy/f.n - cy*cy
	vxy := f.sxy/f.n - cx*cy
	th := 0.5 * math.Atan2(2*vxy, vxx-vyy)
	return cx, cy, math.Cos(th), math.Sin(th)
}
