package skymap

import (
	"math"
	"slices"

	"github.com/alertbeam/alertbeam/io/fits"
)

// EncodeCone writes the FITS file of an all-sky multi-order map (order-6
// cells, about 0.9° wide, over the cone; order 3 elsewhere) whose probability density falls linearly from the
// direction (ra, dec) to zero at radius degrees: a stand-in for an event's
// sky map in tests and simulations, readable by ligo.skymap too. A cell's
// density is that of the first grid point (0.05° apart) found in it.
func EncodeCone(ra, dec, radius float64) ([]byte, error) {
	const order = 6
	n := 12 << (2 * order)
	density := make([]float64, n)
	seen := make([]bool, n)
	cosDec := math.Cos(dec * math.Pi / 180)
	const step = 0.05
	for d := math.Max(-90, dec-radius); d <= math.Min(90, dec+radius); d += step {
		span := 360.0
		if c := math.Cos(d * math.Pi / 180); c > 1e-9 {
			span = math.Min(360, 2*radius/math.Min(c, cosDec+1e-9)+2*step)
		}
		for dr := -span / 2; dr <= span/2; dr += step {
			r := math.Mod(ra+dr+360, 360)
			sep := angle(ra, dec, r, d)
			if sep >= radius {
				continue
			}
			p := nestPixel(order, r, d)
			if !seen[p] {
				seen[p], density[p] = true, 1-sep/radius
			}
		}
	}
	// Multi-order, as real maps are: order-3 cells where the cone is not,
	// each split into its 64 order-6 cells where it is.
	const coarse, children = 3, 1 << (2 * (order - 3))
	var uniq []int64
	var dens []float64
	for c := range 12 << (2 * coarse) {
		if !slices.ContainsFunc(seen[c*children:(c+1)*children], func(b bool) bool { return b }) {
			uniq, dens = append(uniq, int64(4<<(2*coarse)+c)), append(dens, 0)
			continue
		}
		for i := c * children; i < (c+1)*children; i++ {
			uniq, dens = append(uniq, int64(4<<(2*order)+i)), append(dens, density[i])
		}
	}
	return fits.EncodeTable([]fits.TableColumn{
		{Name: "UNIQ", Int64: uniq},
		{Name: "PROBDENSITY", Unit: "sr-1", Float64: dens},
	})
}

// angle is the angle in degrees between two directions given in degrees.
func angle(ra1, dec1, ra2, dec2 float64) float64 {
	r := math.Pi / 180
	h := math.Pow(math.Sin((dec2-dec1)*r/2), 2) + math.Cos(dec1*r)*math.Cos(dec2*r)*math.Pow(math.Sin((ra2-ra1)*r/2), 2)
	return 2 * math.Asin(math.Min(1, math.Sqrt(h))) / r
}
