package metrics

import (
	"context"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/prometheus/client_golang/prometheus"
)

// Timer measures a stage's work on each element twice over: in
// StageSeconds, which /metrics serves on the direct runner, and in the
// Beam distribution alertbeam/stage_<stage>_us, which Dataflow and Flink
// gather from their workers (where nothing serves /metrics). A DoFn makes
// one in Setup. Its cost is a clock read, an Observe and a distribution
// update per element: small next to decoding an alert.
type Timer struct {
	obs  prometheus.Observer
	dist beam.Distribution
}

// NewTimer returns the timer of a stage (Stage...).
func NewTimer(stage string) Timer {
	return Timer{obs: StageSeconds.WithLabelValues(stage), dist: beam.NewDistribution("alertbeam", "stage_"+stage+"_us")}
}

// Done records the time since start.
func (t Timer) Done(ctx context.Context, start time.Time) { t.Observe(ctx, time.Since(start)) }

// Observe records one element's time, for a stage that does its work in
// more than one place (the archive stages in ProcessElement, compresses
// in FinishBundle).
func (t Timer) Observe(ctx context.Context, d time.Duration) {
	t.obs.Observe(d.Seconds())
	t.dist.Update(ctx, d.Microseconds())
}
