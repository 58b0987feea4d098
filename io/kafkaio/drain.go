package kafkaio

import (
	"context"
	"sync"
	"sync/atomic"
)

// draining is set once the process is asked to stop gracefully. It is
// process state, not configuration: a signal reaches the process, and the
// DoFns reading in it (the in-process direct runner, LOOPBACK workers)
// see it there.
var (
	draining  atomic.Bool
	drainOnce sync.Once
	drained   = make(chan struct{})
)

// Drain asks every Read in this process, running or started later, to
// finish: partition readers stop at the next record, discovery stops, and
// the pipeline then ends as a bounded one does. Windows close as the
// watermark moves to the end of time, sinks flush, and Commit commits what
// every sink finished, so a restart with the group resumes right after.
// Records read but not yet finished by every sink are simply not committed,
// and are read again after a restart. alertbeam calls it on the first
// SIGINT or SIGTERM. On Dataflow, draining a job does the same through
// the read's TruncateRestriction.
func Drain() {
	draining.Store(true)
	drainOnce.Do(func() { close(drained) })
}

// Draining reports whether Drain was called, for sources other than Read
// (a generator, an archive replay) that should stop too.
func Draining() bool { return draining.Load() }

// Drained is closed when Drain is called, for sources that wait (a paced
// replay) and must wake up to stop.
func Drained() <-chan struct{} { return drained }

// DrainContext is the context to run a pipeline in under ctx, for code
// that cancels ctx when it is asked to stop (alertbeam's demo and bench):
// ctx's end reaches the pipeline only when the process is not draining.
// On a drain the pipeline is left to finish what it has in flight and end
// by itself, as a bounded one does, instead of being cancelled mid-bundle.
func DrainContext(ctx context.Context) (context.Context, context.CancelFunc) {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !Draining() {
			cancel()
		}
	})
	return run, func() {
		stop()
		cancel()
	}
}
