package picture

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Marker is a light-curve point and the centre of its marker in the
// picture.
type Marker struct {
	Point
	X, Y int
}

// The light curve's frame: a legend of two lines above, tick labels and
// the time axis's title below, magnitude labels to the left.
const (
	frameL = Margin + 50
	frameR = Width - Margin - 10
	frameT = PlotTop + 2*lineH
	frameB = PlotTop + PlotH - 2*lineH
	radius = 3 // of a marker
)

// bandColours are the bands' colours, blue to red.
var bandColours = map[string]color.RGBA{
	"u": {120, 0, 200, 255},
	"g": {0, 150, 0, 255},
	"r": {220, 0, 0, 255},
	"i": {210, 130, 0, 255},
	"z": {120, 70, 20, 255},
	"y": {60, 60, 60, 255},
}

// unknownBand colours points whose band is not one of bandColours.
var unknownBand = color.RGBA{0, 0, 220, 255}

// BandColour is the colour a band's points are drawn in.
func BandColour(band string) color.RGBA {
	if c, ok := bandColours[band]; ok {
		return c
	}
	return unknownBand
}

// axes are the light curve's ranges.
type axes struct {
	ref, tLo, tHi float64 // times are days since ref (MJD)
	mLo, mHi      float64 // magnitudes; mLo at the top
}

// axesOf fits the ranges to the points, with a margin.
func axesOf(pts []Point, ref float64) axes {
	ax := axes{ref: ref, tLo: math.Inf(1), tHi: math.Inf(-1), mLo: math.Inf(1), mHi: math.Inf(-1)}
	for _, p := range pts {
		t := p.MJD - ref
		ax.tLo, ax.tHi = min(ax.tLo, t), max(ax.tHi, t)
		ax.mLo, ax.mHi = min(ax.mLo, p.Mag-p.Err), max(ax.mHi, p.Mag+p.Err)
	}
	if len(pts) == 0 {
		return axes{ref: ref, tLo: -1, tHi: 1, mLo: 18, mHi: 22}
	}
	if pad := 0.05 * (ax.tHi - ax.tLo); pad > 0 {
		ax.tLo, ax.tHi = ax.tLo-pad, ax.tHi+pad
	} else {
		ax.tLo, ax.tHi = ax.tLo-1, ax.tHi+1
	}
	pad := max(0.1*(ax.mHi-ax.mLo), 0.2)
	ax.mLo, ax.mHi = ax.mLo-pad, ax.mHi+pad
	return ax
}

func (ax axes) x(t float64) int {
	return frameL + int(math.Round((t-ax.tLo)/(ax.tHi-ax.tLo)*float64(frameR-frameL)))
}

func (ax axes) y(mag float64) int {
	return frameT + int(math.Round((mag-ax.mLo)/(ax.mHi-ax.mLo)*float64(frameB-frameT)))
}

// reference is the time the axis counts from: the latest detection (the
// alert's own), else the latest point.
func reference(pts []Point) float64 {
	ref, found := 0.0, false
	for _, p := range pts {
		if p.Kind.Detected() && (!found || p.MJD > ref) {
			ref, found = p.MJD, true
		}
	}
	if !found && len(pts) > 0 {
		ref = pts[len(pts)-1].MJD
	}
	return ref
}

// Plotted returns every point of the light curve with the centre of its
// marker in the picture Draw makes: one marker per point, in the points'
// order.
func Plotted(pts []Point) []Marker {
	ax := axesOf(pts, reference(pts))
	out := make([]Marker, len(pts))
	for i, p := range pts {
		out[i] = Marker{Point: p, X: ax.x(p.MJD - ax.ref), Y: ax.y(p.Mag)}
	}
	return out
}

// drawLightCurve draws the frame, ticks, legend and markers.
func drawLightCurve(img *image.RGBA, pts []Point, markers []Marker) {
	ax := axesOf(pts, reference(pts))
	black := color.RGBA{0, 0, 0, 255}
	rect(img, image.Rect(frameL, frameT, frameR+1, frameB+1), black)
	mt, md := ticks(ax.mLo, ax.mHi)
	for _, m := range mt {
		y := ax.y(m)
		hline(img, frameL-4, frameL, y, black)
		s := strconv.FormatFloat(m, 'f', md, 64)
		text(img, frameL-6-textWidth(s), y+4, s, black)
	}
	text(img, Margin, frameT-4, "AB mag", black)
	tt, td := ticks(ax.tLo, ax.tHi)
	for _, t := range tt {
		x := ax.x(t)
		vline(img, x, frameB, frameB+4, black)
		s := strconv.FormatFloat(t, 'f', td, 64)
		text(img, x-textWidth(s)/2, frameB+16, s, black)
	}
	title := fmt.Sprintf("days since the alert (MJD %.4f)", ax.ref)
	if len(pts) == 0 {
		title = "no photometry in this packet"
	}
	text(img, (frameL+frameR-textWidth(title))/2, frameB+2*lineH-2, title, black)
	legend(img, pts)

	// Limits and forced points first, detections (with error bars) on top.
	for _, m := range markers {
		c := BandColour(m.Band)
		switch m.Kind {
		case UpperLimit:
			triangleDown(img, m.X, m.Y, c)
		case Forced:
			rect(img, image.Rect(m.X-radius, m.Y-radius, m.X+radius+1, m.Y+radius+1), c)
		}
	}
	for _, m := range markers {
		if m.Kind.Detected() && m.Err > 0 {
			vline(img, m.X, ax.y(m.Mag-m.Err), ax.y(m.Mag+m.Err), BandColour(m.Band))
		}
	}
	for _, m := range markers {
		switch m.Kind {
		case Detection:
			disc(img, m.X, m.Y, BandColour(m.Band))
		case Negative:
			square(img, m.X, m.Y, BandColour(m.Band))
		}
	}
}

// legend names the bands present in their colours, and the markers.
func legend(img *image.RGBA, pts []Point) {
	var bands []string
	for _, p := range pts {
		if !slices.Contains(bands, p.Band) {
			bands = append(bands, p.Band)
		}
	}
	slices.SortFunc(bands, func(a, b string) int {
		return cmp.Or(cmp.Compare(bandRank(a), bandRank(b)), cmp.Compare(a, b))
	})
	x, y := frameL, PlotTop+12
	text(img, x, y, "bands:", grey(60))
	x += textWidth("bands: ")
	for _, b := range bands {
		disc(img, x+radius, y-4, BandColour(b))
		text(img, x+2*radius+4, y, b, BandColour(b))
		x += 2*radius + 4 + textWidth(b+"  ")
	}
	x, y = frameL, PlotTop+lineH+12
	dark := grey(60)
	for _, k := range []struct {
		draw  func(*image.RGBA, int, int, color.RGBA)
		label string
	}{
		{disc, "detection"},
		{square, "negative difference"},
		{triangleDown, "upper limit"},
		{openSquare, "forced S/N>=5"},
	} {
		k.draw(img, x+radius, y-4, dark)
		text(img, x+2*radius+4, y, k.label, dark)
		x += 2*radius + 4 + textWidth(k.label+"   ")
	}
}

// bandRank orders bands blue to red, unknown ones last.
func bandRank(b string) int {
	if i := strings.Index("ugrizy", b); i >= 0 && len(b) == 1 {
		return i
	}
	return 6
}

func disc(img *image.RGBA, cx, cy int, c color.RGBA) {
	for dy := -radius; dy <= radius; dy++ {
		for dx := -radius; dx <= radius; dx++ {
			if dx*dx+dy*dy <= radius*radius+1 {
				img.SetRGBA(cx+dx, cy+dy, c)
			}
		}
	}
}

func square(img *image.RGBA, cx, cy int, c color.RGBA) {
	for dy := -radius; dy <= radius; dy++ {
		hline(img, cx-radius, cx+radius, cy+dy, c)
	}
}

func openSquare(img *image.RGBA, cx, cy int, c color.RGBA) {
	rect(img, image.Rect(cx-radius, cy-radius, cx+radius+1, cy+radius+1), c)
}

// triangleDown is an open triangle pointing down, to fainter magnitudes.
func triangleDown(img *image.RGBA, cx, cy int, c color.RGBA) {
	const h = radius + 1
	hline(img, cx-h, cx+h, cy-h, c)
	for i := 0; i <= 2*h; i++ {
		img.SetRGBA(cx-h+i/2, cy-h+i, c)
		img.SetRGBA(cx+h-i/2, cy-h+i, c)
	}
}

// ticks are round values between lo and hi, about six of them, and the
// decimals their labels need.
func ticks(lo, hi float64) ([]float64, int) {
	if !(hi > lo) {
		return nil, 0
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, f := range []float64{1, 2, 5, 10} {
		if f*mag >= raw {
			step = f * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, math.Round(v/step)*step)
	}
	return out, max(0, -int(math.Floor(math.Log10(step)+1e-9)))
}
