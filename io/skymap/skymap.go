package skymap

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/alertbeam/alertbeam/io/fits"
)

// Map is a multi-order sky map, indexed for position lookups.
type Map struct {
	cells []cell // by lo; disjoint
	total float64
}

type cell struct {
	lo, hi  uint64  // the cell's range of pixels at MaxOrder, [lo, hi)
	density float64 // per steradian
	level   float64 // credible level, 0 to 1
}

// Point is what a map says of one position.
type Point struct {
	Density float64 // probability per steradian
	Level   float64 // the smallest credible region holding it, 0 to 1
}

// ErrFormat is wrapped by every error about a file that is not a usable
// multi-order sky map.
var ErrFormat = errors.New("skymap: not a multi-order sky map")

// Decode reads a multi-order sky map from the bytes of its FITS file.
func Decode(b []byte) (*Map, error) {
	t, err := fits.DecodeTable(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	for _, c := range t.Header {
		if v, ok := c.Value.(string); c.Key == "ORDERING" && ok && strings.TrimSpace(v) != "NUNIQ" {
			return nil, fmt.Errorf("%w: ORDERING is %s, want NUNIQ (a flat HEALPix map; IGWN alerts carry the .multiorder.fits)", ErrFormat, v)
		}
	}
	ucol, ok1 := t.Column("UNIQ")
	dcol, ok2 := t.Column("PROBDENSITY")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%w: want columns UNIQ and PROBDENSITY, found %s", ErrFormat, strings.Join(t.Names(), ", "))
	}
	m := &Map{cells: make([]cell, 0, t.Rows)}
	for r := range t.Rows {
		u, ok := t.Int(r, ucol)
		if !ok {
			return nil, fmt.Errorf("%w: row %d: UNIQ is not an integer", ErrFormat, r+1)
		}
		order, ipix, ok := uniqCell(uint64(u))
		if !ok {
			return nil, fmt.Errorf("%w: row %d: UNIQ %d is not a cell of order 0 to %d", ErrFormat, r+1, u, MaxOrder)
		}
		d, err := t.Float(r, dcol)
		if err != nil || math.IsNaN(d) || d < 0 {
			return nil, fmt.Errorf("%w: row %d: PROBDENSITY %v (%v)", ErrFormat, r+1, d, err)
		}
		shift := 2 * uint(MaxOrder-order)
		m.cells = append(m.cells, cell{lo: ipix << shift, hi: (ipix + 1) << shift, density: d})
		m.total += d * pixelArea(order)
	}
	if len(m.cells) == 0 || m.total <= 0 {
		return nil, fmt.Errorf("%w: no probability in %d cells", ErrFormat, len(m.cells))
	}
	// Credible levels: cells in decreasing density, probability summed.
	byDensity := make([]int, len(m.cells))
	for i := range byDensity {
		byDensity[i] = i
	}
	sort.SliceStable(byDensity, func(i, j int) bool { return m.cells[byDensity[i]].density > m.cells[byDensity[j]].density })
	var sum float64
	for _, i := range byDensity {
		c := &m.cells[i]
		sum += c.density * cellArea(c)
		c.level = sum / m.total
	}
	sort.Slice(m.cells, func(i, j int) bool { return m.cells[i].lo < m.cells[j].lo })
	for i := 1; i < len(m.cells); i++ {
		if m.cells[i].lo < m.cells[i-1].hi {
			return nil, fmt.Errorf("%w: cells overlap", ErrFormat)
		}
	}
	return m, nil
}

// cellArea is a cell's solid angle from its range at MaxOrder.
func cellArea(c *cell) float64 { return float64(c.hi-c.lo) * pixelArea(MaxOrder) }

// At returns what the map says of the position (ra, dec) in degrees;
// false where the map has no cell (a map that does not cover the sky).
func (m *Map) At(ra, dec float64) (Point, bool) {
	p := nestPixel(MaxOrder, ra, dec)
	i := sort.Search(len(m.cells), func(i int) bool { return m.cells[i].hi > p })
	if i == len(m.cells) || m.cells[i].lo > p {
		return Point{}, false
	}
	c := m.cells[i]
	return Point{Density: c.density / m.total, Level: c.level}, true
}

// Cells is the number of cells of the map.
func (m *Map) Cells() int { return len(m.cells) }
