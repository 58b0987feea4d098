package igwn

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/venv"
)

// A sky map that ligo.skymap wrote, wrapped in an IGWN notice: the events
// table finds inside its 90% region exactly the positions that
// ligo.skymap's postprocess.crossmatch puts there (searched probability
// <= 0.9).
func TestNoticeOfLigoSkymapMatchesCrossmatch(t *testing.T) {
	py := venv.Python(t, "ligo.skymap", "healpy")
	r := rand.New(rand.NewPCG(8, 13))
	var ps [][2]float64
	for range 400 {
		ps = append(ps, [2]float64{140 + 30*r.Float64(), 10 + 35*r.Float64()})
	}
	path := filepath.Join(t.TempDir(), "S261201a.multiorder.fits")
	var ref struct {
		SearchedProb []float64 `json:"searched_prob"`
	}
	venv.RunJSON(t, py, filepath.Join("..", "skymap", "testdata", "ligo_skymap.py"), ps, &ref, path)
	fits, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 4, 5, 6, 0, time.UTC)
	n, err := Parse(Encode("S261201a", Preliminary, at, fits))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEvents()
	e.Apply(n)
	inside := 0
	for i, p := range ps {
		m, ok := e.Match(p[0], p[1], at.Add(time.Hour), 24*time.Hour, 6*24*time.Hour, 0.9)
		if want := ref.SearchedProb[i] <= 0.9; ok != want {
			t.Errorf("(%v, %v): inside %v, ligo.skymap %v (searched probability %v)", p[0], p[1], ok, want, ref.SearchedProb[i])
		}
		if ok {
			inside++
			if math.Abs(m.Level-ref.SearchedProb[i]) > 1e-9 {
				t.Errorf("(%v, %v): level %v, ligo.skymap %v", p[0], p[1], m.Level, ref.SearchedProb[i])
			}
		}
	}
	if inside < 40 || inside > len(ps)-40 {
		t.Errorf("%d of %d positions inside: the test should split them", inside, len(ps))
	}
	t.Logf("%d of %d positions inside S261201a's 90%% region, as ligo.skymap says", inside, len(ps))
}
