package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/lsst"
)

// Rubin's bands: how often the scheduler uses each, and a typical
// single-visit 5-sigma depth (SMTN-002 ballpark).
var lsstBands = []struct {
	name   string
	weight float64
	depth  float64
}{
	{"u", 0.07, 23.7}, {"g", 0.09, 24.9}, {"r", 0.22, 24.4},
	{"i", 0.22, 24.0}, {"z", 0.20, 23.4}, {"y", 0.20, 22.5},
}

const (
	nJyZP     = 31.4 // AB magnitude of 1 nJy
	taiMinus  = 37.0 // TAI - UTC, seconds
	mjdOffset = 2400000.5
)

// lsstVisitID follows Rubin's exposure ids: dayObs (YYYYMMDD) then a
// five-digit sequence number.
func lsstVisitID(night time.Time, i int) int64 {
	y, m, d := night.Date()
	return int64(y*10000+int(m)*100+d)*100000 + int64(i+1)
}

func (g *Generator) lsstImage(p *visitPlan, detector int) *imageParams {
	return g.lsstImageAt(julianDate(p.t), p.filter, p.field.id, detector, lsstVisitID(g.cfg.Night, p.index), p.seeing, p.depth)
}

func (g *Generator) lsstImageAt(jd float64, band, fieldID, detector int, visit int64, seeing, depth float64) *imageParams {
	r := g.rng(streamImage, uint64(visit)<<8|uint64(detector))
	im := &imageParams{
		jd: jd, filter: band, field: fieldID, unit: detector, pid: visit,
		zp:     nJyZP,
		depth:  depth + 0.05*r.NormFloat64(),
		seeing: seeing * math.Exp(0.03*r.NormFloat64()),
	}
	im.psfSigma = im.seeing / lsstCamera.fp.scale / 2.3548
	im.skyNoise = math.Pow(10, -0.4*(im.depth-nJyZP)) / 5
	// Rubin's fluxes are calibrated and its errors honest: the per-pixel
	// noise is what makes a PSF fit give skyNoise.
	im.pixNoise = im.skyNoise / (math.Sqrt(4*math.Pi) * im.psfSigma)
	return im
}

func mjdTAI(jd float64) float64 { return jd - mjdOffset + taiMinus/86400 }

// lsstEpoch is an earlier Rubin observation of an object.
type lsstEpoch struct {
	jd       float64
	band     int
	visit    int64
	detector int
	detected bool
	snr      float64
	depth    float64
	seeing   float64
}

type lsstConsts struct {
	objectID     int64 // known objects; others take their first diaSourceId
	scene        scene
	templateFlux float64 // nJy at the object's position in the template
	extended     float64
	epochs       []lsstEpoch
	oldSources   int
	firstMJD     float64
	// solar-system objects
	ssObjectID  int64
	designation string
	packed      string
	orbit       [6]float64 // a, e, i, node, argperi, M
	hMag        float64
}

func (g *Generator) lsstConstsOf(o *object) *lsstConsts {
	r := g.rng(streamObject, o.seed)
	k := &lsstConsts{}
	nightJD := julianDate(g.start)
	scale := lsstCamera.fp.scale

	hostMag := 0.0
	switch o.kind {
	case kindVariable:
		hostMag = 17 + 6*r.Float64()
		k.templateFlux = magToFlux(hostMag, nJyZP)
	case kindNuclear:
		hostMag = 19 + 4*r.Float64()
		k.scene.hostSigma = 2 + 4*r.Float64()
		k.templateFlux = 0.6 * magToFlux(hostMag, nJyZP)
	case kindTransient:
		hostMag = 20 + 4*r.Float64()
		k.scene.hostSigma = 3 + 8*r.Float64()
		pa, dist := r.Float64()*2*math.Pi, (0.5+3*r.Float64())/scale
		k.scene.hostDX, k.scene.hostDY = dist*math.Sin(pa), dist*math.Cos(pa)
		k.templateFlux = 0.2 * magToFlux(hostMag, nJyZP)
	}
	if o.starMag != 0 {
		hostMag = o.starMag
		k.scene.hostDX, k.scene.hostDY = o.starDX, o.starDY
		k.templateFlux = magToFlux(hostMag, nJyZP) * 0.01
	}
	k.scene.hostFlux = magToFlux(hostMag, nJyZP)
	for i := range k.scene.stars {
		k.scene.stars[i] = source{
			x: (r.Float64() - 0.5) * 60, y: (r.Float64() - 0.5) * 60,
			flux: magToFlux(19+6*r.Float64(), nJyZP),
		}
	}
	k.extended = 0.1 * r.Float64()
	if o.kind == kindBogus {
		k.extended = r.Float64()
	}

	if o.kind == kindAsteroid {
		k.ssObjectID = int64(r.Uint64() >> 2)
		year := 1990 + r.IntN(g.cfg.Night.Year()-1990)
		half := r.IntN(24)
		second := r.IntN(25)
		cycle := r.IntN(100)
		halfL := "ABCDEFGHJKLMNOPQRSTUVWXY"[half]
		secL := "ABCDEFGHJKLMNOPQRSTUVWXYZ"[second]
		k.designation = fmt.Sprintf("%d %c%c%d", year, halfL, secL, cycle)
		if cycle == 0 {
			k.designation = fmt.Sprintf("%d %c%c", year, halfL, secL)
		}
		k.packed = fmt.Sprintf("%c%02d%c%02d%c", 'A'+byte(year/100-10), year%100, halfL, cycle, secL)
		k.orbit = [6]float64{2.1 + 1.3*r.Float64(), 0.3 * r.Float64(), 25 * r.Float64(), 360 * r.Float64(), 360 * r.Float64(), 360 * r.Float64()}
		k.hMag = 14 + 6*r.Float64()
	}

	nEpochs := r.IntN(4)
	if o.known {
		nEpochs = 3 + r.IntN(g.cfg.HistoryMax+5)
		k.oldSources = r.IntN(20)
		k.objectID = lsstVisitID(alert.JDTime(nightJD-30-300*r.Float64()), 90000+o.serial>>22)<<22 | int64(o.serial&(1<<22-1))
	}
	for range nEpochs {
		b := r.IntN(len(lsstBands))
		e := lsstEpoch{
			jd:       nightJD - 1 - 364*r.Float64(),
			band:     b,
			detector: o.unit,
			depth:    lsstBands[b].depth + 0.3*r.NormFloat64(),
			seeing:   0.8 * math.Exp(0.2*r.NormFloat64()),
		}
		e.visit = lsstVisitID(alert.JDTime(e.jd-0.5).Truncate(24*time.Hour), 1+r.IntN(900))
		e.detected, e.snr = pastDetection(r, o)
		k.epochs = append(k.epochs, e)
	}
	sort.Slice(k.epochs, func(i, j int) bool { return k.epochs[i].jd < k.epochs[j].jd })
	if len(k.epochs) > 0 {
		k.firstMJD = mjdTAI(k.epochs[0].jd)
	}
	return k
}

func (g *Generator) lsstHistoric(d *detection, e lsstEpoch, index int) *detection {
	im := g.lsstImageAt(e.jd, e.band, d.img.field, e.detector, e.visit, e.seeing, e.depth)
	h := d.obj.detectedOn(im, e.detector, index, e.snr)
	h.id = e.visit<<22 | int64(index)&(1<<21-1)
	return h
}

// lsstDiaSource derives a detection's full record; like ztfCandidate it is
// a pure function of the detection.
func (g *Generator) lsstDiaSource(d *detection, k *lsstConsts, objectID int64) lsst.DiaSource {
	r := g.rng(streamDet, uint64(d.id))
	im := d.img
	scale := lsstCamera.fp.scale
	mid := mjdTAI(im.jd)
	fluxErr := im.skyNoise * (0.95 + 0.1*r.Float64())
	snr := math.Abs(d.flux) / fluxErr
	posErr := (0.02 + 0.5*im.seeing/math.Max(snr, 1)) / 3600 // deg
	xyErr := posErr * 3600 / scale
	q := drawQuality(r, d.fail, im.seeing/scale)
	psfSig2 := (im.psfSigma * scale) * (im.psfSigma * scale) // arcsec^2
	extra := 1 + 0.2*r.Float64()
	if d.bogus {
		extra = 1 + 2*r.Float64()
	}
	chi2 := float64(0)
	ndata := 0
	bbox := 11 + 2*r.IntN(15)
	ndata = bbox * bbox
	chi2 = float64(ndata) * math.Exp(0.1*r.NormFloat64()) * (1 + 3*b2f(d.bogus))
	trailLen := 0.05 + 0.3*r.Float64()
	if d.artefact == ArtefactStreak {
		trailLen = 5 + 25*r.Float64()
	}
	absFlux := math.Abs(d.flux)
	angle := 180 * r.Float64()
	if !math.IsNaN(d.lineAngle) {
		angle = d.lineAngle * rad2deg
	}

	s := lsst.DiaSource{
		DiaSourceID: d.id, Visit: im.pid, Detector: im.unit,
		MidpointMjdTai: mid,
		RA:             d.ra, RAErr: f32(posErr), Dec: d.dec, DecErr: f32(posErr),
		RADecCov: f32(0.1 * r.NormFloat64() * posErr * posErr),
		X:        float32(d.x), XErr: f32(xyErr), Y: float32(d.y), YErr: f32(xyErr),
		CentroidFlag: ptr(false),
		ApFlux:       f32(d.flux * (1 + q.magdiff)), ApFluxErr: f32(fluxErr * 1.3),
		ApFluxFlag: ptr(false), ApFluxFlagApertureTruncated: ptr(false),
		IsNegative: ptr(d.flux < 0), Snr: f32(d.snr * (0.95 + 0.1*r.Float64())),
		PsfFlux: f32(d.flux), PsfFluxErr: f32(fluxErr),
		PsfLnL: f32(-0.5*chi2 - float64(ndata)*math.Log(im.pixNoise)), PsfChi2: f32(chi2), PsfNdata: ptr(ndata),
		PsfFluxFlag: ptr(false), PsfFluxFlagEdge: ptr(false), PsfFluxFlagNoGoodPixels: ptr(false),
		TrailFlux: f32(d.flux * (1 + 0.03*r.NormFloat64())), TrailFluxErr: f32(fluxErr * 1.1),
		TrailRA: ptr(d.ra), TrailRAErr: f32(posErr * 1.2), TrailDec: ptr(d.dec), TrailDecErr: f32(posErr * 1.2),
		TrailLength: f32(trailLen), TrailLengthErr: f32(0.05 + 0.1*trailLen),
		TrailAngle: f32(angle), TrailAngleErr: f32(5 + 20*r.Float64()),
		TrailChi2: f32(chi2 * 0.98), TrailNdata: ptr(ndata), TrailFlagEdge: ptr(false),
		DipoleMeanFlux: f32(absFlux * (0.5 + 0.3*r.Float64())), DipoleMeanFluxErr: f32(fluxErr),
		DipoleFluxDiff: f32(absFlux * (0.8 + 0.4*r.Float64())), DipoleFluxDiffErr: f32(fluxErr * 1.4),
		DipoleLength: f32(0.2 + 0.5*r.Float64()), DipoleAngle: f32(360 * r.Float64()),
		DipoleChi2: f32(chi2 * 1.05), DipoleNdata: ptr(ndata),
		ScienceFlux: f32(k.templateFlux + d.flux), ScienceFluxErr: f32(math.Hypot(fluxErr, math.Sqrt(k.templateFlux+1)*0.5)),
		ForcedPsfFluxFlag: ptr(false), ForcedPsfFluxFlagEdge: ptr(false), ForcedPsfFluxFlagNoGoodPixels: ptr(false),
		TemplateFlux: f32(k.templateFlux), TemplateFluxErr: f32(fluxErr * 0.4),
		Ixx: f32(absFlux * psfSig2 * q.elong * extra), Iyy: f32(absFlux * psfSig2 * extra / q.elong),
		Ixy:    f32(absFlux * psfSig2 * 0.05 * r.NormFloat64()),
		IxxPsf: f32(psfSig2), IyyPsf: f32(psfSig2), IxyPsf: f32(psfSig2 * 0.01 * r.NormFloat64()),
		ShapeFlag: ptr(false), ShapeFlagNoPixels: ptr(false), ShapeFlagNotContained: ptr(false), ShapeFlagParentSource: ptr(false),
		Extendedness: f32(clamp(k.extended+0.05*r.NormFloat64(), 0, 1)),
		Reliability:  f32(q.rb), Band: ptr(lsstBands[im.filter].name),
		IsDipole: ptr(d.bogus && r.Float64() < 0.2), DipoleFitAttempted: ptr(true),
		TimeProcessedMjdTai: mid + (60+120*r.Float64())/86400,
		BboxSize:            ptr(bbox),
		PixelFlags:          ptr(false), PixelFlagsBad: ptr(q.nbad > 0), PixelFlagsCr: ptr(false), PixelFlagsCrCenter: ptr(false),
		PixelFlagsEdge: ptr(false), PixelFlagsNodata: ptr(false), PixelFlagsNodataCenter: ptr(false),
		PixelFlagsInterpolated: ptr(q.nbad > 0), PixelFlagsInterpolatedCenter: ptr(false), PixelFlagsOffimage: ptr(false),
		PixelFlagsSaturated: ptr(d.artefact == ArtefactBleedTrail), PixelFlagsSaturatedCenter: ptr(false),
		PixelFlagsSuspect: ptr(false), PixelFlagsSuspectCenter: ptr(false),
		PixelFlagsStreak: ptr(d.artefact == ArtefactStreak), PixelFlagsStreakCenter: ptr(d.artefact == ArtefactStreak),
		PixelFlagsInjected: ptr(false), PixelFlagsInjectedCenter: ptr(false),
		PixelFlagsInjectedTemplate: ptr(false), PixelFlagsInjectedTemplateCenter: ptr(false),
		GlintTrail: ptr(false),
	}
	if k.ssObjectID != 0 {
		s.SsObjectID = ptr(k.ssObjectID)
	} else {
		s.DiaObjectID = ptr(objectID)
	}
	return s
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// lsstForced is forced photometry at the object's position on the image
// of h; its id shares h's visit and index, in the upper half of the index
// space so it never equals a diaSourceId.
func (g *Generator) lsstForced(r *rand.Rand, h *detection, objectID int64, k *lsstConsts) lsst.DiaForcedSource {
	im := h.img
	unc := im.skyNoise * (0.95 + 0.1*r.Float64())
	return lsst.DiaForcedSource{
		DiaForcedSourceID: h.id | 1<<21,
		DiaObjectID:       objectID, RA: h.obj.ra, Dec: h.obj.dec, Visit: im.pid, Detector: im.unit,
		PsfFlux: f32(h.flux + unc*r.NormFloat64()), PsfFluxErr: f32(unc),
		MidpointMjdTai: mjdTAI(im.jd),
		ScienceFlux:    f32(k.templateFlux + h.flux + unc*r.NormFloat64()), ScienceFluxErr: f32(unc * 1.1),
		Band:                ptr(lsstBands[im.filter].name),
		TimeProcessedMjdTai: mjdTAI(im.jd) + (60+120*r.Float64())/86400,
	}
}

func (g *Generator) lsstAlert(d *detection) *lsst.Alert {
	o := d.obj
	k := g.lsstConstsOf(o)
	objectID := k.objectID
	if objectID == 0 && len(o.dets) > 0 {
		objectID = o.dets[0].id
	}
	src := g.lsstDiaSource(d, k, objectID)
	a := &lsst.Alert{
		DiaSourceID:       d.id,
		ObservationReason: ptr("wfd"),
		TargetName:        ptr("lowdust"),
		DiaSource:         src,
	}
	r := g.rng(streamDet, uint64(d.id)^0x68697374)

	if k.ssObjectID != 0 {
		a.SsSource = g.ssSource(r, d, k)
		a.MpcOrbits = g.mpcOrbit(r, k)
	} else {
		var prv []lsst.DiaSource
		var forced []lsst.DiaForcedSource
		all := []lsst.DiaSource{}
		for i, e := range k.epochs {
			// Earlier nights' ids only need to differ between objects.
			h := g.lsstHistoric(d, e, o.serial*37+i)
			if e.detected {
				s := g.lsstDiaSource(h, k, objectID)
				prv = append(prv, s)
			}
			forced = append(forced, g.lsstForced(r, h, objectID, k))
		}
		for _, prev := range o.dets[:d.hist] {
			prv = append(prv, g.lsstDiaSource(prev, k, objectID))
			forced = append(forced, g.lsstForced(r, prev, objectID, k))
		}
		all = append(all, prv...)
		all = append(all, src)
		if len(prv) > g.cfg.HistoryMax {
			prv = prv[len(prv)-g.cfg.HistoryMax:]
		}
		if len(forced) > g.cfg.HistoryMax {
			forced = forced[len(forced)-g.cfg.HistoryMax:]
		}
		if len(prv) > 0 {
			a.PrvDiaSources = &prv
		}
		if len(forced) > 0 {
			a.PrvDiaForcedSources = &forced
		}
		a.DiaObject = diaObject(objectID, all, k, forced)
	}
	if !g.cfg.NoCutouts {
		g.lsstCutouts(a, d, k)
	}
	return a
}

// diaObjectBandFields are the DiaObject fields per band, found once by
// name so the per-band summary needs no six-way switch.
var diaObjectBandFields = func() [6][12]int {
	var out [6][12]int
	t := reflect.TypeFor[lsst.DiaObject]()
	suffixes := [12]string{
		"PsfFluxMean", "PsfFluxMeanErr", "PsfFluxSigma", "PsfFluxNdata", "FpFluxMean", "FpFluxMeanErr",
		"ScienceFluxMean", "ScienceFluxMeanErr", "PsfFluxMin", "PsfFluxMax", "PsfFluxMaxSlope", "PsfFluxErrMean",
	}
	for b, band := range lsstBands {
		for i, s := range suffixes {
			f, ok := t.FieldByName(strings.ToUpper(band.name) + s)
			if !ok {
				panic("sim: lsst.DiaObject has no field " + strings.ToUpper(band.name) + s)
			}
			out[b][i] = f.Index[0]
		}
	}
	return out
}()

// diaObject summarises an object's sources per band, as Rubin's
// association step does.
func diaObject(id int64, srcs []lsst.DiaSource, k *lsstConsts, forced []lsst.DiaForcedSource) *lsst.DiaObject {
	last := srcs[len(srcs)-1]
	o := &lsst.DiaObject{
		DiaObjectID:         id,
		ValidityStartMjdTai: last.TimeProcessedMjdTai,
		NDiaSources:         len(srcs) + k.oldSources,
	}
	var sra, sdec float64
	for _, s := range srcs {
		sra += s.RA
		sdec += s.Dec
	}
	n := float64(len(srcs))
	o.RA, o.Dec = sra/n, sdec/n
	o.RAErr = f32(float64(*last.RAErr) / math.Sqrt(n))
	o.DecErr = f32(float64(*last.DecErr) / math.Sqrt(n))
	o.RADecCov = f32(float64(*last.RADecCov) / n)
	o.FirstDiaSourceMjdTai = ptr(srcs[0].MidpointMjdTai)
	if k.firstMJD != 0 && k.firstMJD < srcs[0].MidpointMjdTai {
		o.FirstDiaSourceMjdTai = ptr(k.firstMJD)
	}
	o.LastDiaSourceMjdTai = ptr(last.MidpointMjdTai)

	v := reflect.ValueOf(o).Elem()
	for b, band := range lsstBands {
		var fl, er, sci, mjd []float64
		for _, s := range srcs {
			if *s.Band == band.name {
				fl = append(fl, float64(*s.PsfFlux))
				er = append(er, float64(*s.PsfFluxErr))
				sci = append(sci, float64(*s.ScienceFlux))
				mjd = append(mjd, s.MidpointMjdTai)
			}
		}
		if len(fl) == 0 {
			continue
		}
		var fp []float64
		for _, f := range forced {
			if *f.Band == band.name {
				fp = append(fp, float64(*f.PsfFlux))
			}
		}
		mean, merr := weightedMean(fl, er)
		smean, serr := weightedMean(sci, er)
		mn, mx, errMean, slope := fl[0], fl[0], 0.0, 0.0
		for i, f := range fl {
			mn, mx = math.Min(mn, f), math.Max(mx, f)
			errMean += er[i] / float64(len(er))
			if i > 0 && mjd[i] > mjd[i-1] {
				slope = math.Max(slope, math.Abs(f-fl[i-1])/(mjd[i]-mjd[i-1]))
			}
		}
		fpMean, fpErr := mean, merr
		if len(fp) > 0 {
			fpMean, fpErr = 0, merr*0.9
			for _, f := range fp {
				fpMean += f / float64(len(fp))
			}
		}
		vals := [12]any{
			f32(mean), f32(merr), f32(stddev(fl)), ptr(len(fl)), f32(fpMean), f32(fpErr),
			f32(smean), f32(serr), f32(mn), f32(mx), f32(slope), f32(errMean),
		}
		for i, idx := range diaObjectBandFields[b] {
			v.Field(idx).Set(reflect.ValueOf(vals[i]))
		}
	}
	return o
}

func weightedMean(x, err []float64) (mean, meanErr float64) {
	var sw, swx float64
	for i, v := range x {
		w := 1 / (err[i] * err[i])
		sw += w
		swx += w * v
	}
	return swx / sw, math.Sqrt(1 / sw)
}

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

func (g *Generator) ssSource(r *rand.Rand, d *detection, k *lsstConsts) *lsst.SsSource {
	lam, beta := rotate(&toEcliptic, d.ra, d.dec)
	l, b := rotate(&toGalactic, d.ra, d.dec)
	helio := k.orbit[0] * (1 + 0.1*r.NormFloat64())
	elong := 90 + 90*r.Float64()
	// Earth at 1 au: the law of cosines gives the distance from the
	// elongation and heliocentric distance.
	ce := math.Cos(elong * deg2rad)
	topo := ce + math.Sqrt(math.Max(0.01, ce*ce-1+helio*helio))
	phase := math.Acos(clamp((helio*helio+topo*topo-1)/(2*helio*topo), -1, 1)) * rad2deg
	rate := 0.25 / topo // deg/day, roughly
	pa := r.Float64() * 2 * math.Pi
	rateRA, rateDec := rate*math.Sin(pa), rate*math.Cos(pa)
	offRA, offDec := 0.3*r.NormFloat64(), 0.3*r.NormFloat64() // arcsec
	vec := func(norm float64) (x, y, z float64) {
		a, dd := r.Float64()*2*math.Pi, math.Asin(2*r.Float64()-1)
		return norm * math.Cos(dd) * math.Cos(a), norm * math.Cos(dd) * math.Sin(a), norm * math.Sin(dd)
	}
	hx, hy, hz := vec(helio)
	hv := 0.0172 / math.Sqrt(helio) // au/day, circular speed
	hvx, hvy, hvz := vec(hv)
	tx, ty, tz := vec(topo)
	tv := hv * (0.5 + r.Float64())
	tvx, tvy, tvz := vec(tv)
	return &lsst.SsSource{
		DiaSourceID: d.id, SsObjectID: k.ssObjectID, Designation: ptr(k.designation),
		EclLambda: lam, EclBeta: beta, GalLon: l, GalLat: b,
		Elongation: f32(elong), PhaseAngle: f32(phase),
		TopoRange: f32(topo), TopoRangeRate: f32(10 * r.NormFloat64()),
		HelioRange: f32(helio), HelioRangeRate: f32(3 * r.NormFloat64()),
		EphRA: ptr(wrap360(d.ra - offRA/3600/math.Cos(d.dec*deg2rad))), EphDec: ptr(d.dec - offDec/3600),
		EphVmag: f32(k.hMag + 5*math.Log10(helio*topo) + 0.03*phase),
		EphRate: f32(rate), EphRateRA: f32(rateRA), EphRateDec: f32(rateDec),
		EphOffset: f32(math.Hypot(offRA, offDec)), EphOffsetRA: ptr(offRA), EphOffsetDec: ptr(offDec),
		EphOffsetAlongTrack: f32(offRA*math.Sin(pa) + offDec*math.Cos(pa)),
		EphOffsetCrossTrack: f32(offRA*math.Cos(pa) - offDec*math.Sin(pa)),
		HelioX:              f32(hx), HelioY: f32(hy), HelioZ: f32(hz),
		HelioVx: f32(hvx), HelioVy: f32(hvy), HelioVz: f32(hvz), HelioVtot: f32(hv),
		TopoX: f32(tx), TopoY: f32(ty), TopoZ: f32(tz),
		TopoVx: f32(tvx), TopoVy: f32(tvy), TopoVz: f32(tvz), TopoVtot: f32(tv),
		DiaDistanceRank: ptr(1),
	}
}

func (g *Generator) mpcOrbit(r *rand.Rand, k *lsstConsts) *lsst.MpcOrbits {
	a, e, inc, node, peri, m := k.orbit[0], k.orbit[1], k.orbit[2], k.orbit[3], k.orbit[4], k.orbit[5]
	period := 365.25 * math.Pow(a, 1.5)
	fitted := g.cfg.Night.Add(-time.Duration(1+r.IntN(300)) * 24 * time.Hour).Truncate(time.Second)
	created := fitted.Add(-time.Duration(r.IntN(5000)) * 24 * time.Hour)
	unc := func(v float64) *float64 { return ptr(math.Abs(v) * 1e-6 * (1 + r.Float64())) }
	nobs := 20 + r.IntN(2000)
	arc := 10 + 9000*r.Float64()
	return &lsst.MpcOrbits{
		ID: int(r.Int32()), Designation: k.designation,
		PackedPrimaryProvisionalDesignation: k.packed, UnpackedPrimaryProvisionalDesignation: k.designation,
		MpcOrbJsonb: ptr(fmt.Sprintf(`{"a": %.6f, "e": %.6f, "i": %.5f}`, a, e, inc)),
		CreatedAt:   ptr(created), UpdatedAt: ptr(fitted),
		OrbitTypeInt: ptr(10 + r.IntN(3)), UParam: ptr(r.IntN(6)), Nopp: ptr(1 + r.IntN(20)),
		ArcLengthTotal: ptr(arc), ArcLengthSel: ptr(arc * 0.98),
		NobsTotal: ptr(nobs), NobsTotalSel: ptr(nobs - r.IntN(5)),
		A: ptr(a), Q: ptr(a * (1 - e)), E: ptr(e), I: ptr(inc), Node: ptr(node), Argperi: ptr(peri),
		PeriTime:    ptr(mjdTAI(julianDate(fitted)) - m/360*period),
		MeanAnomaly: ptr(m), Period: ptr(period), MeanMotion: ptr(360 / period),
		AUnc: unc(a), QUnc: unc(a), EUnc: unc(e), IUnc: unc(inc), NodeUnc: unc(node), ArgperiUnc: unc(peri),
		PeriTimeUnc: unc(period), MeanAnomalyUnc: unc(m), PeriodUnc: unc(period), MeanMotionUnc: unc(360 / period),
		EpochMjd: ptr(math.Round(mjdTAI(julianDate(fitted)))),
		H:        ptr(k.hMag), G: ptr(0.15),
		NotNormalizedRms: ptr(0.2 + 0.5*r.Float64()), NormalizedRms: ptr(0.5 + 0.5*r.Float64()),
		EarthMoid:       ptr(a*(1-e) - 1 + 0.2*r.Float64()),
		FittingDatetime: ptr(fitted),
	}
}

func (g *Generator) lsstCutouts(a *lsst.Alert, d *detection, k *lsstConsts) {
	im := d.img
	sci, tmpl, diff := g.stampTriple(d, k.scene, 0, d.flux, d.flux)
	t := alert.JDTime(im.jd)
	header := func(extname string) []fits.Card {
		h := []fits.Card{
			{Key: "EXTNAME", Value: extname},
			{Key: "BUNIT", Value: "nJy"},
			{Key: "OBJECT", Value: fmt.Sprint(d.id)},
			{Key: "DATE-OBS", Value: t.Format("2006-01-02T15:04:05.000")},
			{Key: "MJD-OBS", Value: im.jd - mjdOffset},
			{Key: "TIMESYS", Value: "UTC"},
			{Key: "FILTER", Value: lsstBands[im.filter].name},
			{Key: "VISIT", Value: im.pid},
			{Key: "DETECTOR", Value: im.unit},
		}
		return append(h, wcs(d.ra, d.dec, lsstCamera.fp.scale)...)
	}
	enc := func(pix []float32, extname string) *[]byte {
		// Rubin's cutouts are plain FITS, not gzip'd.
		b, err := fits.Encode(fits.Image{Width: StampSize, Height: StampSize, Pix: pix, Header: header(extname)})
		if err != nil {
			panic(fmt.Sprintf("sim: encoding a stamp: %v", err))
		}
		return &b
	}
	a.CutoutScience = enc(sci, "SCIENCE")
	a.CutoutTemplate = enc(tmpl, "TEMPLATE")
	a.CutoutDifference = enc(diff, "DIFFERENCE")
}
