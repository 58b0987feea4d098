package watch

import (
	"strings"
	"sync"
	"time"
)

// Until calls cond until it returns true and reports whether it did within
// limit; the caller fails its test with what it knows of the wait. Until
// checks at once, then after 10 ms, and from there at twice the wait before,
// up to every 200 ms: quick for what is nearly there, and gentle on a broker
// when cond asks one. It gives up only after a check begun once the limit
// had passed, so a slow cond is never cut short by its own duration. A
// cond that finds the wait pointless (the pipeline under test has ended)
// fails the test itself.
func Until(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		last := time.Now().After(deadline)
		if cond() {
			return true
		}
		if last {
			return false
		}
		time.Sleep(wait)
	}
}

// Output collects what is written to it; it may be read while it is
// written.
type Output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
