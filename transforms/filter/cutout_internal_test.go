package filter

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// median by selection agrees with median by sorting, duplicates included.
func TestMedianBySelection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		n := 1 + r.IntN(300)
		v := make([]float64, n)
		for i := range v {
			if trial%3 == 0 {
				v[i] = float64(r.IntN(5)) // many ties
			} else {
				v[i] = r.NormFloat64()
			}
		}
		s := slices.Clone(v)
		slices.Sort(s)
		want := s[n/2]
		if n%2 == 0 {
			want = (s[n/2-1] + s[n/2]) / 2
		}
		if got := median(v); got != want {
			t.Fatalf("median of %d values = %v, want %v", n, got, want)
		}
	}
}
