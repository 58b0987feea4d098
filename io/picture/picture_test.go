package picture

import (
	"cmp"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// Every shared sample packet (ZTF 3.x, LSST 10.0 and 11.1) draws as a PNG
// of the layout's size, with exactly one detection marker per detection in
// the packet and one upper-limit marker per non-detection, as the test
// counts them in its own generic decoding of the packet; each detection's
// marker is drawn in its band's colour at the position Plotted gives; and
// each cutout panel's brightness is monotone in the FITS values.
func TestSamplePictures(t *testing.T) {
	for _, path := range samplePackets(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			msg, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Of(msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			img, markers := render(t, a)
			v := generic(t, msg)
			detections, limits := countPhotometry(t, v)
			checkMarkers(t, img, markers, detections, limits)
			if strings.Contains(path, "ztf") {
				for i, name := range []string{"cutoutScience", "cutoutTemplate", "cutoutDifference"} {
					im, err := fits.DecodeGzip(record(v[name])["stampData"].([]byte))
					if err != nil {
						t.Fatal(err)
					}
					checkPanel(t, img, i, im)
				}
			}
		})
	}
}

// countPhotometry counts, in a generically decoded packet, the detections
// with a magnitude or flux, and the upper limits: ZTF's non-detections with
// a limit, LSST's forced measurements below S/N 5.
func countPhotometry(t *testing.T, v map[string]any) (detections, limits int) {
	t.Helper()
	if c := record(v["candidate"]); c != nil { // ZTF
		detections++
		for _, p := range list(v["prv_candidates"]) {
			p := p.(map[string]any)
			switch {
			case p["candid"] != nil && p["magpsf"] != nil:
				detections++
			case p["candid"] == nil && p["diffmaglim"] != nil:
				limits++
			}
		}
		return detections, limits
	}
	for _, s := range append([]any{v["diaSource"]}, list(v["prvDiaSources"])...) {
		if record(s)["psfFlux"] != nil {
			detections++
		}
	}
	// Forced photometry: a point of its own at S/N ≥ 5, else a limit.
	for _, s := range list(v["prvDiaForcedSources"]) {
		s := s.(map[string]any)
		f, ok1 := unwrap(s["psfFlux"]).(float32)
		e, ok2 := unwrap(s["psfFluxErr"]).(float32)
		if ok1 && ok2 && e > 0 && f/e < 5 {
			limits++
		}
	}
	return detections, limits
}

// checkMarkers checks the markers' counts, and that each detection's
// centre pixel is its band's colour (or that of another detection drawn
// over it).
func checkMarkers(t *testing.T, img image.Image, markers []Marker, detections, limits int) {
	t.Helper()
	var det, lim []Marker
	for _, m := range markers {
		switch {
		case m.Kind.Detected():
			det = append(det, m)
		case m.Kind == UpperLimit:
			lim = append(lim, m)
		}
	}
	if len(det) != detections || len(lim) != limits {
		t.Fatalf("plotted %d detections and %d upper limits; the packet has %d and %d", len(det), len(lim), detections, limits)
	}
	for _, m := range det {
		if !image.Pt(m.X, m.Y).In(image.Rect(frameL, frameT, frameR+1, frameB+1)) {
			t.Errorf("%+v is outside the plot's frame", m)
		}
		got := color.RGBAModel.Convert(img.At(m.X, m.Y)).(color.RGBA)
		ok := slices.ContainsFunc(det, func(o Marker) bool {
			return abs(o.X-m.X) <= radius && abs(o.Y-m.Y) <= radius && BandColour(o.Band) == got
		})
		if !ok {
			t.Errorf("the pixel at %+v is %v, not the colour of a detection there (%s: %v)", m, got, m.Band, BandColour(m.Band))
		}
	}
	// Brighter is up: a detection with a smaller magnitude is never lower.
	for _, m := range det {
		for _, o := range det {
			if m.Mag < o.Mag && m.Y > o.Y {
				t.Fatalf("magnitude axis not inverted: %.2f at y=%d below %.2f at y=%d", m.Mag, m.Y, o.Mag, o.Y)
			}
		}
	}
}

func abs(x int) int { return max(x, -x) }

// checkPanel checks cutout i's panel against the FITS image: over every
// panel pixel, the grey level never decreases as the FITS value grows,
// the stretch spans black to white, NaNs are magenta, and pixel (0,0) is
// at the bottom left.
func checkPanel(t *testing.T, img image.Image, i int, im fits.Image) {
	t.Helper()
	at := PanelOrigin(i)
	type shown struct {
		v    float64
		grey uint8
	}
	var seen []shown
	for py := range Panel {
		for px := range Panel {
			x, y := stampPixel(im.Width, im.Height, px, py)
			c := color.RGBAModel.Convert(img.At(at.X+px, at.Y+py)).(color.RGBA)
			v := float64(im.At(x, y))
			if !finite(v) {
				if c != NaNColour {
					t.Fatalf("panel %d: NaN pixel (%d,%d) drawn %v, want %v", i, x, y, c, NaNColour)
				}
				continue
			}
			if c.R != c.G || c.G != c.B {
				t.Fatalf("panel %d: pixel (%d,%d) drawn %v, not grey", i, x, y, c)
			}
			seen = append(seen, shown{v, c.R})
		}
	}
	slices.SortFunc(seen, func(a, b shown) int { return cmp.Or(cmp.Compare(a.v, b.v), cmp.Compare(a.grey, b.grey)) })
	for k := 1; k < len(seen); k++ {
		if seen[k].grey < seen[k-1].grey {
			t.Fatalf("panel %d: FITS value %g is drawn darker (%d) than %g (%d)", i, seen[k].v, seen[k].grey, seen[k-1].v, seen[k-1].grey)
		}
	}
	if lo, hi := seen[0], seen[len(seen)-1]; lo.grey != 0 || hi.grey != 255 {
		t.Fatalf("panel %d: the faintest pixel (%g) is grey %d and the brightest (%g) %d; want 0 and 255", i, lo.v, lo.grey, hi.v, hi.grey)
	}
	if x, y := stampPixel(im.Width, im.Height, 0, Panel-1); x != 0 || y != 0 {
		t.Fatalf("the panel's bottom-left pixel shows stamp pixel (%d,%d), want (0,0)", x, y)
	}
	if x, y := stampPixel(im.Width, im.Height, Panel-1, 0); x != im.Width-1 || y != im.Height-1 {
		t.Fatalf("the panel's top-right pixel shows stamp pixel (%d,%d), want (%d,%d)", x, y, im.Width-1, im.Height-1)
	}
}

// Simulated alerts with cutouts (ZTF gzip'd FITS; LSST plain FITS with
// the image in an extension) and histories draw too, with the same
// checks; a NaN put into a stamp is drawn magenta.
func TestSimulatedPictures(t *testing.T) {
	for _, survey := range []string{sim.SurveyZTF, sim.SurveyLSST} {
		t.Run(survey, func(t *testing.T) {
			c := sim.Defaults(survey)
			c.Night, c.Seed, c.Visits, c.AlertsPerVisit = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 3, 1, 5
			g := simtest.New(t, c)
			codec, err := framing.New(survey, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for al, ok := g.Next(); ok; al, ok = g.Next() {
				n++
				var a Alert
				var v any = al.ZTF
				if survey == sim.SurveyLSST {
					v = al.LSST
				}
				msg, err := codec.EncodeContainer(v)
				if err != nil {
					t.Fatal(err)
				}
				if a, err = Of(msg, nil); err != nil {
					t.Fatal(err)
				}
				for i, im := range a.Cutouts {
					if im == nil {
						t.Fatalf("alert %d: no %s cutout", n, cutoutNames[i])
					}
				}
				sci := a.Cutouts[Science]
				sci.Pix = slices.Clone(sci.Pix)
				sci.Pix[sci.Width+1] = float32(math.NaN()) // pixel (1,1)
				img, markers := render(t, a)
				det, lim := countPhotometry(t, generic(t, msg))
				checkMarkers(t, img, markers, det, lim)
				for i, im := range a.Cutouts {
					checkPanel(t, img, i, *im)
				}
			}
			if n != 5 {
				t.Fatalf("simulated %d alerts, want 5", n)
			}
		})
	}
}

// The stretch's limits are the 0.5th and 99.5th percentiles as NumPy
// (and so astropy's AsymmetricPercentileInterval) computes them.
func TestPercentileAsAstropy(t *testing.T) {
	py := venvPython(t)
	msg, err := os.ReadFile(samplePackets(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	a, err := Of(msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	im := a.Cutouts[Science]
	s := newStretch(im.Pix)
	var want [2]float64
	astropyLimits(t, py, im.Pix, &want)
	for i, got := range []float64{s.lo, s.hi} {
		if math.Abs(got-want[i]) > 1e-9*max(1, math.Abs(want[i])) {
			t.Errorf("limit %d: %v, astropy says %v", i, got, want[i])
		}
	}
}
