package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// ZTF constants from the alert schema documentation and real packets.
const (
	ztfSchemaVersion = "4.02"
	ztfPublisher     = "ZTF (www.ztf.caltech.edu)"
	ztfRBVersion     = "t17_f5_c3"
	ztfDRBVersion    = "d6_m7"
	ztfPI            = "Kulkarni"
	ztfGain          = 6.2 // e-/DN
	ztfReadNoise     = 8.0 // e-
	ztfExptime       = 30.0
	// nid counts nights from 2017-01-01 (fits both sample packets:
	// nid 472 on 2018-04-18, 739 on 2019-01-10).
	ztfNidEpochJD = 2457754.5
	// ZTF's survey started 2018-03-20; no history reaches further back.
	ztfStartJD = 2458197.5
	sentinel   = -999.0
)

// Typical 5-sigma depth and zero point per fid (1=g, 2=r, 3=i).
var (
	ztfDepth   = [4]float64{0, 20.6, 20.5, 20.0}
	ztfZP      = [4]float64{0, 26.3, 26.2, 25.8}
	ztfSky     = [4]float64{0, 120, 200, 350} // background DN
	ztfFilters = [4]string{"", "g", "r", "i"}
)

// imageParams describes one quadrant image (ZTF) or detector image (Rubin)
// of one exposure: what an alert's photometric and provenance fields, and
// its cutouts, are derived from.
type imageParams struct {
	jd        float64
	filter    int
	field     int
	unit      int
	programid int
	nid       int
	pid       int64 // ZTF processing id; Rubin visit id
	zp        float64
	depth     float64 // 5-sigma limit, mag
	seeing    float64 // PSF FWHM, arcsec
	psfSigma  float64 // pixels
	skyNoise  float64 // point-source flux uncertainty from the sky
	pixNoise  float64 // per-pixel noise of the difference image
	bg        float64 // science image background per pixel

	zpunc, zprms, clrcoeff, clrcounc, zpclrcov, zpmed, clrmed, clrrms float64
	nmatches                                                          int
	adpct1, adpct2                                                    float64
	stamp                                                             string // yyyymmdd + day fraction, as in file names
}

func (g *Generator) visitImage(p *visitPlan, unit int) *imageParams {
	if g.cfg.Survey == SurveyZTF {
		return g.ztfImage(julianDate(p.t), p.filter, p.field.id, unit, p.programid, p.seeing, p.depth)
	}
	return g.lsstImage(p, unit)
}

// ztfImage derives a quadrant image's parameters from its processing id,
// so tonight's images and those of earlier epochs in the history are made
// the same way.
func (g *Generator) ztfImage(jd float64, fid, fieldID, rcid, programid int, seeing, depth float64) *imageParams {
	day := math.Floor(jd - 0.5)
	frac := int((jd - 0.5 - day) * 1e6)
	nid := int(jd - ztfNidEpochJD)
	pid := int64(nid)*1_000_000_000 + int64(frac)*1000 + int64(rcid)
	r := g.rng(streamImage, uint64(pid))
	im := &imageParams{
		jd: jd, filter: fid, field: fieldID, unit: rcid, programid: programid, nid: nid, pid: pid,
		zp:     ztfZP[fid] + 0.05*r.NormFloat64(),
		depth:  clamp(depth+0.1*r.NormFloat64(), 19.5, 21.0),
		seeing: seeing * math.Exp(0.03*r.NormFloat64()),
		bg:     ztfSky[fid] * math.Exp(0.2*r.NormFloat64()),
	}
	im.psfSigma = im.seeing / ztfCamera.fp.scale / 2.3548
	im.skyNoise = math.Pow(10, -0.4*(im.depth-im.zp)) / 5
	im.pixNoise = math.Sqrt(im.bg*ztfGain+ztfReadNoise*ztfReadNoise) / ztfGain
	im.zpunc = 1e-5 * math.Exp(0.5*r.NormFloat64())
	im.zprms = 0.02 + 0.03*r.Float64()
	im.nmatches = 200 + r.IntN(1800)
	im.clrcoeff = [4]float64{0, -0.05, 0.1, 0.02}[fid] + 0.03*r.NormFloat64()
	im.clrcounc = 1e-5 * math.Exp(0.5*r.NormFloat64())
	im.zpclrcov = -im.clrcounc * (0.5 + 0.5*r.Float64())
	im.zpmed = im.zp + 0.05 + 0.05*r.NormFloat64()
	im.clrmed = 0.5 + 0.4*r.Float64()
	im.clrrms = 0.2 + 0.15*r.Float64()
	im.adpct1, im.adpct2 = 0.05+0.05*r.Float64(), 0.05+0.05*r.Float64()
	t := alert.JDTime(jd)
	im.stamp = t.Format("20060102") + fmt.Sprintf("%06d", frac)
	return im
}

// ps1Match is one Pan-STARRS1 counterpart; sentinel values when absent.
type ps1Match struct {
	id                int64
	g, r, i, z, score float64
	dist              float64 // arcsec
}

// epoch is one earlier observation of an object's position, before
// tonight.
type epoch struct {
	jd        float64
	fid       int
	programid int
	detected  bool
	snr       float64 // signed: negative for fading
	depth     float64
	seeing    float64
}

// ztfConsts are an object's fixed catalogue context and history before
// tonight.
type ztfConsts struct {
	year                                             int
	refDist, magnr, sigmagnr, chinr, sharpnr         float64 // refDist in pixels; sentinel if none
	ranr, decnr                                      float64
	ps1                                              [3]ps1Match
	nmtchps                                          int
	neargaia, maggaia, neargaiabright, maggaiabright float64
	ssname                                           string
	ssdist, ssmagOffset                              float64
	classtar                                         float64
	epochs                                           []epoch // last 30 days, by jd
	oldDets                                          int     // detections before those
	firstJD                                          float64
	extraCov                                         int
	hostSigma, hostMag, hostDX, hostDY               float64
	fieldStars                                       [3][3]float64 // dx, dy (pixels), mag
}

func (g *Generator) ztfConstsOf(o *object) *ztfConsts {
	r := g.rng(streamObject, o.seed)
	k := &ztfConsts{}
	nightJD := julianDate(g.start)
	year := g.cfg.Night.Year()

	// Nearest source in the reference image.
	k.refDist, k.magnr, k.sigmagnr, k.chinr, k.sharpnr = sentinel, sentinel, sentinel, sentinel, sentinel
	k.ranr, k.decnr = sentinel, sentinel
	setRef := func(dist, mag, sharp float64) {
		k.refDist, k.magnr = dist, mag
		k.sigmagnr = 0.01 + 0.1*math.Pow(10, 0.4*(mag-20))
		k.chinr = 0.5 + 1.5*r.Float64()
		k.sharpnr = sharp
		pa := r.Float64() * 2 * math.Pi
		d := dist * ztfCamera.fp.scale / 3600
		k.ranr = wrap360(o.ra + d*math.Sin(pa)/math.Cos(o.dec*deg2rad))
		k.decnr = o.dec + d*math.Cos(pa)
	}
	switch o.kind {
	case kindVariable:
		setRef(0.05+0.5*r.Float64(), 13+6*r.Float64(), 0.05*r.NormFloat64())
	case kindNuclear:
		setRef(0.1+0.7*r.Float64(), 17+3*r.Float64(), 0.1+0.3*r.Float64())
	case kindTransient:
		setRef(1+5*r.Float64(), 18+3*r.Float64(), 0.2+0.4*r.Float64())
	case kindAsteroid, kindBogus:
		setRef(3+17*r.Float64(), 15+6*r.Float64(), 0.05*r.NormFloat64())
	}
	if o.starMag != 0 {
		setRef(math.Hypot(o.starDX, o.starDY), o.starMag, 0.02*r.NormFloat64())
	}
	if k.refDist != sentinel {
		pa := r.Float64() * 2 * math.Pi
		k.hostDX, k.hostDY = k.refDist*math.Sin(pa), k.refDist*math.Cos(pa)
		k.hostMag = k.magnr
		k.hostSigma = 0
		if o.kind == kindTransient || o.kind == kindNuclear {
			k.hostSigma = 1.5 + 2.5*r.Float64() // galaxies are extended
		}
	}
	if o.starMag != 0 {
		k.hostDX, k.hostDY = o.starDX, o.starDY
	}

	// Pan-STARRS1 counterparts.
	for i := range k.ps1 {
		k.ps1[i] = ps1Match{id: sentinel, g: sentinel, r: sentinel, i: sentinel, z: sentinel, score: sentinel, dist: sentinel}
	}
	mk := func(dist, mag, score float64) ps1Match {
		m := ps1Match{dist: dist, score: score}
		m.r = mag
		m.g = mag + 0.3 + 0.9*r.Float64()
		m.i = mag - 0.1 - 0.4*r.Float64()
		m.z = m.i - 0.1*r.Float64()
		if r.Float64() < 0.1 { // too faint in g
			m.g = sentinel
		}
		pa := r.Float64() * 2 * math.Pi
		ra := o.ra + dist/3600*math.Sin(pa)/math.Cos(o.dec*deg2rad)
		dec := o.dec + dist/3600*math.Cos(pa)
		m.id = ps1ObjID(wrap360(ra), dec)
		return m
	}
	first := true
	switch o.kind {
	case kindVariable:
		k.ps1[0] = mk(0.05+0.45*r.Float64(), k.magnr, 0.85+0.15*r.Float64())
	case kindNuclear:
		k.ps1[0] = mk(0.1+0.5*r.Float64(), k.magnr, 0.3*r.Float64())
	case kindTransient:
		k.ps1[0] = mk(0.5+4.5*r.Float64(), k.magnr, 0.4*r.Float64())
	case kindHostless:
		first = r.Float64() < 0.5
		if first {
			k.ps1[0] = mk(5+20*r.Float64(), 20+2*r.Float64(), r.Float64())
		}
	default:
		first = r.Float64() < 0.7
		if first {
			k.ps1[0] = mk(1+24*r.Float64(), 15+7*r.Float64(), r.Float64())
		}
	}
	if o.starMag != 0 {
		k.ps1[0] = mk(math.Hypot(o.starDX, o.starDY)*ztfCamera.fp.scale, o.starMag, 0.99+0.01*r.Float64())
		first = true
	}
	k.nmtchps = 0
	if first {
		k.nmtchps = 1
		prev := k.ps1[0].dist
		for i := 1; i < 3 && r.Float64() < 0.8; i++ {
			prev += 2 + 8*r.Float64()
			if prev > 30 {
				break
			}
			k.ps1[i] = mk(prev, 16+6*r.Float64(), r.Float64())
			k.nmtchps++
		}
		k.nmtchps += r.IntN(15)
	}

	// Gaia.
	k.neargaia, k.maggaia = 0.1+60*r.Float64(), 14+7*r.Float64()
	if o.kind == kindVariable {
		k.neargaia, k.maggaia = 0.05+0.3*r.Float64(), k.magnr+0.1*r.NormFloat64()
	}
	k.neargaiabright, k.maggaiabright = sentinel, sentinel
	if r.Float64() < 0.4 {
		k.neargaiabright, k.maggaiabright = 10+80*r.Float64(), 9+5*r.Float64()
	}
	if o.starMag != 0 {
		k.neargaiabright, k.maggaiabright = math.Hypot(o.starDX, o.starDY)*ztfCamera.fp.scale, o.starMag
	}
	k.classtar = 0.9 + 0.1*r.Float64()
	if o.kind == kindBogus {
		k.classtar = r.Float64()
	}

	// Field stars for the science and template stamps.
	for i := range k.fieldStars {
		k.fieldStars[i] = [3]float64{(r.Float64() - 0.5) * 60, (r.Float64() - 0.5) * 60, 16 + 5*r.Float64()}
	}

	if o.kind == kindAsteroid {
		k.ssname = strconv.Itoa(1 + r.IntN(700000))
		k.ssdist = 4 * r.Float64()
		k.ssmagOffset = 0.2 + 0.3*r.NormFloat64()
	}

	// History before tonight.
	nEpochs := r.IntN(7)
	if o.known {
		nEpochs = 3 + r.IntN(23)
		k.oldDets = 5 + r.IntN(300)
		k.firstJD = math.Max(ztfStartJD, nightJD-40-2500*r.Float64())
		k.extraCov = 10 + r.IntN(400)
		if y := alert.JDTime(k.firstJD).Year(); y >= 2017 && y < year {
			year = y
		}
		if k.firstJD < ztfStartJD+1 {
			year = 2017 // commissioning names, as in the samples
		}
	} else {
		k.extraCov = r.IntN(30)
	}
	k.year = year
	days := r.Perm(30)[:nEpochs]
	for _, dd := range days {
		fid := 1 + r.IntN(2)
		if r.Float64() < 0.1 {
			fid = 3
		}
		e := epoch{
			jd:        nightJD - float64(dd+1) + 0.35*r.Float64(),
			fid:       fid,
			programid: pickProgram(r),
			depth:     clamp(ztfDepth[fid]+0.3*r.NormFloat64(), 19.0, 20.9),
			seeing:    2.0 * math.Exp(0.2*r.NormFloat64()),
		}
		e.detected, e.snr = pastDetection(r, o)
		k.epochs = append(k.epochs, e)
	}
	sort.Slice(k.epochs, func(i, j int) bool { return k.epochs[i].jd < k.epochs[j].jd })
	return k
}

// ps1ObjID follows the layout of PS1 object ids: the declination zone
// (1/120 degree) times 1e13, then right ascension.
func ps1ObjID(ra, dec float64) int64 {
	z := (dec + 90) * 120
	zh := math.Floor(z)
	return int64(zh)*10_000_000_000_000 + int64(ra*1e4)*1_000_000 + int64((z-zh)*1e6)
}

// ztfName is a ZTF object name: "ZTF", two digits of the year, seven
// lowercase letters counting in base 26.
func ztfName(year int, n int64) string {
	b := []byte("ZTF00aaaaaaa")
	b[3], b[4] = byte('0'+year/10%10), byte('0'+year%10)
	for i := 11; i >= 5 && n > 0; i-- {
		b[i] = byte('a' + n%26)
		n /= 26
	}
	return string(b)
}

// objectName: objects first seen tonight count up from the night's day of
// year (room for 2M a night); old objects use the upper half of the name
// space, scattered, so the two never collide.
func (g *Generator) objectName(o *object, k *ztfConsts) string {
	if o.known {
		const half = 4_000_000_000
		return ztfName(k.year, half+int64(o.serial)*7919%half)
	}
	return ztfName(g.cfg.Night.Year(), int64(g.cfg.Night.YearDay())*2_000_000+int64(o.serial))
}

func f32(v float64) *float32 { f := float32(v); return &f }
func ptr[T any](v T) *T      { return &v }

// quality draws the features the purity cut looks at, honouring the
// detection's designed outcome (see PurityPassReal).
type quality struct {
	rb, drb, fwhm, elong, magdiff float64
	nbad                          int
}

func drawQuality(r *rand.Rand, fail int, seeingPx float64) quality {
	q := quality{
		rb:      0.65 + 0.35*math.Sqrt(r.Float64()),
		fwhm:    math.Min(5, seeingPx*(0.95+0.25*r.Float64())),
		elong:   1 + 0.2*math.Pow(r.Float64(), 1.5),
		magdiff: clamp(0.04*r.NormFloat64(), -0.1, 0.1),
	}
	q.drb = clamp(q.rb+0.1+0.05*r.NormFloat64(), 0.6, 1)
	switch fail {
	case 0:
		q.rb = 0.3 + 0.3499*r.Float64()
		q.drb = clamp(q.rb+0.1*r.NormFloat64(), 0.05, 0.9)
	case 1:
		q.nbad = 1 + r.IntN(3)
	case 2:
		q.fwhm = 5.01 + 2*r.Float64()
	case 3:
		q.elong = 1.21 + 0.4*r.Float64()
	case 4:
		q.magdiff = (0.101 + 0.2*r.Float64()) * float64(1-2*r.IntN(2))
	case 5:
		q.rb = 0.6499 * math.Pow(r.Float64(), 1.5)
		q.drb = 0.3 * r.Float64()
		if r.Float64() < 0.5 {
			q.nbad = 1 + r.IntN(8)
		}
		q.fwhm = 1.5 + 8.5*r.Float64()
		q.elong = 1 + 2*r.Float64()
		q.magdiff = 0.3 * r.NormFloat64()
	}
	return q
}

// ztfCandidate derives a detection's full candidate record. It is a pure
// function of the detection, so a detection rebuilt as history in a later
// alert is identical to the alert that first announced it.
func (g *Generator) ztfCandidate(d *detection, k *ztfConsts) ztf.Candidate {
	r := g.rng(streamDet, uint64(d.id))
	im := d.img
	seeingPx := im.seeing / ztfCamera.fp.scale
	q := drawQuality(r, d.fail, seeingPx)

	flux := math.Abs(d.flux)
	mag := im.zp - 2.5*math.Log10(flux)
	snr := flux / math.Sqrt(im.skyNoise*im.skyNoise+flux/ztfGain)
	sig := 1.0857 / snr
	magap := mag + q.magdiff
	isdiffpos := "t"
	if d.flux < 0 {
		isdiffpos = "f"
	}
	chipsf := math.Exp(0.4 * r.NormFloat64())
	if d.bogus {
		chipsf = 2 + 40*r.Float64()
	}
	aimage := q.fwhm * (0.25 + 0.15*r.Float64())
	bimage := aimage / q.elong
	dsnrms := d.snr * (0.8 + 0.7*r.Float64())
	ssnrms := dsnrms * (1.5 + 2.5*r.Float64())
	mind := math.Min(math.Min(d.x, d.y), math.Min(ztfCamera.unitW-d.x, ztfCamera.unitH-d.y))

	c := ztf.Candidate{
		Jd: im.jd, Fid: im.filter, Pid: im.pid,
		Diffmaglim:      f32(im.depth),
		Pdiffimfilename: ptr(fmt.Sprintf("ztf_%s_%06d_z%s_c%02d_o_q%d_scimrefdiffimg.fits", im.stamp, im.field, ztfFilters[im.filter], im.unit/4+1, im.unit%4+1)),
		Programpi:       ptr(ztfPI), Programid: im.programid,
		Candid: d.id, Isdiffpos: isdiffpos,
		Tblid: ptr(int64(d.index)), Nid: ptr(im.nid), Rcid: ptr(im.unit), Field: ptr(im.field),
		Xpos: f32(d.x), Ypos: f32(d.y), RA: round7(d.ra), Dec: round7(d.dec),
		Magpsf: float32(mag), Sigmapsf: float32(sig), Chipsf: f32(chipsf),
		Magap: f32(magap), Sigmagap: f32(sig * (0.6 + 0.4*r.Float64())),
		Distnr: f32(k.refDist), Magnr: f32(k.magnr), Sigmagnr: f32(k.sigmagnr), Chinr: f32(k.chinr), Sharpnr: f32(k.sharpnr),
		Sky: f32(0.3 * r.NormFloat64()), Magdiff: f32(q.magdiff), FWHM: f32(q.fwhm), Classtar: f32(k.classtar),
		Mindtoedge: f32(mind), Magfromlim: f32(im.depth - magap), Seeratio: f32(0.85 + 0.35*r.Float64()),
		Aimage: f32(aimage), Bimage: f32(bimage), Aimagerat: f32(aimage / q.fwhm), Bimagerat: f32(bimage / q.fwhm),
		Elong: f32(q.elong), Nneg: ptr(r.IntN(9)), Nbad: ptr(q.nbad), Rb: f32(q.rb),
		Ssdistnr: f32(sentinel), Ssmagnr: f32(sentinel), Ssnamenr: ptr("null"),
		Sumrat:   f32(0.85 + 0.15*r.Float64()),
		Magapbig: f32(magap - 0.05*r.Float64()), Sigmagapbig: f32(sig * (0.7 + 0.4*r.Float64())),
		Ranr: k.ranr, Decnr: k.decnr,
		Sgmag1: f32(k.ps1[0].g), Srmag1: f32(k.ps1[0].r), Simag1: f32(k.ps1[0].i), Szmag1: f32(k.ps1[0].z),
		Sgscore1: f32(k.ps1[0].score), Distpsnr1: f32(k.ps1[0].dist),
		Scorr:   ptr(d.snr * (0.9 + 0.2*r.Float64())),
		Tooflag: ptr(0), Objectidps1: ptr(k.ps1[0].id), Objectidps2: ptr(k.ps1[1].id),
		Sgmag2: f32(k.ps1[1].g), Srmag2: f32(k.ps1[1].r), Simag2: f32(k.ps1[1].i), Szmag2: f32(k.ps1[1].z),
		Sgscore2: f32(k.ps1[1].score), Distpsnr2: f32(k.ps1[1].dist), Objectidps3: ptr(k.ps1[2].id),
		Sgmag3: f32(k.ps1[2].g), Srmag3: f32(k.ps1[2].r), Simag3: f32(k.ps1[2].i), Szmag3: f32(k.ps1[2].z),
		Sgscore3: f32(k.ps1[2].score), Distpsnr3: f32(k.ps1[2].dist),
		Nmtchps:   k.nmtchps,
		Rbversion: ztfRBVersion, Dsnrms: f32(dsnrms), Ssnrms: f32(ssnrms), Dsdiff: f32(dsnrms - ssnrms),
		Magzpsci: f32(im.zp), Magzpsciunc: f32(im.zpunc), Magzpscirms: f32(im.zprms), Nmatches: im.nmatches,
		Clrcoeff: f32(im.clrcoeff), Clrcounc: f32(im.clrcounc), Zpclrcov: f32(im.zpclrcov), Zpmed: f32(im.zpmed),
		Clrmed: f32(im.clrmed), Clrrms: f32(im.clrrms),
		Neargaia: f32(k.neargaia), Neargaiabright: f32(k.neargaiabright), Maggaia: f32(k.maggaia), Maggaiabright: f32(k.maggaiabright),
		Exptime: f32(ztfExptime), Drb: f32(q.drb), Drbversion: ztfDRBVersion,
	}
	if d.bogus {
		c.Sumrat = f32(0.3 + 0.7*r.Float64())
		c.Classtar = f32(r.Float64())
		c.Nneg = ptr(3 + r.IntN(13))
	}
	if k.ssname != "" {
		c.Ssnamenr = ptr(k.ssname)
		c.Ssdistnr = f32(k.ssdist)
		c.Ssmagnr = f32(mag + k.ssmagOffset)
	}
	// The reference image of a field/filter/quadrant was built once.
	rr := g.rng(streamImage, uint64(im.field)<<16|uint64(im.filter)<<8|uint64(im.unit))
	c.Rfid = int64(im.field)*1_000_000 + 120_000 + int64(im.filter)*100 + int64(im.unit)
	c.Jdstartref = ztfStartJD + 200*rr.Float64()
	c.Jdendref = c.Jdstartref + 20 + 150*rr.Float64()
	c.Nframesref = 15 + rr.IntN(26)
	return c
}

// round7 keeps seven decimals, the precision ZTF publishes positions with.
func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }

func prvFromCandidate(c *ztf.Candidate) ztf.PrvCandidate {
	return ztf.PrvCandidate{
		Jd: c.Jd, Fid: c.Fid, Pid: c.Pid, Diffmaglim: c.Diffmaglim, Pdiffimfilename: c.Pdiffimfilename,
		Programpi: c.Programpi, Programid: c.Programid, Candid: ptr(c.Candid), Isdiffpos: ptr(c.Isdiffpos),
		Tblid: c.Tblid, Nid: c.Nid, Rcid: c.Rcid, Field: c.Field, Xpos: c.Xpos, Ypos: c.Ypos,
		RA: ptr(c.RA), Dec: ptr(c.Dec), Magpsf: ptr(c.Magpsf), Sigmapsf: ptr(c.Sigmapsf), Chipsf: c.Chipsf,
		Magap: c.Magap, Sigmagap: c.Sigmagap, Distnr: c.Distnr, Magnr: c.Magnr, Sigmagnr: c.Sigmagnr,
		Chinr: c.Chinr, Sharpnr: c.Sharpnr, Sky: c.Sky, Magdiff: c.Magdiff, FWHM: c.FWHM, Classtar: c.Classtar,
		Mindtoedge: c.Mindtoedge, Magfromlim: c.Magfromlim, Seeratio: c.Seeratio, Aimage: c.Aimage,
		Bimage: c.Bimage, Aimagerat: c.Aimagerat, Bimagerat: c.Bimagerat, Elong: c.Elong, Nneg: c.Nneg,
		Nbad: c.Nbad, Rb: c.Rb, Ssdistnr: c.Ssdistnr, Ssmagnr: c.Ssmagnr, Ssnamenr: c.Ssnamenr,
		Sumrat: c.Sumrat, Magapbig: c.Magapbig, Sigmagapbig: c.Sigmagapbig, Ranr: ptr(c.Ranr), Decnr: ptr(c.Decnr),
		Scorr: c.Scorr, Magzpsci: c.Magzpsci, Magzpsciunc: c.Magzpsciunc, Magzpscirms: c.Magzpscirms,
		Clrcoeff: c.Clrcoeff, Clrcounc: c.Clrcounc, Rbversion: c.Rbversion,
	}
}

// upperLimit is a prv_candidates entry for an epoch without a detection:
// only the image's fields are set, candid is null.
func upperLimit(im *imageParams) ztf.PrvCandidate {
	return ztf.PrvCandidate{
		Jd: im.jd, Fid: im.filter, Pid: im.pid, Diffmaglim: f32(im.depth),
		Pdiffimfilename: ptr(fmt.Sprintf("/ztf/archive/sci/%s/%s/%s/ztf_%s_%06d_z%s_c%02d_o_q%d_scimrefdiffimg.fits.fz",
			im.stamp[:4], im.stamp[4:8], im.stamp[8:], im.stamp, im.field, ztfFilters[im.filter], im.unit/4+1, im.unit%4+1)),
		Programpi: ptr(ztfPI), Programid: im.programid, Nid: ptr(im.nid), Rcid: ptr(im.unit), Field: ptr(im.field),
		Magzpsci: f32(im.zp), Magzpsciunc: f32(im.zpunc), Magzpscirms: f32(im.zprms),
		Clrcoeff: f32(im.clrcoeff), Clrcounc: f32(im.clrcounc), Rbversion: ztfRBVersion,
	}
}

// forcedPhot is an fp_hists entry: PSF photometry forced at the object's
// position on an earlier image, whether or not it was detected there.
func forcedPhot(r *rand.Rand, im *imageParams, flux float64, k *ztfConsts) ztf.FpHist {
	unc := im.skyNoise * (0.9 + 0.2*r.Float64())
	return ztf.FpHist{
		Field: ptr(im.field), Rcid: ptr(im.unit), Fid: im.filter, Pid: im.pid,
		Rfid:         int64(im.field)*1_000_000 + 120_000 + int64(im.filter)*100 + int64(im.unit),
		Sciinpseeing: f32(im.seeing / ztfCamera.fp.scale), Scibckgnd: f32(im.bg), Scisigpix: f32(im.pixNoise),
		Magzpsci: f32(im.zp), Magzpsciunc: f32(im.zpunc), Magzpscirms: f32(im.zprms),
		Clrcoeff: f32(im.clrcoeff), Clrcounc: f32(im.clrcounc), Exptime: f32(ztfExptime),
		Adpctdif1: f32(im.adpct1), Adpctdif2: f32(im.adpct2), Diffmaglim: f32(im.depth),
		Programid: im.programid, Jd: im.jd,
		Forcediffimflux: f32(flux + unc*r.NormFloat64()), Forcediffimfluxunc: f32(unc),
		Procstatus: ptr("0"),
		Distnr:     f32(sentinelOr(k.refDist, k.refDist*ztfCamera.fp.scale)),
		Ranr:       k.ranr, Decnr: k.decnr, Magnr: f32(k.magnr), Sigmagnr: f32(k.sigmagnr),
		Chinr: f32(k.chinr), Sharpnr: f32(k.sharpnr),
	}
}

func sentinelOr(v, alt float64) float64 {
	if v == sentinel {
		return sentinel
	}
	return alt
}

// historic turns an epoch before tonight into a detection on that epoch's
// image, so it goes through the same candidate derivation.
func (g *Generator) historic(d *detection, e epoch, index int) *detection {
	im := g.ztfImage(e.jd, e.fid, d.img.field, d.unit, e.programid, e.seeing, e.depth)
	h := d.obj.detectedOn(im, d.unit, index, e.snr)
	h.id = im.pid*1_000_000 + int64(index)
	return h
}

func (g *Generator) ztfAlert(d *detection) *ztf.Alert {
	o := d.obj
	k := g.ztfConstsOf(o)
	cand := g.ztfCandidate(d, k)
	r := g.rng(streamDet, uint64(d.id)^0x68697374)

	type entry struct {
		jd  float64
		prv ztf.PrvCandidate
		fp  *ztf.FpHist
	}
	var hist []entry
	pastDets := 0
	for i, e := range k.epochs {
		h := g.historic(d, e, 1000+i)
		var flux float64
		if e.detected {
			pastDets++
			c := g.ztfCandidate(h, k)
			hist = append(hist, entry{jd: e.jd, prv: prvFromCandidate(&c)})
			flux = h.flux
		} else {
			hist = append(hist, entry{jd: e.jd, prv: upperLimit(h.img)})
		}
		fp := forcedPhot(r, h.img, flux, k)
		hist[len(hist)-1].fp = &fp
	}
	for _, prev := range o.dets[:d.hist] {
		c := g.ztfCandidate(prev, k)
		fp := forcedPhot(r, prev.img, prev.flux, k)
		hist = append(hist, entry{jd: c.Jd, prv: prvFromCandidate(&c), fp: &fp})
	}
	sort.SliceStable(hist, func(i, j int) bool { return hist[i].jd < hist[j].jd })
	if len(hist) > g.cfg.HistoryMax {
		hist = hist[len(hist)-g.cfg.HistoryMax:]
	}

	ndethist := 1 + d.hist
	jdstart := d.img.jd
	if d.hist > 0 {
		jdstart = o.dets[0].img.jd
	}
	if o.known {
		ndethist += k.oldDets + pastDets
		jdstart = k.firstJD
	}
	cand.Ndethist = ndethist
	cand.Ncovhist = ndethist + len(k.epochs) - pastDets + k.extraCov
	cand.Jdstarthist = ptr(jdstart)
	cand.Jdendhist = ptr(d.img.jd)

	a := &ztf.Alert{
		Schemavsn: ztfSchemaVersion, Publisher: ztfPublisher,
		ObjectID: g.objectName(o, k), Candid: d.id, Candidate: cand,
	}
	if len(hist) > 0 {
		prv := make([]ztf.PrvCandidate, len(hist))
		fps := make([]ztf.FpHist, 0, len(hist))
		for i, h := range hist {
			prv[i] = h.prv
			if h.fp != nil {
				fps = append(fps, *h.fp)
			}
		}
		a.PrvCandidates = &prv
		a.FpHists = &fps
	}
	if !g.cfg.NoCutouts {
		g.ztfCutouts(a, d, k)
	}
	return a
}
