package sim

import (
	"math"
	"math/rand/v2"
	"sort"
)

// camera describes where the units an alert refers to (a ZTF readout
// quadrant, a Rubin detector) sit in the focal plane.
type camera struct {
	fp           focalPlane
	units        int     // 64 quadrants, 189 detectors
	unitW, unitH float64 // pixels
	ccds         int     // CCDs a streak may cross
	ccdW, ccdH   float64
}

var (
	// ZTF: 16 CCDs of 6144x6160 pixels in a 4x4 mosaic, 1.01"/pixel, each
	// read out in four 3072x3080 quadrants: rcid = 4*(ccd-1) + (q-1).
	ztfCamera = camera{
		fp:    focalPlane{cols: 4, rows: 4, detW: 6144, detH: 6160, gap: 150, scale: 1.012},
		units: 64, unitW: 3072, unitH: 3080,
		ccds: 16, ccdW: 6144, ccdH: 6160,
	}
	// Rubin: 21 rafts of 3x3 4072x4000 detectors in a 5x5 grid without its
	// corners, 0.2"/pixel; detector = 9*raft + 3*sensorRow + sensorCol.
	lsstCamera = camera{
		fp:    focalPlane{cols: 15, rows: 15, detW: 4072, detH: 4000, gap: 30, scale: 0.2},
		units: 189, unitW: 4072, unitH: 4000,
		ccds: 189, ccdW: 4072, ccdH: 4000,
	}
)

// ZTF quadrant numbers q (1..4) by position within the CCD: q1 top right,
// q2 top left, q3 bottom left, q4 bottom right.
var ztfQuadOf = [2][2]int{{3, 4}, {2, 1}} // [qy][qx]

// place returns the mosaic cell of a unit and the unit's origin within
// its CCD.
func (c camera) place(unit int) (col, row int, ox, oy float64) {
	if c.units == 64 {
		ccd, q := unit/4, unit%4+1
		for qy := range 2 {
			for qx := range 2 {
				if ztfQuadOf[qy][qx] == q {
					ox, oy = float64(qx)*c.unitW, float64(qy)*c.unitH
				}
			}
		}
		return ccd % 4, ccd / 4, ox, oy
	}
	raft, sensor := unit/9, unit%9
	rx, ry := lsstRaft(raft)
	return rx*3 + sensor%3, ry*3 + sensor/3, 0, 0
}

// lsstRaft maps a raft index to its place in the 5x5 grid, skipping the
// corners where Rubin has wavefront sensors instead.
func lsstRaft(raft int) (rx, ry int) {
	k := 0
	for ry = range 5 {
		for rx = range 5 {
			if (rx == 0 || rx == 4) && (ry == 0 || ry == 4) {
				continue
			}
			if k == raft {
				return rx, ry
			}
			k++
		}
	}
	panic("sim: raft index out of range")
}

// fromCCD turns a position on CCD ccd into the unit and the position in it.
func (c camera) fromCCD(ccd int, x, y float64) (unit int, ux, uy float64) {
	if c.units == 64 {
		qx, qy := 0, 0
		if x >= c.unitW {
			qx = 1
		}
		if y >= c.unitH {
			qy = 1
		}
		return ccd*4 + ztfQuadOf[qy][qx] - 1, x - float64(qx)*c.unitW, y - float64(qy)*c.unitH
	}
	return ccd, x, y
}

// sky is where pixel (x, y) of a unit looks when the camera points at f.
func (c camera) sky(f field, unit int, x, y float64) (ra, dec float64) {
	col, row, ox, oy := c.place(unit)
	xi, eta := c.fp.offset(col, row, ox+x, oy+y)
	return fromTangent(f.ra, f.dec, xi, eta)
}

func (g *Generator) camera() camera {
	if g.cfg.Survey == SurveyZTF {
		return ztfCamera
	}
	return lsstCamera
}

type kind uint8

const (
	kindTransient kind = iota // supernova-like, offset from a host galaxy
	kindVariable              // variable star
	kindNuclear               // nuclear (AGN) variability
	kindHostless              // nothing in the reference image
	kindAsteroid              // known solar-system object
	kindBogus                 // subtraction artefact, cosmic ray, ghost
)

// object is one source on the sky. Its constant properties (catalogue
// counterparts, history before tonight) are drawn from its seed whenever
// they are needed, so only the seed and tonight's detections are stored.
type object struct {
	seed   uint64
	kind   kind
	known  bool // detected on earlier nights
	serial int  // numbering for the name
	ra     float64
	dec    float64
	unit   int
	x, y   float64
	// star is the saturated star beside a bleed trail: offset in pixels
	// and magnitude.
	starDX, starDY, starMag float64
	dets                    []*detection
	lastVisit               int
}

// detection is one alert's drawn state; everything else in the alert is
// derived from it deterministically.
type detection struct {
	visit    *visitPlan
	obj      *object
	hist     int // detections of obj before this one tonight
	unit     int
	x, y     float64
	ra, dec  float64
	index    int   // within the unit (ZTF tblid) or the visit (Rubin)
	id       int64 // candid, diaSourceId
	img      *imageParams
	snr      float64 // |flux| / sky noise of a point source
	flux     float64 // DN (ZTF) or nJy (Rubin), negative when it faded
	bogus    bool
	fail     int // purity cut failed: -1 none, 0..4 one cut, 5 bogus
	artefact string
	// lineAngle is the direction of a trail or streak through the stamp
	// (radians from the +y axis); NaN when there is none.
	lineAngle float64
}

// detectedOn is o's detection, real and passing the cuts, on an earlier
// epoch's image im (unit is its CCD or detector, index its place there);
// snr is signed, negative when the source had faded below the template.
func (o *object) detectedOn(im *imageParams, unit, index int, snr float64) *detection {
	return &detection{
		obj: o, unit: unit, x: o.x, y: o.y, ra: o.ra, dec: o.dec,
		index: index, img: im, snr: math.Abs(snr), flux: snr * im.skyNoise, fail: -1, lineAngle: math.NaN(),
	}
}

type nightState struct {
	pools   map[int][]*object // recurrable objects by field
	objects int               // objects created tonight, for names
}

func newNightState() *nightState {
	return &nightState{pools: map[int][]*object{}}
}

// detect draws visit i's detections and updates the night's objects.
func (g *Generator) detect(i int) []*detection {
	c, p, cam := g.cfg, g.plan[i], g.camera()
	r := g.rng(streamVisit, uint64(i))
	imgs := make([]*imageParams, cam.units)
	image := func(unit int) *imageParams {
		if imgs[unit] == nil {
			imgs[unit] = g.visitImage(p, unit)
		}
		return imgs[unit]
	}
	pool := g.night.pools[p.field.id]
	dets := make([]*detection, 0, p.count())
	label := ""
	if p.spike > 1 {
		label = ArtefactRateSpike
	}

	for range p.base * p.spike {
		d := &detection{visit: p, artefact: label, fail: -1, lineAngle: math.NaN()}
		var o *object
		switch {
		case r.Float64() < c.AsteroidFraction:
			o = g.newObject(r, kindAsteroid)
		case r.Float64() < c.BogusFraction:
			o = g.newObject(r, kindBogus)
			d.bogus = true
		default:
			if len(pool) > 0 && r.Float64() < c.RecurFraction {
				// A few tries to find an object not already detected in
				// this exposure; a crowded pool rarely needs more.
				for range 4 {
					if cand := pool[r.IntN(len(pool))]; cand.lastVisit != i {
						o = cand
						break
					}
				}
			}
			if o == nil {
				o = g.newRealObject(r)
			}
		}
		if o.dets == nil && o.kind != kindAsteroid && o.kind != kindBogus {
			pool = append(pool, o)
		}
		if o.dets == nil {
			o.unit = r.IntN(cam.units)
			o.x = 20 + r.Float64()*(cam.unitW-40)
			o.y = 20 + r.Float64()*(cam.unitH-40)
			o.ra, o.dec = cam.sky(p.field, o.unit, o.x, o.y)
		}
		g.attach(r, d, o, image(o.unit))
		dets = append(dets, d)
	}
	for _, a := range p.trails {
		dets = append(dets, g.artefactDetections(r, p, a, image)...)
	}
	if p.lastOfFld {
		delete(g.night.pools, p.field.id)
	} else {
		g.night.pools[p.field.id] = pool
	}

	// Alerts leave the pipeline unit by unit; keep draw order within one.
	sort.SliceStable(dets, func(a, b int) bool { return dets[a].unit < dets[b].unit })
	perUnit := make([]int, cam.units)
	for k, d := range dets {
		if c.Survey == SurveyZTF {
			d.index = perUnit[d.unit]
			perUnit[d.unit]++
			d.id = d.img.pid*1_000_000 + int64(d.index)
		} else {
			d.index = k
			d.id = lsstVisitID(c.Night, i)<<22 | int64(k)
		}
	}
	return dets
}

// attach fills a detection of object o on image img: position with
// astrometric scatter, flux, quality class.
func (g *Generator) attach(r *rand.Rand, d *detection, o *object, img *imageParams) {
	cam := g.camera()
	d.obj, d.img, d.unit = o, img, o.unit
	d.hist = len(o.dets)
	o.dets = append(o.dets, d)
	o.lastVisit = d.visit.index

	// Flux: a power law in S/N above the 5-sigma threshold (most alerts
	// are faint), capped where the survey saturates; a recurrence varies
	// around its earlier flux.
	maxSNR := math.Pow(10, 0.4*(img.depth-g.brightLimit())) * 5
	var s float64
	if d.hist > 0 {
		prev := o.dets[d.hist-1]
		s = math.Abs(prev.flux) / img.skyNoise * math.Exp(0.15*r.NormFloat64())
	} else {
		s = 5 / (1 - r.Float64())
	}
	d.snr = clamp(s, 5, maxSNR)
	d.flux = d.snr * img.skyNoise
	if r.Float64() < negativeFraction[o.kind] {
		d.flux = -d.flux
	}

	// Centroid scatter grows as S/N falls.
	sigma := (0.05 + 0.5*img.seeing/d.snr) / cam.fp.scale
	d.x = clamp(o.x+sigma*r.NormFloat64(), 0.5, cam.unitW-0.5)
	d.y = clamp(o.y+sigma*r.NormFloat64(), 0.5, cam.unitH-0.5)
	d.ra, d.dec = cam.sky(d.visit.field, o.unit, d.x, d.y)

	if o.kind == kindBogus {
		d.bogus = true
		d.fail = 5
		if r.Float64() < PurityPassBogus {
			d.fail = -1
		}
	} else if r.Float64() >= PurityPassReal {
		d.fail = r.IntN(5)
	}
}

// pastDetection draws whether an epoch before tonight detected o (a known
// object, six times in ten) and, if so, its signed S/N.
func pastDetection(r *rand.Rand, o *object) (bool, float64) {
	if !o.known || r.Float64() >= 0.6 {
		return false, 0
	}
	snr := 5 / (1 - 0.9*r.Float64())
	if r.Float64() < negativeFraction[o.kind] {
		snr = -snr
	}
	return true, snr
}

// negativeFraction is how often each kind of source is fainter than in
// the template (isdiffpos 'f', isNegative).
var negativeFraction = [...]float64{
	kindTransient: 0.02, kindVariable: 0.5, kindNuclear: 0.35,
	kindHostless: 0.05, kindAsteroid: 0, kindBogus: 0.4,
}

func (g *Generator) brightLimit() float64 {
	if g.cfg.Survey == SurveyZTF {
		return 14
	}
	return 16.5
}

func (g *Generator) newRealObject(r *rand.Rand) *object {
	u := r.Float64()
	if r.Float64() < g.cfg.KnownFraction {
		k := kindVariable
		if u < 0.3 {
			k = kindNuclear
		}
		o := g.newObject(r, k)
		o.known = true
		return o
	}
	switch {
	case u < 0.6:
		return g.newObject(r, kindTransient)
	case u < 0.85:
		return g.newObject(r, kindVariable)
	default:
		return g.newObject(r, kindHostless)
	}
}

func (g *Generator) newObject(r *rand.Rand, k kind) *object {
	o := &object{seed: r.Uint64(), kind: k, lastVisit: -1}
	g.night.objects++
	o.serial = g.night.objects
	return o
}

// artefactDetections lays out a bleed trail or a streak.
func (g *Generator) artefactDetections(r *rand.Rand, p *visitPlan, a Artefact, image func(int) *imageParams) []*detection {
	cam := g.camera()
	scale := cam.fp.scale
	var dets []*detection
	add := func(unit int, x, y, angle float64) *detection {
		o := g.newObject(r, kindBogus)
		o.unit, o.x, o.y = unit, x, y
		o.ra, o.dec = cam.sky(p.field, unit, x, y)
		img := image(unit)
		d := &detection{
			visit: p, obj: o, unit: unit, x: x, y: y, ra: o.ra, dec: o.dec, img: img,
			bogus: true, fail: 5, artefact: a.Kind(), lineAngle: angle,
		}
		o.dets = []*detection{d}
		o.lastVisit = p.index
		d.snr = 6 + 30*r.Float64()
		d.flux = d.snr * img.skyNoise
		dets = append(dets, d)
		return d
	}
	switch t := a.(type) {
	case BleedTrail:
		spacing := math.Min(2.5+1.5*r.Float64(), 0.8*cam.unitH*scale/float64(t.N)) / scale
		half := float64(t.N/2+1) * spacing
		unit := r.IntN(cam.units)
		sx := 50 + r.Float64()*(cam.unitW-100)
		sy := half + 10 + r.Float64()*math.Max(0, cam.unitH-2*half-20)
		mag := 9 + 2.5*r.Float64()
		for k := range t.N {
			// Alternate above and below the star, as charge bleeds both
			// ways along the column.
			m := float64(k/2 + 1)
			if k%2 == 1 {
				m = -m
			}
			x := sx + (r.Float64()-0.5)*0.6/scale
			y := sy + m*spacing
			d := add(unit, x, y, 0)
			d.obj.starDX, d.obj.starDY, d.obj.starMag = sx-x, sy-y, mag
		}
	case Streak:
		ccd := r.IntN(cam.ccds)
		// A chord through a point near the CCD's centre at a random angle,
		// clipped to the CCD with a margin.
		cx := cam.ccdW/2 + (r.Float64()-0.5)*cam.ccdW/4
		cy := cam.ccdH/2 + (r.Float64()-0.5)*cam.ccdH/4
		th := r.Float64() * math.Pi
		dx, dy := math.Sin(th), math.Cos(th)
		lo, hi := chord(cx, cy, dx, dy, 20, cam.ccdW-20, cam.ccdH-20)
		for k := range t.N {
			s := lo + (hi-lo)*(float64(k)+0.5)/float64(t.N)
			off := (r.Float64() - 0.5) * 0.8 / scale
			x, y := cx+s*dx+off*dy, cy+s*dy-off*dx
			unit, ux, uy := cam.fromCCD(ccd, x, y)
			add(unit, ux, uy, th)
		}
	}
	return dets
}

// chord returns the parameter range of the line (cx,cy)+s*(dx,dy) inside
// the box [m, w] x [m, h].
func chord(cx, cy, dx, dy, m, w, h float64) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	clip := func(p, d, a, b float64) {
		if math.Abs(d) < 1e-12 {
			return
		}
		s1, s2 := (a-p)/d, (b-p)/d
		if s1 > s2 {
			s1, s2 = s2, s1
		}
		lo, hi = math.Max(lo, s1), math.Min(hi, s2)
	}
	clip(cx, dx, m, w)
	clip(cy, dy, m, h)
	return lo, hi
}
