package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Quantile interpolates within the bucket the rank falls in, as
// Prometheus's histogram_quantile does: worked by hand for buckets
// (0,1], (1,2], (2,4], (4,+Inf) holding 1, 2, 1 and 1 observations.
func TestQuantile(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "q", Buckets: []float64{1, 2, 4}})
	for _, v := range []float64{0.5, 1.5, 1.5, 3, 100} {
		h.Observe(v)
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ q, want float64 }{
		{0.1, 0.5},  // rank 0.5 of 1 in (0,1]
		{0.5, 1.75}, // rank 2.5: 1.5 of the 2 in (1,2]
		{0.7, 3},    // rank 3.5: half of the 1 in (2,4]
		{0.99, 4},   // rank 4.95 in +Inf: the highest finite bound
	} {
		if got := Quantile(c.q, m.GetHistogram()); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Quantile(0.5, &dto.Histogram{}); !math.IsNaN(got) {
		t.Errorf("Quantile of an empty histogram = %v, want NaN", got)
	}
}

// The page's quantiles cover the last QuantileWindow: observations older
// than the snapshot taken that long ago no longer count.
func TestRecentHistograms(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "w", Buckets: []float64{1, 2, 4}})
	snap := func() map[string]*dto.Histogram {
		var m dto.Metric
		if err := h.Write(&m); err != nil {
			t.Fatal(err)
		}
		return map[string]*dto.Histogram{"w": m.GetHistogram()}
	}
	histSnapshots.Lock()
	start := histSnapshots.list[0].at
	histSnapshots.list = histSnapshots.list[:1] // as at the process's start
	histSnapshots.Unlock()
	for range 3 {
		h.Observe(3) // slow, early
	}
	r := recentHistograms(start.Add(time.Minute), snap())["w"]
	if r.GetSampleCount() != 3 || Quantile(0.5, r) != 3 {
		t.Fatalf("first minutes: %d observations, p50 %v; want 3 since the start, p50 3", r.GetSampleCount(), Quantile(0.5, r))
	}
	for range 4 {
		h.Observe(0.5) // fast, later
	}
	r = recentHistograms(start.Add(7*time.Minute), snap())["w"]
	if r.GetSampleCount() != 4 || Quantile(0.99, r) > 1 {
		t.Fatalf("7 min in: %d observations, p99 %v; want the 4 since the snapshot at 1 min, p99 at most 1", r.GetSampleCount(), Quantile(0.99, r))
	}
	r = recentHistograms(start.Add(13*time.Minute), snap())["w"]
	if r.GetSampleCount() != 0 {
		t.Fatalf("13 min in, nothing new: %d observations, want 0", r.GetSampleCount())
	}
}
