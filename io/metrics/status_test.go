package metrics

import (
	"math"
	"testing"

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
