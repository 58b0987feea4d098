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

// median reorders v. Selection rather than sorting: a stamp has ~3,700
// noise pixels and two medians to find, and sorting them cost more than
// decoding the whole packet.
func median(v []float64) float64 {
	n := len(v)
	hi := selectKth(v, n/2)
	if n%2 == 1 {
		return hi
	}
	// selectKth leaves the n/2 smallest values in front.
	return (slices.Max(v[:n/2]) + hi) / 2
}

// selectKth returns the k-th smallest value of v (0-based) and reorders v
// so that v[:k] holds values <= it and v[k+1:] values >= it: Hoare's
// quickselect with a median-of-three pivot, linear time on average. v holds
// no NaN.
func selectKth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		p := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k] // between the partitions: equal to the pivot
		}
	}
	return v[k]
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
