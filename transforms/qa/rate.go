package qa

import (
	"math"
	"slices"
	"strconv"

	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Median is the median of counts (the mean of the middle two for an even
// number), 0 for none.
func Median(counts []int) float64 {
	if len(counts) == 0 {
		return 0
	}
	s := slices.Clone(counts)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return float64(s[m])
	}
	return (float64(s[m-1]) + float64(s[m])) / 2
}

// Threshold is the count a group must exceed to be over the rate. earlier
// holds the group counts of earlier exposures, oldest first, one slice per
// exposure (at the level of c.By: one count per exposure, or one per CCD
// or quadrant that had alerts). A relative threshold is c.Factor times the
// median of all counts of the c.History most recent of them; ok is false
// when there are fewer than min(3, History) earlier exposures to judge by.
// An absolute threshold is c.Limit, always ok.
func (c RateConfig) Threshold(earlier [][]int) (threshold, median float64, ok bool) {
	c = c.withDefaults()
	if !c.relative() {
		return float64(c.Limit), 0, true
	}
	if len(earlier) > c.History {
		earlier = earlier[len(earlier)-c.History:]
	}
	if len(earlier) < min(minHistory, c.History) {
		return math.NaN(), 0, false
	}
	var all []int
	for _, e := range earlier {
		all = append(all, e...)
	}
	median = Median(all)
	return c.Factor * median, median, true
}

// Over reports whether a group of count alerts is over threshold (and
// over c.Min).
func (c RateConfig) Over(count int, threshold float64) bool {
	return count > c.Min && float64(count) > threshold
}

// Sample chooses which n alerts of a throttled group stay: by PickSNR the
// n of highest SNR, ties by the lower id; by PickHash the n of lowest
// splitmix64(id), a pseudo-random sample that is the same in every run.
// keep is in rank order, drop ascending. The choice depends only on the
// set of alerts, not their order; a repeated id counts once.
func Sample(alerts []Point, n int, pick string) (keep, drop []int64) {
	return filter.Select(scored(alerts, pick), n)
}

func scored(alerts []Point, pick string) []filter.Scored {
	out := make([]filter.Scored, len(alerts))
	for i, a := range alerts {
		out[i] = filter.Scored{ID: a.ID, Score: score(a, pick)}
	}
	return out
}

func score(a Point, pick string) float64 {
	if pick == PickHash {
		// Lowest hash first; 53 bits are exact in a float64.
		return -float64(splitmix64(uint64(a.ID)) >> 11)
	}
	return a.SNR
}

// splitmix64 is the finaliser of Steele et al.'s SplitMix64: a fixed,
// well-mixed hash of a 64-bit id.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// groupKey names the rate group of an alert of the exposure with the
// given key: the exposure itself, or a CCD or readout quadrant of it.
func groupKey(by, survey, exposure string, unit int32) string {
	if by == ByExposure {
		return exposure
	}
	if unit < 0 {
		return exposure + "/unit?"
	}
	if survey == "lsst" {
		return exposure + "/det" + strconv.Itoa(int(unit))
	}
	if by == ByCCD {
		return exposure + "/ccd" + strconv.Itoa(int(unit)/4+1)
	}
	return exposure + "/rcid" + strconv.Itoa(int(unit))
}
