package skymap

import (
	"math"
	"math/bits"
)

// MaxOrder is the deepest HEALPix order a multi-order map may use
// (nside 2^29, about 0.4 milliarcseconds), as in the IVOA MOC standard.
const MaxOrder = 29

// nestPixel is the NESTED HEALPix pixel (at order, nside = 2^order) that
// holds the direction (ra, dec) in degrees, by Górski et al.'s (2005)
// construction: the base face and the position inside it in the face's own
// x, y grid, whose bits interleave into the nested index.
func nestPixel(order int, ra, dec float64) uint64 {
	nside := int64(1) << order
	// Through the colatitude, as healpy does: a position exactly on a
	// pixel edge (the equator at RA 0) then falls on the same side.
	theta := math.Pi/2 - dec*math.Pi/180
	z := math.Cos(theta)
	za := math.Abs(z)
	phi := math.Mod(ra*math.Pi/180, 2*math.Pi)
	if phi < 0 {
		phi += 2 * math.Pi
	}
	tt := phi / (math.Pi / 2) // in [0, 4)
	if tt >= 4 {
		tt = 0
	}
	var face, ix, iy int64
	if za <= 2.0/3 {
		// Equatorial belt.
		t1 := float64(nside) * (0.5 + tt)
		t2 := float64(nside) * z * 0.75
		jp := int64(t1 - t2) // ascending edge line index
		jm := int64(t1 + t2) // descending edge line index
		ifp, ifm := jp>>order, jm>>order
		switch {
		case ifp == ifm:
			face = ifp | 4
		case ifp < ifm:
			face = ifp
		default:
			face = ifm + 8
		}
		ix = jm & (nside - 1)
		iy = nside - (jp & (nside - 1)) - 1
	} else {
		// Polar caps. sqrt(3(1−|z|)) written with sin(colatitude), which
		// keeps its precision next to the poles, where 1−|z| does not.
		ntt := min(int64(tt), 3)
		tp := tt - float64(ntt)
		tmp := float64(nside) * math.Sin(theta) * math.Sqrt(3/(1+za))
		jp := min(int64(tp*tmp), nside-1)
		jm := min(int64((1-tp)*tmp), nside-1)
		if z >= 0 {
			face, ix, iy = ntt, nside-jm-1, nside-jp-1
		} else {
			face, ix, iy = ntt+8, jp, jm
		}
	}
	return uint64(face)<<(2*order) | interleave(uint64(ix), uint64(iy))
}

// interleave puts x's bits at the even positions and y's at the odd ones.
func interleave(x, y uint64) uint64 {
	return spread(x) | spread(y)<<1
}

// spread moves bit i of a 32-bit value to bit 2i.
func spread(v uint64) uint64 {
	v &= 0xffffffff
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	v = (v | v<<2) & 0x3333333333333333
	v = (v | v<<1) & 0x5555555555555555
	return v
}

// uniqCell splits a NUNIQ index, 4·4^order + ipix, into its order and
// NESTED pixel.
func uniqCell(uniq uint64) (order int, ipix uint64, ok bool) {
	if uniq < 4 {
		return 0, 0, false
	}
	// The order is half the index of uniq's highest set bit, less 1.
	hb := 63 - bits.LeadingZeros64(uniq)
	order = hb/2 - 1
	if order > MaxOrder {
		return 0, 0, false
	}
	return order, uniq - 4<<(2*order), true
}

// pixelArea is the solid angle, in steradians, of one pixel at order.
func pixelArea(order int) float64 {
	return 4 * math.Pi / (12 * math.Ldexp(1, 2*order))
}
