package picture

import (
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/alertbeam/alertbeam/io/fits"
)

// NaNColour marks pixels without a value (NaN, ±Inf): no grey level can
// be mistaken for it.
var NaNColour = color.RGBA{255, 0, 255, 255}

// Stretch limits, as percentiles of a stamp's finite pixels, and the
// asinh softening: larger shows faint structure more.
const (
	lowPercentile  = 0.5
	highPercentile = 99.5
	asinhSoftening = 10
)

// stretch maps a stamp's values to grey levels.
type stretch struct{ lo, hi float64 }

// newStretch takes the limits from the stamp's finite pixels.
func newStretch(pix []float32) stretch {
	vals := make([]float64, 0, len(pix))
	for _, v := range pix {
		if finite(float64(v)) {
			vals = append(vals, float64(v))
		}
	}
	slices.Sort(vals)
	return stretch{percentile(vals, lowPercentile), percentile(vals, highPercentile)}
}

// percentile of sorted values, interpolated linearly between the two
// nearest ranks (NumPy's default, so astropy's PercentileInterval agrees).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	r := p / 100 * float64(len(sorted)-1)
	i := int(math.Floor(r))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (r-float64(i))*(sorted[i+1]-sorted[i])
}

// grey is the level of value v: 0 at or below lo, 255 at or above hi,
// asinh in between; non-decreasing in v.
func (s stretch) grey(v float64) uint8 {
	if s.hi <= s.lo {
		if v > s.lo {
			return 255
		}
		return 0
	}
	t := min(max((v-s.lo)/(s.hi-s.lo), 0), 1)
	return uint8(math.Round(255 * math.Asinh(asinhSoftening*t) / math.Asinh(asinhSoftening)))
}

// stampPixel is the stamp pixel that panel pixel (px, py) shows: the
// stamp fills the Panel × Panel square (nearest neighbour), row 0 of the
// stamp at the bottom.
func stampPixel(w, h, px, py int) (x, y int) {
	return px * w / Panel, h - 1 - py*h/Panel
}

// drawStamp draws a stamp into the panel whose top-left corner is at.
func drawStamp(dst *image.RGBA, at image.Point, im fits.Image) {
	s := newStretch(im.Pix)
	for py := range Panel {
		for px := range Panel {
			x, y := stampPixel(im.Width, im.Height, px, py)
			v := float64(im.At(x, y))
			c := NaNColour
			if finite(v) {
				g := s.grey(v)
				c = color.RGBA{g, g, g, 255}
			}
			dst.SetRGBA(at.X+px, at.Y+py, c)
		}
	}
}

// orientation says how a stamp lies on the sky, from its WCS (CDi_j or
// PCi_j): "north up, east left" only when the axes are within ~6° of it;
// otherwise only where pixel (0,0) is.
func orientation(im fits.Image) string {
	cd := func(prefix string) (m [2][2]float64, ok bool) {
		for i := range 2 {
			for j := range 2 {
				v, found := im.FloatValue(prefix + string(rune('1'+i)) + "_" + string(rune('1'+j)))
				if !found {
					return m, false
				}
				m[i][j] = v
			}
		}
		return m, true
	}
	m, ok := cd("CD")
	if !ok {
		m, ok = cd("PC")
	}
	if !ok {
		return "pixel (0,0) at bottom left; no WCS in the stamp: orientation on the sky unknown"
	}
	// Row 1 is RA (east), row 2 Dec (north), per unit step in x and y.
	northUp := m[1][1] > 0 && math.Abs(m[1][0]) < 0.1*math.Abs(m[1][1])
	eastLeft := m[0][0] < 0 && math.Abs(m[0][1]) < 0.1*math.Abs(m[0][0])
	if northUp && eastLeft {
		return "north up, east left (from the stamp's WCS); pixel (0,0) at bottom left"
	}
	return "pixel (0,0) at bottom left; WCS not north up, east left (drawn unrotated)"
}
