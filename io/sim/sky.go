package sim

import (
	"math"
	"time"
)

const (
	deg2rad = math.Pi / 180
	rad2deg = 180 / math.Pi
)

// site is an observatory; the longitude and latitude decide which fields
// are up at a given time, so simulated pointings follow the night sky.
type site struct {
	lon, lat float64 // degrees, east positive
}

var (
	palomar    = site{lon: -116.8631, lat: 33.3563}
	cerroPachn = site{lon: -70.7494, lat: -30.2444}
)

// julianDate converts a UTC time to a Julian date.
func julianDate(t time.Time) float64 {
	return 2440587.5 + float64(t.UnixNano())/86400e9
}

// localSiderealDeg is the local mean sidereal time in degrees (IAU 1982
// GMST, good to well under a second, which is plenty for choosing fields).
func (s site) localSiderealDeg(t time.Time) float64 {
	d := julianDate(t) - 2451545.0
	gmst := 280.46061837 + 360.98564736629*d
	return wrap360(gmst + s.lon)
}

// altitude of a position at a local sidereal time, in degrees.
func (s site) altitude(ra, dec, lst float64) float64 {
	ha := (lst - ra) * deg2rad
	d, l := dec*deg2rad, s.lat*deg2rad
	return math.Asin(math.Sin(d)*math.Sin(l)+math.Cos(d)*math.Cos(l)*math.Cos(ha)) * rad2deg
}

func wrap360(a float64) float64 {
	a = math.Mod(a, 360)
	if a < 0 {
		a += 360
	}
	return a
}

// fromTangent is the inverse gnomonic projection: offsets xi (east) and eta
// (north), in degrees on the tangent plane at (ra0, dec0), to sky
// coordinates. Straight lines on the tangent plane are great circles on the
// sky, which is why trails and streaks are laid out on it.
func fromTangent(ra0, dec0, xi, eta float64) (ra, dec float64) {
	x, y := xi*deg2rad, eta*deg2rad
	d0 := dec0 * deg2rad
	den := math.Cos(d0) - y*math.Sin(d0)
	ra = ra0 + math.Atan2(x, den)*rad2deg
	dec = math.Atan2(math.Sin(d0)+y*math.Cos(d0), math.Hypot(x, den)) * rad2deg
	return wrap360(ra), dec
}

// toTangent is the gnomonic projection, the inverse of fromTangent.
func toTangent(ra0, dec0, ra, dec float64) (xi, eta float64) {
	a, d := (ra-ra0)*deg2rad, dec*deg2rad
	d0 := dec0 * deg2rad
	cosc := math.Sin(d0)*math.Sin(d) + math.Cos(d0)*math.Cos(d)*math.Cos(a)
	xi = math.Cos(d) * math.Sin(a) / cosc * rad2deg
	eta = (math.Cos(d0)*math.Sin(d) - math.Sin(d0)*math.Cos(d)*math.Cos(a)) / cosc * rad2deg
	return xi, eta
}

// separation is the angle between two positions in degrees (haversine, so
// arcsecond separations keep their precision).
func separation(ra1, dec1, ra2, dec2 float64) float64 {
	d1, d2 := dec1*deg2rad, dec2*deg2rad
	sdd := math.Sin((d2 - d1) / 2)
	sda := math.Sin((ra2 - ra1) * deg2rad / 2)
	h := sdd*sdd + math.Cos(d1)*math.Cos(d2)*sda*sda
	return 2 * math.Asin(math.Min(1, math.Sqrt(h))) * rad2deg
}

// rotate turns equatorial (J2000) coordinates into another frame given by
// the rows of a rotation matrix.
func rotate(m *[3][3]float64, ra, dec float64) (lon, lat float64) {
	a, d := ra*deg2rad, dec*deg2rad
	v := [3]float64{math.Cos(d) * math.Cos(a), math.Cos(d) * math.Sin(a), math.Sin(d)}
	var w [3]float64
	for i := range 3 {
		w[i] = m[i][0]*v[0] + m[i][1]*v[1] + m[i][2]*v[2]
	}
	return wrap360(math.Atan2(w[1], w[0]) * rad2deg), math.Asin(math.Max(-1, math.Min(1, w[2]))) * rad2deg
}

// Equatorial (ICRS) to galactic, and to ecliptic (obliquity 23.4393°).
var (
	toGalactic = [3][3]float64{
		{-0.0548755604, -0.8734370902, -0.4838350155},
		{+0.4941094279, -0.4448296300, +0.7469822445},
		{-0.8676661490, -0.1980763734, +0.4559837762},
	}
	toEcliptic = [3][3]float64{
		{1, 0, 0},
		{0, 0.9174820621, 0.3977771559},
		{0, -0.3977771559, 0.9174820621},
	}
)

// field is one survey pointing.
type field struct {
	id      int
	ra, dec float64
}

// fieldGrid tiles the sky observable from a site with pointings spaced a
// little less than the camera's width, band by band in declination, the way
// ZTF's primary grid does. IDs count from the southernmost band.
func fieldGrid(decMin, decMax, spacing float64) []field {
	var out []field
	band := 0
	for dec := decMin; dec <= decMax; dec += spacing {
		n := int(math.Round(360 * math.Cos(dec*deg2rad) / spacing))
		if n < 1 {
			n = 1
		}
		shift := 0.5 * float64(band%2)
		for k := range n {
			out = append(out, field{id: len(out) + 1, ra: wrap360((float64(k) + shift) * 360 / float64(n)), dec: dec})
		}
		band++
	}
	return out
}

// focalPlane maps detector pixels to tangent-plane offsets. Detectors sit
// in a regular grid (gaps ignored except where noted); the survey-specific
// numbering lives in the survey files.
type focalPlane struct {
	cols, rows int     // detector grid
	detW, detH float64 // detector size in pixels
	gap        float64 // pixels between detectors
	scale      float64 // arcsec per pixel
}

// offset returns (xi, eta) in degrees for pixel (x, y) of the detector in
// grid cell (col, row); x runs east and y north.
func (fp focalPlane) offset(col, row int, x, y float64) (xi, eta float64) {
	w := float64(fp.cols)*fp.detW + float64(fp.cols-1)*fp.gap
	h := float64(fp.rows)*fp.detH + float64(fp.rows-1)*fp.gap
	px := float64(col)*(fp.detW+fp.gap) + x - w/2
	py := float64(row)*(fp.detH+fp.gap) + y - h/2
	return px * fp.scale / 3600, py * fp.scale / 3600
}
