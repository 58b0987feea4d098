package kafkaio

import (
	"context"
	"strconv"
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
// finish: partition readers stop at the next record (the readers of one
// Reads at the same record: see drainLine), discovery stops, and
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

// A drain stops the readers of one Reads together. They read the same
// records for different sinks, and Commit commits a record only once every
// sink has finished it, so readers stopped at different offsets would
// leave records that one sink had delivered uncommitted, to be delivered
// again after a restart. So on a drain the first reader of a partition to
// see it draws a line at the furthest offset any of them has read to; each
// reads on up to the line and stops there, none past it. Every record
// below the line was read by one of them, so each can reach it.
type drainLine struct {
	mu   sync.Mutex
	next map[int]int64 // reader → the offset after the last record it read
	line int64         // where they all stop, once drawn; -1 before
}

// drainLines holds a line for each partition of each Reads with several
// readers, keyed by the Reads's id, topic and partition.
var drainLines sync.Map

func drainLineOf(reads, topic string, partition int32) *drainLine {
	key := reads + "\x00" + topic + "\x00" + strconv.Itoa(int(partition))
	l, _ := drainLines.LoadOrStore(key, &drainLine{next: map[int]int64{}, line: -1})
	return l.(*drainLine)
}

// read says whether reader may read the record at offset, its next, and
// notes the record as read if so, in one step: a line drawn after it
// counts the record. While not draining it always may.
func (l *drainLine) read(draining bool, reader int, offset int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if draining && offset >= l.drawn(offset) {
		return false
	}
	l.next[reader] = offset + 1
	return true
}

// stopped says whether a reader that would read next is done: draining,
// with next at or past the line.
func (l *drainLine) stopped(draining bool, next int64) bool {
	if !draining {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return next >= l.drawn(next)
}

// drawn is the line, drawing it if it is not yet: the furthest any reader
// has read to, counting a reader about to read next. l.mu is held.
func (l *drainLine) drawn(next int64) int64 {
	if l.line < 0 {
		l.line = next
		for _, n := range l.next {
			l.line = max(l.line, n)
		}
	}
	return l.line
}
