package catalog

import (
	"iter"
	"math"
)

// Tolerance is the slack, in arcsec, of the inclusive boundary: an entry
// is within r of a position when its separation is at most r + Tolerance.
// Separations are computed in float64 to about 1e-11 arcsec; the slack
// (1 µas, far below any catalog's astrometric precision) makes a point
// placed at exactly r from a star, by this package or another tool (whose
// trigonometry may differ in the last bit), count as inside.
const Tolerance = 1e-6

// Match is an entry found by a cone search.
type Match struct {
	Entry int     // the entry's index
	Sep   float64 // separation from the search position, arcsec
}

// Separation is the angle between two positions (degrees), in arcsec,
// computed as atan2(|a×b|, a·b) on unit vectors, which is accurate at
// every separation (the formula astropy's angular_separation, Vincenty's,
// is equivalent to).
func Separation(ra1, dec1, ra2, dec2 float64) float64 {
	x1, y1, z1 := unit(ra1, dec1)
	x2, y2, z2 := unit(ra2, dec2)
	return angle(x1, y1, z1, x2, y2, z2)
}

func unit(ra, dec float64) (x, y, z float64) {
	r, d := ra*rad, dec*rad
	cd := math.Cos(d)
	return cd * math.Cos(r), cd * math.Sin(r), math.Sin(d)
}

// angle between two unit vectors, arcsec.
func angle(x1, y1, z1, x2, y2, z2 float64) float64 {
	cx, cy, cz := y1*z2-z1*y2, z1*x2-x1*z2, x1*y2-y1*x2
	return math.Atan2(math.Sqrt(cx*cx+cy*cy+cz*cz), x1*x2+y1*y2+z1*z2) * deg * 3600
}

// Cone yields every entry within r arcsec (inclusive, see Tolerance) of
// (ra, dec) in degrees, in index order. A negative or NaN r finds nothing.
func (c *Catalog) Cone(ra, dec, r float64) iter.Seq[Match] {
	return func(yield func(Match) bool) {
		c.search(ra, dec, r, func(i int, sep float64) bool { return yield(Match{Entry: i, Sep: sep}) })
	}
}

// Nearest returns the entry nearest to (ra, dec) within r arcsec
// (inclusive), and false when there is none. Of entries at the same
// separation it returns the first in index order.
func (c *Catalog) Nearest(ra, dec, r float64) (Match, bool) {
	best := Match{Entry: -1, Sep: math.Inf(1)}
	c.search(ra, dec, r, func(i int, sep float64) bool {
		if sep < best.Sep {
			best = Match{Entry: i, Sep: sep}
		}
		return true
	})
	return best, best.Entry >= 0
}

// Any reports whether some entry lies within r arcsec of (ra, dec).
func (c *Catalog) Any(ra, dec, r float64) bool {
	found := false
	c.search(ra, dec, r, func(int, float64) bool { found = true; return false })
	return found
}

// search calls visit with each entry within r of (ra, dec) until visit
// returns false.
//
// The entries of a declination zone are sorted by RA. The cone spans the
// zones from dec-r to dec+r, and in each an RA interval of half-width
// asin(sin r / cos dec) (all of it when the cone holds a pole); a binary
// search finds the interval, which is split in two where it wraps at RA
// 0/360. Each entry in it is tested by chord length, which is accurate for
// small angles, then its exact separation is compared with r.
func (c *Catalog) search(ra, dec, r float64, visit func(int, float64) bool) {
	if !(r >= 0) || c.n == 0 || math.IsNaN(ra) || !(dec >= -90 && dec <= 90) {
		return
	}
	ra = normRA(ra)
	qx, qy, qz := unit(ra, dec)
	lim := r + Tolerance
	// Entries to test exactly: chord at most that of lim plus 1 mas,
	// which covers rounding of the chord itself (~1e-16).
	wide := math.Min((lim+1e-3)/3600*rad, math.Pi)
	chord := 2 * math.Sin(wide/2)
	chord2 := chord * chord
	wideDeg := wide * deg
	full := dec+wideDeg >= 90 || dec-wideDeg <= -90
	alpha := 180.0
	if !full {
		alpha = math.Asin(math.Min(1, math.Sin(wide)/math.Cos(dec*rad)))*deg + 1e-9
	}
	full = full || alpha >= 180
	scan := func(lo, hi int, a, b float64) bool {
		end := hi
		// First entry of the zone with ra >= a.
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if c.ra[m] < a {
				lo = m + 1
			} else {
				hi = m
			}
		}
		for i := lo; i < end && c.ra[i] <= b; i++ {
			p := c.xyz[3*i : 3*i+3 : 3*i+3]
			dx, dy, dz := p[0]-qx, p[1]-qy, p[2]-qz
			if dx*dx+dy*dy+dz*dz > chord2 {
				continue
			}
			if sep := angle(qx, qy, qz, p[0], p[1], p[2]); sep <= lim {
				if !visit(i, sep) {
					return false
				}
			}
		}
		return true
	}
	zlo, zhi := zoneOf(dec-wideDeg), zoneOf(dec+wideDeg)
	for z := zlo; z <= zhi; z++ {
		lo, hi := int(c.zones[z]), int(c.zones[z+1])
		if lo == hi {
			continue
		}
		if full {
			if !scan(lo, hi, 0, 360) {
				return
			}
			continue
		}
		a, b := ra-alpha, ra+alpha
		if a < 0 {
			if !scan(lo, hi, a+360, 360) {
				return
			}
			a = 0
		}
		if b >= 360 {
			if !scan(lo, hi, 0, b-360) {
				return
			}
			b = 360
		}
		if !scan(lo, hi, a, b) {
			return
		}
	}
}
