package watch_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/watch"
)

// Until returns once cond holds, having asked no more often than it
// needed: the n-th call is the first to see it true.
func TestUntilReturnsWhenCondHolds(t *testing.T) {
	calls := 0
	if !watch.Until(time.Minute, func() bool { calls++; return calls == 5 }) {
		t.Fatal("Until gave up on a cond that held at its fifth call")
	}
	if calls != 5 {
		t.Fatalf("cond called %d times, want 5", calls)
	}
}

// A cond that never holds makes Until give up, but only after a check
// begun once the limit had passed.
func TestUntilGivesUpAfterTheLimit(t *testing.T) {
	start := time.Now()
	var last time.Time
	if watch.Until(50*time.Millisecond, func() bool { last = time.Now(); return false }) {
		t.Fatal("Until reported a cond that never held as holding")
	}
	if last.Sub(start) < 50*time.Millisecond {
		t.Fatalf("the last check began %v after the start, before the 50ms limit", last.Sub(start))
	}
}

// Output gives back every write whole, whatever writes at once.
func TestOutputCollectsConcurrentWrites(t *testing.T) {
	var o watch.Output
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&o, "w%d\n", i)
				_ = o.String()
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(o.String(), "\n"), "\n")
	count := map[string]int{}
	for _, l := range lines {
		count[l]++
	}
	for i := range 8 {
		if n := count[fmt.Sprintf("w%d", i)]; n != 100 {
			t.Errorf("w%d written 100 times, read back %d times", i, n)
		}
	}
	if len(lines) != 800 {
		t.Errorf("%d lines read back, want 800", len(lines))
	}
}

// A run is stopped by Stop, which returns the work's own error, and again
// harmlessly by the test's end.
func TestRunStopReturnsTheWorksError(t *testing.T) {
	r := watch.Start(t, func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("stopped: %w", ctx.Err())
	})
	if err := r.Err(); err != nil {
		t.Fatalf("Err before the run ended: %v", err)
	}
	if err := r.Stop(); !errors.Is(err, context.Canceled) || err.Error() != "stopped: context canceled" {
		t.Fatalf("Stop returned %v, want the work's own error", err)
	}
	if err := r.Err(); err == nil || err.Error() != "stopped: context canceled" {
		t.Fatalf("Err after the run ended: %v", err)
	}
}

// Until on a run that ends first fails the test with how it ended, at
// once rather than at the limit.
func TestRunUntilFailsWhenTheRunEnds(t *testing.T) {
	r := watch.Start(t, func(ctx context.Context) error { return errors.New("broker gone") })
	<-r.Ended()
	ft := &fatalRecorder{TB: t}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		r.Until(ft, time.Hour, "the alerts written", func() bool { return false })
	}()
	<-finished
	if want := "the run ended before the alerts written: broker gone"; ft.msg != want {
		t.Fatalf("Until failed with %q, want %q", ft.msg, want)
	}
}

// fatalRecorder keeps Fatalf's message and ends the goroutine as
// testing.T's Fatalf does, without failing the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
