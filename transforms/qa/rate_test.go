package qa_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/alertbeam/alertbeam/transforms/qa"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want float64
	}{
		{nil, 0}, {[]int{7}, 7}, {[]int{5, 1, 3}, 3}, {[]int{4, 1, 3, 2}, 2.5}, {[]int{1000, 1000, 5000}, 1000},
	} {
		if got := qa.Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A relative threshold is the factor times the median of all group counts
// of the History most recent earlier exposures, and needs min(3, History)
// of them; an absolute one is the limit.
func TestThreshold(t *testing.T) {
	earlier := [][]int{{10000}, {100}, {200}, {300}, {400}}
	for _, tc := range []struct {
		cfg       qa.RateConfig
		earlier   [][]int
		threshold float64
		median    float64
		ok        bool
	}{
		{qa.RateConfig{Limit: 5000}, nil, 5000, 0, true},
		{qa.RateConfig{Factor: 3}, earlier, 900, 300, true},                     // all five: 100..400 and 10000
		{qa.RateConfig{Factor: 3, History: 3}, earlier, 900, 300, true},         // 200, 300, 400
		{qa.RateConfig{Factor: 2, History: 2}, earlier, 700, 350, true},         // 300, 400
		{qa.RateConfig{Factor: 3}, earlier[:2], math.NaN(), 0, false},           // two exposures are too few
		{qa.RateConfig{Factor: 3, History: 1}, earlier[:1], 30000, 10000, true}, // ... unless History is smaller
		// Quadrant counts of two exposures: the median of all six.
		{qa.RateConfig{Factor: 1.5, History: 2}, [][]int{{1, 2, 9}, {3, 4, 8}, {5, 6, 7}}, 8.25, 5.5, true},
	} {
		th, med, ok := tc.cfg.Threshold(tc.earlier)
		if ok != tc.ok || med != tc.median || !(th == tc.threshold || math.IsNaN(th) && math.IsNaN(tc.threshold)) {
			t.Errorf("%+v.Threshold(%v) = %v, %v, %v; want %v, %v, %v", tc.cfg, tc.earlier, th, med, ok, tc.threshold, tc.median, tc.ok)
		}
	}
	c := qa.RateConfig{Factor: 3, Min: 50}
	for _, tc := range []struct {
		count     int
		threshold float64
		want      bool
	}{{31, 30, false}, {51, 30, true}, {900, 900, false}, {901, 900, true}} {
		if got := c.Over(tc.count, tc.threshold); got != tc.want {
			t.Errorf("Over(%d, %v) with min 50 = %v", tc.count, tc.threshold, got)
		}
	}
}

// A throttle keeps the n alerts of highest S/N (ties by lower id) or of
// lowest hash; the choice ignores the alerts' order and repeats.
func TestSample(t *testing.T) {
	alerts := []qa.Point{{ID: 5, SNR: 9}, {ID: 3, SNR: 20}, {ID: 8, SNR: 9}, {ID: 1, SNR: 6}, {ID: 9, SNR: math.NaN()}, {ID: 2, SNR: 30}}
	keep, drop := qa.Sample(alerts, 4, qa.PickSNR)
	if !slices.Equal(keep, []int64{2, 3, 5, 8}) || !slices.Equal(drop, []int64{1, 9}) {
		t.Errorf("by S/N: keep %v drop %v, want [2 3 5 8] and [1 9]", keep, drop)
	}
	if keep, drop := qa.Sample(alerts, 10, qa.PickSNR); len(keep) != 6 || len(drop) != 0 {
		t.Errorf("n above the count: keep %v drop %v", keep, drop)
	}

	var many []qa.Point
	for i := range 1000 {
		many = append(many, qa.Point{ID: int64(1_000_000 + i*7)})
	}
	keep, drop = qa.Sample(many, 100, qa.PickHash)
	if len(keep) != 100 || len(drop) != 900 {
		t.Fatalf("by hash: %d kept, %d dropped", len(keep), len(drop))
	}
	// A fair sample: ids from all over the range, not the lowest.
	if lo := slices.Min(keep); lo > 1_000_000+7*100 || slices.Max(keep) < 1_000_000+7*900 {
		t.Errorf("hash sample spans %d..%d only", slices.Min(keep), slices.Max(keep))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 5 {
		shuffled := slices.Clone(many)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:30]...)
		k2, d2 := qa.Sample(shuffled, 100, qa.PickHash)
		if !slices.Equal(k2, keep) || !slices.Equal(d2, drop) {
			t.Fatal("the hash sample depends on the order of the alerts")
		}
	}
}
