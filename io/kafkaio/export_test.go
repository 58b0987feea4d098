package kafkaio

import (
	"sync"

	"golang.org/x/sync/semaphore"
)

// TightBudgets makes the process's read-ahead, Fetch read-ahead and
// unanswered-bytes budgets as small as they go (bytes), so that a test
// exercises every pause and wait, and returns what restores them. Tests
// using it must not run in parallel with others.
func TightBudgets(bytes int64) (restore func()) {
	ra, pm, fa, um, u := readAheadMax, pumpMin, fetchAheadMax, unansweredMax, unanswered
	readAheadMax, pumpMin, fetchAheadMax, unansweredMax = bytes, bytes, bytes, bytes
	unanswered = semaphore.NewWeighted(bytes)
	return func() {
		readAheadMax, pumpMin, fetchAheadMax, unansweredMax, unanswered = ra, pm, fa, um, u
	}
}

// Undrain ends a test's Drain once its pipelines have stopped, so that
// the tests after it read on. Tests using it must not run in parallel with
// others.
func Undrain() {
	draining.Store(false)
	drained = make(chan struct{})
	drainOnce = sync.Once{}
}
