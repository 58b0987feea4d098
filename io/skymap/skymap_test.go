package skymap

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/alertbeam/alertbeam/internal/venv"
)

// positions to check: the blobs of the test map and around them, the
// poles, RA 0 and 360, the equatorial belt's edges, and random ones.
func positions() [][2]float64 {
	ps := [][2]float64{
		{150, 20}, {160, 35}, {150.5, 20.5}, {0, 0}, {360, 0}, {359.9999999, -10}, {0, 90}, {123, 90}, {0, -90},
		{45, 89.99999}, {300, -89.99999}, {10, 41.8103149}, {10, -41.8103149}, {90, 41.81}, {180, -41.82}, {270, 0.0000001},
	}
	r := rand.New(rand.NewPCG(3, 5))
	for range 300 {
		ps = append(ps, [2]float64{360 * r.Float64(), math.Asin(2*r.Float64()-1) * 180 / math.Pi})
	}
	for range 300 { // near the blobs, where the credible levels vary
		ps = append(ps, [2]float64{140 + 30*r.Float64(), 10 + 35*r.Float64()})
	}
	return ps
}

type ligoResult struct {
	Cells        int                 `json:"cells"`
	Nest         map[string][]uint64 `json:"nest"`
	SearchedProb []float64           `json:"searched_prob"`
	ProbDensity  []float64           `json:"probdensity"`
}

// ligo runs testdata/ligo_skymap.py: it writes a multi-order map with
// ligo.skymap and crossmatches ps against it.
func ligo(t *testing.T, ps [][2]float64) (string, ligoResult) {
	t.Helper()
	py := venv.Python(t, "ligo.skymap", "healpy")
	path := filepath.Join(t.TempDir(), "test.multiorder.fits")
	var res ligoResult
	venv.RunJSON(t, py, filepath.Join("testdata", "ligo_skymap.py"), ps, &res, path)
	return path, res
}

// Pixels, densities and credible levels equal healpy's and ligo.skymap's
// on a multi-order map that ligo.skymap wrote.
func TestAgreesWithLigoSkymap(t *testing.T) {
	ps := positions()
	path, ref := ligo(t, ps)
	for o, want := range ref.Nest {
		order, _ := strconv.Atoi(o)
		for i, p := range ps {
			if got := nestPixel(order, p[0], p[1]); got != want[i] {
				t.Errorf("order %d, (%v, %v): pixel %d, healpy %d", order, p[0], p[1], got, want[i])
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cells() != ref.Cells {
		t.Fatalf("%d cells, ligo.skymap read %d", m.Cells(), ref.Cells)
	}
	inside := 0
	for i, p := range ps {
		got, ok := m.At(p[0], p[1])
		if !ok {
			t.Fatalf("(%v, %v): no cell in an all-sky map", p[0], p[1])
		}
		if math.Abs(got.Level-ref.SearchedProb[i]) > 1e-9 || math.Abs(got.Density-ref.ProbDensity[i]) > 1e-9*ref.ProbDensity[i] {
			t.Errorf("(%v, %v): level %.12g density %.12g; ligo.skymap %.12g %.12g", p[0], p[1], got.Level, got.Density, ref.SearchedProb[i], ref.ProbDensity[i])
		}
		if (got.Level <= 0.9) != (ref.SearchedProb[i] <= 0.9) {
			t.Errorf("(%v, %v): inside the 90%% region %v, ligo.skymap %v", p[0], p[1], got.Level <= 0.9, ref.SearchedProb[i] <= 0.9)
		}
		if got.Level <= 0.9 {
			inside++
		}
	}
	if inside < 50 || inside > len(ps)-50 {
		t.Errorf("%d of %d positions inside the 90%% region: the test map should split them", inside, len(ps))
	}
	t.Logf("%d cells; %d of %d positions inside the 90%% region", m.Cells(), inside, len(ps))
}

func TestUniqCell(t *testing.T) {
	for _, c := range []struct {
		uniq  uint64
		order int
		ipix  uint64
	}{{4, 0, 0}, {15, 0, 11}, {16, 1, 0}, {63, 1, 47}, {4 << 16, 8, 0}, {4<<58 + 12345, 29, 12345}} {
		o, p, ok := uniqCell(c.uniq)
		if !ok || o != c.order || p != c.ipix {
			t.Errorf("uniq %d: order %d pixel %d (%v), want %d %d", c.uniq, o, p, ok, c.order, c.ipix)
		}
	}
	if _, _, ok := uniqCell(3); ok {
		t.Error("uniq 3 accepted")
	}
}

func TestDecodeRefusesOtherFiles(t *testing.T) {
	if _, err := Decode([]byte("not fits")); err == nil {
		t.Fatal("accepted a non-FITS file")
	}
}

// A cone map reads back with its peak at the centre, the levels rising
// outwards, and nothing beyond its radius.
func TestEncodeCone(t *testing.T) {
	b, err := EncodeCone(150, 20, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	centre, _ := m.At(150, 20)
	mid, _ := m.At(150, 25)
	out, _ := m.At(150, 31)
	if !(centre.Level < mid.Level && mid.Level < 0.9 && out.Level > 0.9999 && out.Density == 0 && centre.Density > mid.Density) {
		t.Fatalf("centre %+v, 5° off %+v, 11° off %+v", centre, mid, out)
	}
	if m.Cells() < 768 || m.Cells() > 768+64*20 {
		t.Fatalf("%d cells: want the 768 of order 3 with the few over the cone split into 64", m.Cells())
	}
}

// Lookups per second: a position's pixel at order 29 and a binary search
// of the cells.
func BenchmarkAt(b *testing.B) {
	raw, err := EncodeCone(150, 20, 10)
	if err != nil {
		b.Fatal(err)
	}
	m, err := Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	ps := positions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := ps[i%len(ps)]
		m.At(p[0], p[1])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}
