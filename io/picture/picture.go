package picture

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// The layout, in pixels: a title line; the three cutout panels with their
// names above and a two-line caption below; the light curve.
const (
	Margin   = 10
	Panel    = 192 // side of a cutout panel
	Width    = 3*Panel + 4*Margin
	lineH    = 16 // one line of basicfont's 7×13 text
	PanelTop = Margin + 2*lineH
	PlotTop  = PanelTop + Panel + 2*lineH + Margin
	PlotH    = 300
	Height   = PlotTop + PlotH + Margin
)

// The cutouts, in the order they are drawn.
const (
	Science = iota
	Template
	Difference
)

var cutoutNames = [3]string{"science", "template", "difference"}

// Alert is what a picture shows.
type Alert struct {
	Title   string
	Cutouts [3]*fits.Image // Science, Template, Difference; nil: none
	// Problems notes cutouts that could not be read, for the caption.
	Problems []string
	Points   []Point
}

// PanelOrigin is the top-left corner of cutout i's panel.
func PanelOrigin(i int) image.Point { return image.Pt(Margin+i*(Panel+Margin), PanelTop) }

// OfZTF is what the picture of a ZTF alert shows.
func OfZTF(a *ztf.Alert) Alert {
	p := Alert{Title: fmt.Sprintf("ZTF candid %d  object %s", a.Candid, a.ObjectID), Points: ZTFPoints(a)}
	for i, c := range []*ztf.Cutout{a.CutoutScience, a.CutoutTemplate, a.CutoutDifference} {
		if c != nil {
			p.cutout(i, c.StampData)
		}
	}
	return p
}

// OfLSST is what the picture of an LSST alert shows.
func OfLSST(a *lsst.Alert) Alert {
	p := Alert{Title: fmt.Sprintf("LSST diaSourceId %d  visit %d  detector %d", a.DiaSourceID, a.DiaSource.Visit, a.DiaSource.Detector),
		Points: LSSTPoints(a)}
	for i, c := range []*[]byte{a.CutoutScience, a.CutoutTemplate, a.CutoutDifference} {
		if c != nil {
			p.cutout(i, *c)
		}
	}
	return p
}

// cutout decodes a stamp (FITS, gzip'd or not); one that does not decode
// is left out and noted.
func (p *Alert) cutout(i int, b []byte) {
	if len(b) == 0 {
		return
	}
	im, err := fits.DecodeAuto(b)
	if err != nil || im.Width == 0 || im.Height == 0 {
		p.Problems = append(p.Problems, fmt.Sprintf("%s cutout unreadable: %v", cutoutNames[i], err))
		return
	}
	p.Cutouts[i] = &im
}

// Draw renders the picture; Markers says where each light-curve point is.
func Draw(a Alert) (*image.RGBA, []Marker) {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, Margin, Margin+11, a.Title, color.Black)
	orient := ""
	for i, im := range a.Cutouts {
		at := PanelOrigin(i)
		text(img, at.X, at.Y-5, cutoutNames[i], color.Black)
		if im == nil {
			rect(img, image.Rectangle{Min: at, Max: at.Add(image.Pt(Panel, Panel))}, grey(200))
			text(img, at.X+Panel/2-30, at.Y+Panel/2, "no cutout", grey(120))
			continue
		}
		drawStamp(img, at, *im)
		if orient == "" {
			orient = orientation(*im)
		}
	}
	caption := []string{"asinh stretch, 0.5-99.5 percentile; NaN pixels magenta", orient}
	if orient == "" {
		caption = []string{"no cutouts in this packet"}
	}
	if len(a.Problems) > 0 {
		caption = append(caption[:1], a.Problems[0])
	}
	for i, line := range caption {
		text(img, Margin, PanelTop+Panel+12+i*lineH, line, grey(60))
	}
	markers := Plotted(a.Points)
	drawLightCurve(img, a.Points, markers)
	return img, markers
}

// Encode writes the picture as PNG and returns where each light-curve
// point is drawn.
func Encode(w io.Writer, a Alert) ([]Marker, error) {
	img, markers := Draw(a)
	bw := bufio.NewWriter(w)
	if err := png.Encode(bw, img); err != nil {
		return nil, fmt.Errorf("picture: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("picture: %w", err)
	}
	return markers, nil
}

func grey(v uint8) color.RGBA { return color.RGBA{v, v, v, 255} }

// text draws s with its baseline at y.
func text(dst draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// textWidth is the width of s in pixels.
func textWidth(s string) int { return font.MeasureString(basicfont.Face7x13, s).Round() }

// rect draws a rectangle's outline.
func rect(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	hline(dst, r.Min.X, r.Max.X-1, r.Min.Y, c)
	hline(dst, r.Min.X, r.Max.X-1, r.Max.Y-1, c)
	vline(dst, r.Min.X, r.Min.Y, r.Max.Y-1, c)
	vline(dst, r.Max.X-1, r.Min.Y, r.Max.Y-1, c)
}

func hline(dst *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := min(x0, x1); x <= max(x0, x1); x++ {
		dst.SetRGBA(x, y, c)
	}
}

func vline(dst *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := min(y0, y1); y <= max(y0, y1); y++ {
		dst.SetRGBA(x, y, c)
	}
}
