package filter

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/alertbeam/alertbeam/io/fits"
)

// stampSourceHalf is the half-width of the central box left out of the
// noise estimate: 7 pixels each side of the centre (a 15x15 box) holds the
// PSF of a point source in both surveys' stamps (ZTF: ~2 px FWHM at
// 1"/px; Rubin: ~4 px at 0.2"/px).
const stampSourceHalf = 7

// errNoNoise marks a stamp whose noise cannot be estimated.
var errNoNoise = errors.New("difference stamp has no noise to measure (MAD 0 or too few pixels)")

// StampSNR measures the central signal-to-noise ratio of a difference
// stamp (FITS bytes, gzip'd or not): |centre - median| / (1.4826 MAD),
// where the centre is pixel (W/2, H/2) (integer division) and the median
// and median absolute deviation are taken over the pixels outside the
// central 15x15 box, NaNs left out. 1.4826 MAD estimates a Gaussian σ, and
// unlike a standard deviation ignores the field stars and cosmic rays a
// stamp may hold.
func StampSNR(stamp []byte) (float64, error) {
	im, err := fits.DecodeAuto(stamp)
	if err != nil {
		return 0, err
	}
	cx, cy := im.Width/2, im.Height/2
	centre := float64(im.At(cx, cy))
	if math.IsNaN(centre) {
		return 0, fmt.Errorf("difference stamp's centre pixel is NaN")
	}
	bg := make([]float64, 0, len(im.Pix))
	for y := range im.Height {
		for x := range im.Width {
			if abs(x-cx) <= stampSourceHalf && abs(y-cy) <= stampSourceHalf {
				continue
			}
			if v := float64(im.At(x, y)); !math.IsNaN(v) {
				bg = append(bg, v)
			}
		}
	}
	if len(bg) < 16 {
		return 0, errNoNoise
	}
	med := median(bg)
	for i, v := range bg {
		bg[i] = math.Abs(v - med)
	}
	sigma := 1.4826 * median(bg)
	if !(sigma > 0) {
		return 0, errNoNoise
	}
	return math.Abs(centre-med) / sigma, nil
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// median sorts v in place.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func cutoutFilter(_ string, p Params) (*Filter, error) {
	lo, err := rangeParam(p, "min", 0, math.Inf(1))
	if err != nil {
		return nil, err
	}
	return New("cutoutsnr", fmt.Sprintf("difference stamp central S/N >= %v", lo), func(a *Alert) (bool, error) {
		var stamp []byte
		if a.ZTF != nil {
			if c := a.ZTF.CutoutDifference; c != nil {
				stamp = c.StampData
			}
		} else if c := a.LSST.CutoutDifference; c != nil {
			stamp = *c
		}
		if len(stamp) == 0 {
			return false, missing("cutoutDifference")
		}
		snr, err := StampSNR(stamp)
		if err != nil {
			return false, err
		}
		return snr >= lo, nil
	}), nil
}
