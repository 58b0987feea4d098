package sim

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// StampSize is the side of every cutout, in pixels; the candidate sits on
// the centre pixel (StampSize/2, StampSize/2).
const StampSize = 63

// NoiseClip bounds the stamps' Gaussian noise, in standard deviations.
// Real stamps have heavier tails (cosmic rays, hot pixels); a bound lets
// tests reason exactly about the centre pixel.
const NoiseClip = 4.0

// noisePoolSize standard normal deviates are drawn once per generator;
// each stamp reads a window at a random offset. Drawing 12,000 fresh
// deviates per alert would cost as much as compressing its stamps.
const noisePoolSize = 1 << 18

func noisePool(seed int64) []float32 {
	r := rand.New(rand.NewPCG(uint64(seed)^streamNoise, 0))
	p := make([]float32, noisePoolSize)
	for i := range p {
		z := r.NormFloat64()
		for math.Abs(z) > NoiseClip {
			z = r.NormFloat64()
		}
		p[i] = float32(z)
	}
	return p
}

// source is a 2-D Gaussian in stamp pixel coordinates.
type source struct {
	x, y, sigma, flux float64
}

// scene is what a stamp shows around an object besides the transient: a
// host or the star it sits on, a few field stars, maybe a saturated star.
type scene struct {
	hostDX, hostDY, hostSigma, hostFlux float64
	stars                               [3]source
}

// render fills pix with background plus clipped Gaussian noise plus
// sources.
func (g *Generator) render(pix []float32, r *rand.Rand, bg, sigma float64, srcs []source) {
	off := r.IntN(len(g.noise) - len(pix))
	noise := g.noise[off : off+len(pix)]
	b, s := float32(bg), float32(sigma)
	for i, z := range noise {
		pix[i] = b + s*z
	}
	for _, src := range srcs {
		addGaussian(pix, src)
	}
}

// addGaussian adds a Gaussian of total flux src.flux, separably and only
// within five sigma, which keeps a stamp to a few thousand multiply-adds.
func addGaussian(pix []float32, src source) {
	if src.flux == 0 || src.sigma <= 0 {
		return
	}
	reach := 5 * src.sigma
	x0, x1 := max(0, int(math.Floor(src.x-reach))), min(StampSize-1, int(math.Ceil(src.x+reach)))
	y0, y1 := max(0, int(math.Floor(src.y-reach))), min(StampSize-1, int(math.Ceil(src.y+reach)))
	if x0 > x1 || y0 > y1 {
		return
	}
	var gx [StampSize]float64
	k := -0.5 / (src.sigma * src.sigma)
	for x := x0; x <= x1; x++ {
		dx := float64(x) - src.x
		gx[x] = math.Exp(k * dx * dx)
	}
	amp := src.flux / (2 * math.Pi * src.sigma * src.sigma)
	for y := y0; y <= y1; y++ {
		dy := float64(y) - src.y
		ay := amp * math.Exp(k*dy*dy)
		row := pix[y*StampSize : (y+1)*StampSize]
		for x := x0; x <= x1; x++ {
			row[x] += float32(ay * gx[x])
		}
	}
}

// addLine adds a trail or streak through the stamp centre: a ridge of
// width sigma at angle (radians from +y), peak amp.
func addLine(pix []float32, angle, sigma, amp float64) {
	c := float64(StampSize / 2)
	nx, ny := math.Cos(angle), -math.Sin(angle) // normal to the line
	k := -0.5 / (sigma * sigma)
	for y := range StampSize {
		for x := range StampSize {
			d := (float64(x)-c)*nx + (float64(y)-c)*ny
			if d*d < 25*sigma*sigma {
				pix[y*StampSize+x] += float32(amp * math.Exp(k*d*d))
			}
		}
	}
}

// PeakAmplitude is the centre-pixel value a point source of the given flux
// adds to a difference stamp whose PSF has the given FWHM in pixels; tests
// compare it with the centre pixel.
func PeakAmplitude(flux, fwhmPixels float64) float64 {
	s := fwhmPixels / 2.3548
	return flux / (2 * math.Pi * s * s)
}

// stampTriple renders science, template and difference images for a
// detection. The difference shows |flux| at the centre (ZTF flips the
// subtraction for fading sources, and Rubin's negative sources are drawn
// negative by the caller passing a signed diffFlux).
func (g *Generator) stampTriple(d *detection, sc scene, bg, sciFlux, diffFlux float64) (sci, tmpl, diff []float32) {
	r := g.rng(streamStamp, uint64(d.id))
	im := d.img
	c := float64(StampSize / 2)
	psf := im.psfSigma
	tpsf := psf * 0.9 // references are coadds of good-seeing images
	var srcs [5]source
	scn := func(ps float64) []source {
		s := srcs[:0]
		hs := math.Hypot(ps, sc.hostSigma)
		s = append(s, source{x: c + sc.hostDX, y: c + sc.hostDY, sigma: hs, flux: sc.hostFlux})
		for _, st := range sc.stars {
			s = append(s, source{x: c + st.x, y: c + st.y, sigma: ps, flux: st.flux})
		}
		return s
	}
	n := StampSize * StampSize
	buf := make([]float32, 3*n)
	sci, tmpl, diff = buf[:n:n], buf[n:2*n:2*n], buf[2*n:]

	g.render(tmpl, r, bg, im.pixNoise*0.27, scn(tpsf))
	s := append(scn(psf), source{x: c, y: c, sigma: psf, flux: sciFlux})
	g.render(sci, r, bg, im.pixNoise, s)
	g.render(diff, r, 0, im.pixNoise*1.05, []source{{x: c, y: c, sigma: psf, flux: diffFlux}})
	if !math.IsNaN(d.lineAngle) {
		addLine(diff, d.lineAngle, psf, 0.4*PeakAmplitude(math.Abs(diffFlux), psf*2.3548))
	}
	return sci, tmpl, diff
}

// wcs returns TAN projection cards centred on the stamp's middle pixel.
func wcs(ra, dec, scale float64) []fits.Card {
	cd := scale / 3600
	return []fits.Card{
		{Key: "CTYPE1", Value: "RA---TAN"},
		{Key: "CTYPE2", Value: "DEC--TAN"},
		{Key: "CRPIX1", Value: float64(StampSize/2 + 1)},
		{Key: "CRPIX2", Value: float64(StampSize/2 + 1)},
		{Key: "CRVAL1", Value: ra},
		{Key: "CRVAL2", Value: dec},
		{Key: "CD1_1", Value: -cd},
		{Key: "CD1_2", Value: 0.0},
		{Key: "CD2_1", Value: 0.0},
		{Key: "CD2_2", Value: cd},
	}
}

func magToFlux(mag, zp float64) float64 {
	if mag == sentinel || mag == 0 {
		return 0
	}
	return math.Pow(10, -0.4*(mag-zp))
}

func (g *Generator) ztfCutouts(a *ztf.Alert, d *detection, k *ztfConsts) {
	im := d.img
	sc := scene{hostDX: k.hostDX, hostDY: k.hostDY, hostSigma: k.hostSigma, hostFlux: magToFlux(k.hostMag, im.zp)}
	for i, st := range k.fieldStars {
		sc.stars[i] = source{x: st[0], y: st[1], flux: magToFlux(st[2], im.zp)}
	}
	if d.obj.starMag != 0 {
		sc.hostSigma = 0
	}
	sciFlux := d.flux
	sci, tmpl, diff := g.stampTriple(d, sc, im.bg, sciFlux, math.Abs(d.flux))
	// Stars brighter than the full well saturate.
	for _, p := range [][]float32{sci, tmpl} {
		for i, v := range p {
			if v > 65000 {
				p[i] = 65000
			}
		}
	}

	sub := "scimref"
	if d.flux < 0 {
		sub = "refmsci"
	}
	t := alert.JDTime(im.jd)
	header := func(extname string) []fits.Card {
		h := []fits.Card{
			{Key: "BUNIT", Value: "DN"},
			{Key: "EXTNAME", Value: extname},
			{Key: "OBJECT", Value: a.ObjectID},
			{Key: "CANDID", Value: d.id},
			{Key: "DATE-OBS", Value: t.Format("2006-01-02T15:04:05.000")},
			{Key: "MJD-OBS", Value: im.jd - 2400000.5},
			{Key: "FILTER", Value: "ZTF_" + ztfFilters[im.filter]},
			{Key: "MAGZP", Value: math.Round(im.zp*1e4) / 1e4},
		}
		return append(h, wcs(a.Candidate.RA, a.Candidate.Dec, ztfCamera.fp.scale)...)
	}
	enc := func(pix []float32, extname string) []byte {
		b, err := g.gz.Encode(fits.Image{Width: StampSize, Height: StampSize, Pix: pix, Header: header(extname)})
		if err != nil {
			panic(fmt.Sprintf("sim: encoding a stamp: %v", err)) // the cards are ours and valid
		}
		return b
	}
	a.CutoutScience = &ztf.Cutout{
		FileName:  fmt.Sprintf("candid%d_pid%d_targ_sci.fits.gz", d.id, im.pid),
		StampData: enc(sci, "SCIENCE"),
	}
	a.CutoutTemplate = &ztf.Cutout{
		FileName:  fmt.Sprintf("candid%d_ref.fits.gz", d.id),
		StampData: enc(tmpl, "TEMPLATE"),
	}
	a.CutoutDifference = &ztf.Cutout{
		FileName:  fmt.Sprintf("candid%d_pid%d_targ_%s.fits.gz", d.id, im.pid, sub),
		StampData: enc(diff, "DIFFERENCE"),
	}
}
