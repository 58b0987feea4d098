package filter_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/filter/filtertest"
)

// A user-defined filter: registered once, from init, so that every worker
// of a distributed runner has it under the same name.
func init() {
	filter.Register("young-bright", "first detected within the last 2 days and brighter than 17 mag: "+
		"candidate.jd - candidate.jdstarthist < 2 and candidate.magpsf < 17",
		func(a *filter.Alert) (bool, error) {
			c := a.ZTF.Candidate
			if c.Jdstarthist == nil {
				return false, filter.ErrMissing
			}
			return c.Jd-*c.Jdstarthist < 2 && c.Magpsf < 17, nil
		}, "ztf")
}

// Filters are plain Go: run one on a decoded alert directly.
func Example() {
	f, err := filter.Build("young-bright", "ztf")
	if err != nil {
		panic(err)
	}
	bright := filtertest.ZTF(1, func(a *ztf.Alert) { a.Candidate.Magpsf = 16.2 })
	faint := filtertest.ZTF(2, func(a *ztf.Alert) { a.Candidate.Magpsf = 19.5 })
	for _, a := range []*filter.Alert{bright, faint} {
		keep, err := f.Keep(a)
		fmt.Println(a.ID(), keep, err)
	}
	// Output:
	// 1 true <nil>
	// 2 false <nil>
}

// In a pipeline, filter.Apply runs filters by spec: registered names (with
// parameters) and expressions, each to its own output. filtertest.Run runs
// one spec through Apply on the direct runner.
func Example_pipeline() {
	alerts := []*filter.Alert{
		filtertest.ZTF(1, func(a *ztf.Alert) { a.Candidate.Magpsf = 16.2 }),
		filtertest.ZTF(2, func(a *ztf.Alert) { a.Candidate.Magpsf = 16.8; a.Candidate.Rb = filtertest.Ptr[float32](0.3) }),
		filtertest.ZTF(3, func(a *ztf.Alert) { a.Candidate.Magpsf = 19.5 }),
	}
	for _, spec := range []string{
		"young-bright",
		"bright:max=18",
		"clean=candidate.rb >= 0.65 && candidate.magpsf < 17.0",
	} {
		r, err := filtertest.Run(context.Background(), spec, alerts...)
		if err != nil {
			panic(err)
		}
		fmt.Println(spec, "kept", r.Kept, "dropped", r.Dropped)
	}
	// Output:
	// young-bright kept [1 2] dropped [3]
	// bright:max=18 kept [1 2] dropped [3]
	// clean=candidate.rb >= 0.65 && candidate.magpsf < 17.0 kept [1] dropped [2 3]
}

// Expressions are checked against the schema when the pipeline is built.
func ExampleExpr() {
	_, err := filter.Expr("typo", "candidate.rbb > 0.8", "ztf")
	fmt.Println(err != nil)
	f, _ := filter.Expr("two-dets", "candidate.rb > 0.8 && candidate.ndethist >= 2", "ztf")
	keep, _ := f.Keep(filtertest.ZTF(7, func(a *ztf.Alert) { a.Candidate.Ndethist = 3 }))
	fmt.Println(keep)
	// Output:
	// true
	// true
}

// Combinators make named filters from others.
func ExampleAnd() {
	rb, _ := filter.Build("rb:min=0.8", "ztf")
	asteroid, _ := filter.Build("asteroid", "ztf")
	f := filter.And(rb, filter.Not(asteroid)).As("real-not-asteroid", "rb >= 0.8 and not a known asteroid")
	rock := filtertest.ZTF(9, func(a *ztf.Alert) {
		a.Candidate.Ssnamenr, a.Candidate.Ssdistnr = filtertest.Ptr("12345"), filtertest.Ptr[float32](1.2)
	})
	k1, _ := f.Keep(filtertest.ZTF(8))
	k2, _ := f.Keep(rock)
	fmt.Println(f.Name(), k1, k2)
	// Output: real-not-asteroid true false
}

// How a user tests a filter: about ten lines on the direct runner (the
// package's TestMain calls ptest.Main).
func TestYoungBright(t *testing.T) {
	old := filtertest.ZTF(1, func(a *ztf.Alert) {
		a.Candidate.Magpsf = 16
		a.Candidate.Jdstarthist = filtertest.Ptr(filtertest.JD - 30)
	})
	young := filtertest.ZTF(2, func(a *ztf.Alert) { a.Candidate.Magpsf = 16 })
	faint := filtertest.ZTF(3, func(a *ztf.Alert) { a.Candidate.Magpsf = 18 })
	if got := filtertest.Kept(t, "young-bright", old, young, faint); !slices.Equal(got, []int64{2}) {
		t.Errorf("kept %v, want [2]", got)
	}
}
