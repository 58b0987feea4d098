package watch

import (
	"context"
	"testing"
	"time"
)

// Run is work a test runs in the background, such as a streaming
// pipeline or a command, and waits on while it runs.
type Run struct {
	cancel context.CancelFunc
	ended  chan struct{} // closed once the work has returned, with err set
	err    error
}

// Start runs work in the background with a context that Stop cancels. The
// test's end stops it too, for a test that fails first, so nothing it
// started outlives the test.
func Start(t testing.TB, work func(ctx context.Context) error) *Run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{cancel: cancel, ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		r.err = work(ctx)
	}()
	t.Cleanup(func() { r.Stop() })
	return r
}

// Until waits as the package's Until does, and fails t if cond does not
// hold within limit or if the run ends first.
func (r *Run) Until(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	held := Until(limit, func() bool {
		select {
		case <-r.ended:
			t.Fatalf("the run ended before %s: %v", what, r.err)
		default:
		}
		return cond()
	})
	if !held {
		t.Fatalf("after %v: still not %s", limit, what)
	}
}

// Ended is closed once the run has ended; Err then says how.
func (r *Run) Ended() <-chan struct{} { return r.ended }

// Err is how the run ended: nil before then, and for work that ended well.
func (r *Run) Err() error {
	select {
	case <-r.ended:
		return r.err
	default:
		return nil
	}
}

// Stop cancels the run's context and returns how it ended, once it has.
func (r *Run) Stop() error {
	r.cancel()
	<-r.ended
	return r.err
}
