// Package filtertest helps users test alert filters: build alerts with the
// field values a test needs, run a filter over them as alertbeam runs it
// (decode, filter, publish, on the direct runner), and compare the kept ids.
//
//	func TestMain(m *testing.M) { ptest.Main(m) }
//
//	func TestBright(t *testing.T) {
//		bright := filtertest.ZTF(1, func(a *ztf.Alert) { a.Candidate.Magpsf = 16 })
//		faint := filtertest.ZTF(2, func(a *ztf.Alert) { a.Candidate.Magpsf = 20 })
//		if got := filtertest.Kept(t, "bright:max=18", bright, faint); !slices.Equal(got, []int64{1}) {
//			t.Errorf("kept %v, want [1]", got)
//		}
//	}
//
// Run needs Beam's test harness initialised: call ptest.Main(m) (package
// github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest) from TestMain.
package filtertest
