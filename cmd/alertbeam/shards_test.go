package main

import (
	"runtime"
	"testing"
)

// --shards: what is given is used; 0 means one per core (2 to 8) on the
// direct runner the tests run on, and 1 where the pipeline needs one read.
func TestShardsFor(t *testing.T) {
	perCore := min(max(runtime.NumCPU(), 2), 8)
	for _, tc := range []struct {
		n       int
		oneRead bool
		want    int
	}{
		{3, false, 3},
		{3, true, 3}, // given: the pipeline says whether it can
		{0, false, perCore},
		{0, true, 1},
	} {
		if got := shardsFor(tc.n, tc.oneRead); got != tc.want {
			t.Errorf("shardsFor(%d, %v) = %d, want %d", tc.n, tc.oneRead, got, tc.want)
		}
	}
}
