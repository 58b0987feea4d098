package catalog

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Catalog is a loaded catalog, indexed for cone searches. It is immutable
// and safe for concurrent use. Entries are numbered 0..Len()-1 in index
// order (by declination zone, then RA), not in file order.
type Catalog struct {
	spec Spec
	n    int
	// The index: entries sorted by zone, then RA; zones[z] is the first
	// entry of zone z, zones[nz] = n.
	zones []int32
	ra    []float64 // degrees, [0, 360)
	xyz   []float64 // unit vectors, 3 per entry
	// Identifiers: integers when every id is one (written canonically),
	// else strings packed in ids with offsets idOff (n+1 of them).
	intIDs  []int64
	ids     []byte
	idOff   []uint32
	rowIDs  bool // no id column: the id is the 1-based file row
	fileRow []int32
	cols    []string
	vals    [][]float64 // vals[col][entry]
}

// ZoneHeight is the height of the index's declination zones, in degrees.
const ZoneHeight = 1.0 / 60

const nZones = 180 * 60

// Spec is the spec the catalog was loaded from.
func (c *Catalog) Spec() Spec { return c.spec }

// Name is the catalog's name (Spec.Name).
func (c *Catalog) Name() string { return c.spec.Name }

// Len is the number of entries.
func (c *Catalog) Len() int { return c.n }

// Columns lists the numeric columns kept, in file order.
func (c *Catalog) Columns() []string { return slices.Clone(c.cols) }

// Column returns the index of a numeric column, by exact name.
func (c *Catalog) Column(name string) (int, bool) {
	i := slices.Index(c.cols, name)
	return i, i >= 0
}

// Value is entry i's value in numeric column col (NaN when empty).
func (c *Catalog) Value(i, col int) float64 { return c.vals[col][i] }

// ID is entry i's identifier.
func (c *Catalog) ID(i int) string {
	switch {
	case c.intIDs != nil:
		return strconv.FormatInt(c.intIDs[i], 10)
	case c.rowIDs:
		return strconv.Itoa(int(c.fileRow[i]))
	}
	return string(c.ids[c.idOff[i]:c.idOff[i+1]])
}

// Position is entry i's position in degrees. RA is as read, reduced to
// [0, 360); Dec is recovered from the stored unit vector, within 1e-16 rad
// of the value read.
func (c *Catalog) Position(i int) (ra, dec float64) {
	x, y, z := c.xyz[3*i], c.xyz[3*i+1], c.xyz[3*i+2]
	return c.ra[i], math.Atan2(z, math.Hypot(x, y)) * deg
}

// MemoryBytes is what the catalog holds in memory: index, identifiers and
// columns.
func (c *Catalog) MemoryBytes() int {
	n := 4*len(c.zones) + 8*len(c.ra) + 8*len(c.xyz) + 8*len(c.intIDs) + len(c.ids) + 4*len(c.idOff) + 4*len(c.fileRow)
	for _, v := range c.vals {
		n += 8 * len(v)
	}
	return n
}

const (
	deg = 180 / math.Pi
	rad = math.Pi / 180
)

// builder collects entries in file order and builds the index.
type builder struct {
	spec    Spec
	ra, dec []float64
	intIDs  []int64
	strIDs  []string
	rowIDs  bool
	fileRow []int32
	cols    []string
	vals    [][]float64
}

func newBuilder(spec Spec, cols []string, hasID bool) *builder {
	return &builder{spec: spec, cols: cols, vals: make([][]float64, len(cols)), rowIDs: !hasID, intIDs: []int64{}}
}

// add appends an entry; ra and dec are in the spec's unit.
func (b *builder) add(ra, dec float64, id string, row int, vals []float64) error {
	if b.spec.Radians {
		ra, dec = ra*deg, dec*deg
	}
	if math.IsNaN(ra) || math.IsInf(ra, 0) || !(dec >= -90 && dec <= 90) {
		return fmt.Errorf("position (%v, %v) is not on the sky (ra finite, -90 <= dec <= 90 degrees)", ra, dec)
	}
	b.ra = append(b.ra, normRA(ra))
	b.dec = append(b.dec, dec)
	switch {
	case b.rowIDs:
		b.fileRow = append(b.fileRow, int32(row))
	case b.intIDs != nil:
		if v, err := strconv.ParseInt(id, 10, 64); err == nil && strconv.FormatInt(v, 10) == id {
			b.intIDs = append(b.intIDs, v)
			break
		}
		b.strIDs = make([]string, len(b.intIDs), cap(b.ra))
		for i, v := range b.intIDs {
			b.strIDs[i] = strconv.FormatInt(v, 10)
		}
		b.intIDs = nil
		b.strIDs = append(b.strIDs, id)
	default:
		b.strIDs = append(b.strIDs, strings.Clone(id))
	}
	for i, v := range vals {
		b.vals[i] = append(b.vals[i], v)
	}
	return nil
}

func normRA(ra float64) float64 {
	ra = math.Mod(ra, 360)
	if ra < 0 {
		ra += 360
	}
	if ra >= 360 {
		ra = 0
	}
	return ra
}

func zoneOf(dec float64) int {
	z := int(math.Floor((dec + 90) / ZoneHeight))
	return min(max(z, 0), nZones-1)
}

// build sorts the entries by zone and RA and computes the index.
func (b *builder) build() *Catalog {
	n := len(b.ra)
	perm := make([]int32, n)
	zone := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
		zone[i] = int32(zoneOf(b.dec[i]))
	}
	slices.SortFunc(perm, func(i, j int32) int {
		if zone[i] != zone[j] {
			return int(zone[i] - zone[j])
		}
		if b.ra[i] != b.ra[j] {
			if b.ra[i] < b.ra[j] {
				return -1
			}
			return 1
		}
		return int(i - j) // file order among equal positions: deterministic ties
	})
	c := &Catalog{spec: b.spec, n: n, zones: make([]int32, nZones+1), ra: make([]float64, n), xyz: make([]float64, 3*n),
		cols: b.cols, vals: make([][]float64, len(b.cols)), rowIDs: b.rowIDs}
	for col := range b.cols {
		c.vals[col] = make([]float64, n)
	}
	switch {
	case b.rowIDs:
		c.fileRow = make([]int32, n)
	case b.intIDs != nil:
		c.intIDs = make([]int64, n)
	default:
		c.idOff = make([]uint32, n+1)
		size := 0
		for _, s := range b.strIDs {
			size += len(s)
		}
		c.ids = make([]byte, 0, size)
	}
	for k, i := range perm {
		c.ra[k] = b.ra[i]
		d := b.dec[i] * rad
		r := b.ra[i] * rad
		c.xyz[3*k], c.xyz[3*k+1], c.xyz[3*k+2] = math.Cos(d)*math.Cos(r), math.Cos(d)*math.Sin(r), math.Sin(d)
		for col := range b.cols {
			c.vals[col][k] = b.vals[col][i]
		}
		switch {
		case b.rowIDs:
			c.fileRow[k] = b.fileRow[i]
		case b.intIDs != nil:
			c.intIDs[k] = b.intIDs[i]
		default:
			c.ids = append(c.ids, b.strIDs[i]...)
			c.idOff[k+1] = uint32(len(c.ids))
		}
		c.zones[zone[i]+1]++
	}
	for z := 1; z <= nZones; z++ {
		c.zones[z] += c.zones[z-1]
	}
	return c
}
