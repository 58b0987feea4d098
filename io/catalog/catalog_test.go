package catalog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alertbeam/alertbeam/io/fits"
)

func TestParseSpec(t *testing.T) {
	for _, s := range []string{
		"hip=hip2.csv",
		"hip=/data/hip2.csv,ra=RAdeg,dec=DEdeg,id=HIP",
		"g=/x.fits,id=source_id,unit=rad,cols=phot_g_mean_mag+bp_rp,near=30",
	} {
		sp, err := ParseSpec(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if sp.String() != s {
			t.Errorf("ParseSpec(%q).String() = %q", s, sp.String())
		}
	}
	for s, want := range map[string]string{
		"hip.csv":             "is not NAME=PATH",
		"1hip=x.csv":          "name",
		"hip=":                "no path",
		"hip=x.csv,ra":        "not key=value",
		"hip=x.csv,foo=1":     `unknown option "foo"`,
		"hip=x.csv,unit=arcs": "unit=arcs",
		"hip=x.csv,near=-1":   "near=-1",
		"hip=x.csv,id=a,id=b": "id given twice",
	} {
		if _, err := ParseSpec(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpec(%q) = %v, want an error with %q", s, err, want)
		}
	}
}

// sky makes n entries: uniform on the sphere, plus clumps at both poles,
// across RA 0/360 and on the zone boundaries.
func sky(rng *rand.Rand, n int) (ra, dec []float64) {
	for i := range n {
		var r, d float64
		switch i % 5 {
		case 0: // near a pole
			r, d = rng.Float64()*360, math.Copysign(90-rng.Float64()*0.01, rng.Float64()-0.5)
		case 1: // across RA 0
			r, d = math.Mod(360+(rng.Float64()-0.5)*0.02, 360), (rng.Float64()-0.5)*170
		default:
			r, d = rng.Float64()*360, math.Asin(2*rng.Float64()-1)*deg
		}
		ra, dec = append(ra, r), append(dec, d)
	}
	return ra, dec
}

func build(t testing.TB, ra, dec []float64) *Catalog {
	t.Helper()
	b := newBuilder(Spec{Name: "t"}, nil, false)
	for i := range ra {
		if err := b.add(ra[i], dec[i], "", i+1, nil); err != nil {
			t.Fatal(err)
		}
	}
	return b.build()
}

// Every cone search returns exactly the entries a brute-force scan finds,
// with the same separations, including searches that hold a pole, wrap at
// RA 0/360 or span many zones.
func TestConeMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ra, dec := sky(rng, 10000)
	c := build(t, ra, dec)
	vec := make([][3]float64, len(ra))
	for i := range ra {
		vec[i][0], vec[i][1], vec[i][2] = unit(ra[i], dec[i])
	}
	qra, qdec := sky(rng, 1000)
	// Queries exactly at the poles and at RA 0 and 360.
	qra = append(qra, 0, 123, 360, 359.9999999, 0)
	qdec = append(qdec, 90, -90, 0, -45, 89.99)
	for q := range qra {
		qx, qy, qz := unit(qra[q], qdec[q])
		for _, r := range []float64{0.5, 5, 60, 900, 7200} {
			var want []string
			for i, v := range vec {
				if s := angle(qx, qy, qz, v[0], v[1], v[2]); s <= r+Tolerance {
					want = append(want, fmt.Sprint(i+1))
				}
			}
			var got []string
			for m := range c.Cone(qra[q], qdec[q], r) {
				got = append(got, c.ID(m.Entry))
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("cone (%v, %v) r=%v: got %v, want %v", qra[q], qdec[q], r, got, want)
			}
		}
	}
}

// A point placed exactly at r from an entry is inside (sep <= r), one
// 1 mas further out is not.
func TestConeInclusive(t *testing.T) {
	c := build(t, []float64{10, 359.9999, 45}, []float64{20, 0, 89.9999})
	for i := range c.Len() {
		ra, dec := c.Position(i)
		for _, r := range []float64{1, 5, 60} {
			for _, pa := range []float64{0, 33, 90, 180, 271} {
				qra, qdec := offset(ra, dec, r/3600, pa)
				if m, ok := c.Nearest(qra, qdec, r); !ok || m.Entry != i || math.Abs(m.Sep-r) > 1e-9 {
					t.Errorf("entry %d, r=%v, pa=%v: Nearest = %+v, %v; want the entry at %v", i, r, pa, m, ok, r)
				}
				qra, qdec = offset(ra, dec, (r+1e-3)/3600, pa)
				if c.Any(qra, qdec, r) {
					t.Errorf("entry %d, r=%v, pa=%v: found at r + 1 mas", i, r, pa)
				}
			}
		}
	}
}

// offset moves (ra, dec) by d degrees towards position angle pa (degrees
// east of north), along the great circle, computed on unit vectors so it
// stays accurate next to the poles.
func offset(ra, dec, d, pa float64) (float64, float64) {
	a, dl, d, pa := ra*rad, dec*rad, d*rad, pa*rad
	px, py, pz := unit(ra, dec)
	nx, ny, nz := -math.Sin(dl)*math.Cos(a), -math.Sin(dl)*math.Sin(a), math.Cos(dl)
	ex, ey := -math.Sin(a), math.Cos(a)
	tx, ty, tz := nx*math.Cos(pa)+ex*math.Sin(pa), ny*math.Cos(pa)+ey*math.Sin(pa), nz*math.Cos(pa)
	x, y, z := px*math.Cos(d)+tx*math.Sin(d), py*math.Cos(d)+ty*math.Sin(d), pz*math.Cos(d)+tz*math.Sin(d)
	return normRA(math.Atan2(y, x) * deg), math.Atan2(z, math.Hypot(x, y)) * deg
}

func writeFile(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCSV(t *testing.T) {
	p := writeFile(t, "c.csv", "# a comment\nid,RAdeg,DEdeg,Vmag,name,note\n7,10.5,-20.25,9.5,alpha,x\n8,10.5,-20.25,,beta,\n11,350,89,3,gamma,y\n")
	c, err := Open(Spec{Name: "c", Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 || !slices.Equal(c.Columns(), []string{"Vmag"}) {
		t.Fatalf("%d entries, columns %v; want 3, [Vmag]", c.Len(), c.Columns())
	}
	m, ok := c.Nearest(10.5, -20.25, 1)
	if !ok || c.ID(m.Entry) != "7" || m.Sep != 0 {
		t.Errorf("Nearest = %+v %v (id %s), want id 7 at 0 (ties go to file order)", m, ok, c.ID(m.Entry))
	}
	if v := c.Value(m.Entry, 0); v != 9.5 {
		t.Errorf("Vmag = %v, want 9.5", v)
	}
	var seen []string
	for m := range c.Cone(10.5, -20.25, 1) {
		seen = append(seen, c.ID(m.Entry))
		if c.ID(m.Entry) == "8" && !math.IsNaN(c.Value(m.Entry, 0)) {
			t.Errorf("empty Vmag reads %v, want NaN", c.Value(m.Entry, 0))
		}
	}
	if slices.Sort(seen); !slices.Equal(seen, []string{"7", "8"}) {
		t.Errorf("cone found %v", seen)
	}
	again, _ := Open(Spec{Name: "c", Path: p})
	if again != c {
		t.Error("Open loaded the same catalog twice")
	}

	// String ids, radians, chosen columns; row numbers without an id.
	p = writeFile(t, "s.csv", "name,ra,dec,mag,col2\nM31,0.1,0.2,4,5\nNGC 1,0.3,0.4,,6\n")
	c, err = Load(Spec{Name: "s", Path: p, ID: "name", Radians: true, Cols: []string{"col2"}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ = c.Nearest(0.3*deg, 0.4*deg, 0.001)
	if c.ID(m.Entry) != "NGC 1" || c.Value(m.Entry, 0) != 6 || !slices.Equal(c.Columns(), []string{"col2"}) {
		t.Errorf("got id %q col2 %v columns %v", c.ID(m.Entry), c.Value(m.Entry, 0), c.Columns())
	}
	c, err = Load(Spec{Name: "s", Path: p})
	if err != nil {
		t.Fatal(err)
	}
	m, _ = c.Nearest(0.3, 0.4, 0.001)
	if c.ID(m.Entry) != "2" || !slices.Equal(c.Columns(), []string{"mag", "col2"}) {
		t.Errorf("got id %q columns %v, want row number 2 and [mag col2]", c.ID(m.Entry), c.Columns())
	}
}

// A row that does not parse names the file and line; a missing column
// names the columns there are.
func TestLoadBadInput(t *testing.T) {
	good := "id,ra,dec,mag\n1,10,20,5\n"
	for _, tc := range []struct {
		text string
		spec Spec
		want string
	}{
		{good + "2,ten,20,5\n", Spec{}, `bad.csv:3: ra "ten" is not a number`},
		{good + "\n# note\n3,10,20,5\n4,11,-95,5\n", Spec{}, "bad.csv:6: position (11, -95) is not on the sky"},
		{good + "2,10,20,bright\n", Spec{}, `bad.csv:3: mag "bright" is not a number`},
		{good + "2,10,20\n", Spec{}, "bad.csv:3: wrong number of fields"},
		{good + "2,10,\"20\n", Spec{}, "bad.csv:3"},
		{"id,x,y\n1,2,3\n", Spec{}, "no ra column (looked for ra, radeg, ra_deg, raj2000, ra_icrs; columns: id, x, y)"},
		{good, Spec{Dec: "DEdeg"}, `no dec column "DEdeg" (columns: id, ra, dec, mag)`},
		{good, Spec{Cols: []string{"Vmag"}}, `no column "Vmag" (columns: id, ra, dec, mag)`},
		{good + ",1,2,3\n", Spec{}, "bad.csv:3: empty id (id)"},
		{"", Spec{}, "bad.csv is empty"},
	} {
		tc.spec.Name, tc.spec.Path = "bad", writeFile(t, "bad.csv", tc.text)
		_, err := Load(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "catalog bad: ") {
			t.Errorf("%q: error %v, want one with %q", tc.text, err, tc.want)
		}
	}
	if _, err := Open(Spec{Name: "none", Path: filepath.Join(t.TempDir(), "none.csv")}); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Errorf("missing file: %v", err)
	}
}

// A FITS binary table loads into the same catalog as the CSV of the same
// values.
func TestLoadFITS(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ra, dec := sky(rng, 500)
	ids := make([]int64, len(ra))
	mag := make([]float64, len(ra))
	var csv strings.Builder
	csv.WriteString("HIP,RAdeg,DEdeg,Hpmag\n")
	for i := range ra {
		ids[i], mag[i] = int64(1000+i), float64(i%120)/10
		fmt.Fprintf(&csv, "%d,%v,%v,%v\n", ids[i], ra[i], dec[i], mag[i])
	}
	b, err := fits.EncodeTable([]fits.TableColumn{{Name: "HIP", Int64: ids}, {Name: "RAdeg", Unit: "deg", Float64: ra},
		{Name: "DEdeg", Unit: "deg", Float64: dec}, {Name: "Hpmag", Float64: mag}})
	if err != nil {
		t.Fatal(err)
	}
	fp := filepath.Join(t.TempDir(), "t.fits")
	if err := os.WriteFile(fp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fc, err := Load(Spec{Name: "f", Path: fp, ID: "HIP"})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := Load(Spec{Name: "c", Path: writeFile(t, "t.csv", csv.String()), ID: "HIP"})
	if err != nil {
		t.Fatal(err)
	}
	if fc.Len() != cc.Len() || !slices.Equal(fc.Columns(), cc.Columns()) || fc.MemoryBytes() != cc.MemoryBytes() {
		t.Fatalf("FITS: %d entries %v, CSV: %d %v", fc.Len(), fc.Columns(), cc.Len(), cc.Columns())
	}
	for i := range fc.Len() {
		fr, fd := fc.Position(i)
		cr, cd := cc.Position(i)
		if fc.ID(i) != cc.ID(i) || fr != cr || fd != cd || fc.Value(i, 0) != cc.Value(i, 0) {
			t.Fatalf("entry %d: FITS %s (%v, %v) %v, CSV %s (%v, %v) %v", i, fc.ID(i), fr, fd, fc.Value(i, 0), cc.ID(i), cr, cd, cc.Value(i, 0))
		}
	}
	if _, err := Load(Spec{Name: "f", Path: fp, ID: "HIP", Cols: []string{"Vmag"}}); err == nil ||
		!strings.Contains(err.Error(), `no column "Vmag" (columns: HIP, RAdeg, DEdeg, Hpmag)`) {
		t.Errorf("missing FITS column: %v", err)
	}
}
