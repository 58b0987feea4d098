package kafkaio

import "sync/atomic"

// draining is set once the process is asked to stop gracefully. It is
// process state, not configuration: a signal reaches the process, and the
// DoFns reading in it (the in-process direct runner, LOOPBACK workers)
// see it there.
var draining atomic.Bool

// Drain asks every Read in this process, running or started later, to
// finish: partition readers stop at the next record, discovery stops, and
// the pipeline then ends as a bounded one does. Windows close as the
// watermark moves to the end of time, sinks flush, and Commit commits what
// every sink finished, so a restart with the group resumes right after.
// Records read but not yet finished by every sink are simply not committed,
// and are read again after a restart. alertbeam calls it on the first
// SIGINT or SIGTERM. On Dataflow, draining a job does the same through
// the read's TruncateRestriction.
func Drain() { draining.Store(true) }

// Draining reports whether Drain was called, for sources other than Read
// (a generator) that should stop too.
func Draining() bool { return draining.Load() }
