package runners_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/runners"
)

// blockingStarted tells the test that waitForStop's bundle is running:
// the direct runner's workers run in this process.
var blockingStarted = make(chan struct{}, 1)

// waitForStop holds its bundle until its worker stops.
func waitForStop(ctx context.Context, _ []byte) {
	select {
	case blockingStarted <- struct{}{}:
	default:
	}
	<-ctx.Done()
}

func init() { register.Function2x0(waitForStop) }

// A direct run whose context ends while a bundle is in flight returns
// ctx's error and leaves its job cancelled in prism, not running with no
// workers (Beam's own path left it so, spinning two cores).
func TestCancelledDirectRunCancelsItsJob(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, waitForStop, beam.Impulse(s))
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-blockingStarted
		cancel()
	}()
	res, err := runners.Run(ctx, p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if res == nil || res.JobID() == "" {
		t.Fatalf("Run returned no job (%v)", res)
	}
	state, err := runners.DirectJobState(t.Context(), res.JobID())
	if err != nil {
		t.Fatal(err)
	}
	if state != "CANCELLED" {
		t.Errorf("job %s is %s after its run was cancelled, want CANCELLED", res.JobID(), state)
	}
}
