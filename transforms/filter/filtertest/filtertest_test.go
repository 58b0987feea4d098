package filtertest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/filter/filtertest"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// The ten-line test a user writes for a built-in.
func TestBright(t *testing.T) {
	bright := filtertest.ZTF(1, func(a *ztf.Alert) { a.Candidate.Magpsf = 16 })
	faint := filtertest.ZTF(2, func(a *ztf.Alert) { a.Candidate.Magpsf = 20 })
	if got := filtertest.Kept(t, "bright:max=18", bright, faint); !slices.Equal(got, []int64{1}) {
		t.Errorf("kept %v, want [1]", got)
	}
}

// LSST alerts go through the wire format and a schema registry, which Run
// starts for the test.
func TestRunLSST(t *testing.T) {
	strong := filtertest.LSST(10)
	weak := filtertest.LSST(11, func(a *lsst.Alert) { a.DiaSource.PsfFlux = filtertest.Ptr[float32](300) })
	rock := filtertest.LSST(12, func(a *lsst.Alert) { a.SsSource = &lsst.SsSource{DiaSourceID: 12, SsObjectID: 99} })
	r, err := filtertest.Run(context.Background(), "diaSource.psfFlux / diaSource.psfFluxErr > 5.0 && !has(alert.ssSource)", strong, weak, rock)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Kept, []int64{10}) || !slices.Equal(r.Dropped, []int64{11, 12}) || len(r.Dead) != 0 {
		t.Errorf("kept %v dropped %v dead %v", r.Kept, r.Dropped, r.Dead)
	}
}

// A function under test need not be registered; its failures come back as
// dead letters, with the error.
func TestRunFunc(t *testing.T) {
	f := func(a *filter.Alert) (bool, error) {
		switch a.ID() {
		case 2:
			return false, errors.New("cannot judge")
		case 3:
			panic("bad alert")
		}
		return a.ZTF.Candidate.Magpsf < 18, nil
	}
	r, err := filtertest.RunFunc(context.Background(), f,
		filtertest.ZTF(1, func(a *ztf.Alert) { a.Candidate.Magpsf = 17 }), filtertest.ZTF(2), filtertest.ZTF(3), filtertest.ZTF(4))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Kept, []int64{1}) || !slices.Equal(r.Dropped, []int64{4}) || len(r.Dead) != 2 ||
		!strings.Contains(r.Dead[2], "cannot judge") || !strings.Contains(r.Dead[3], "panic: bad alert") {
		t.Errorf("kept %v dropped %v dead %v", r.Kept, r.Dropped, r.Dead)
	}
}

// A transform's output is the re-encoded alert.
func TestRunTransform(t *testing.T) {
	a := filtertest.ZTF(5, func(a *ztf.Alert) { a.CutoutDifference = &ztf.Cutout{FileName: "d", StampData: filtertest.Stamp(30)} })
	r, err := filtertest.Run(context.Background(), "nocutouts", a)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	var back ztf.Alert
	if err := codec.Decode(context.Background(), r.Values[5], &back); err != nil || back.CutoutDifference != nil || back.Candid != 5 {
		t.Errorf("published %d bytes: %v, cutout %v", len(r.Values[5]), err, back.CutoutDifference)
	}
	if got := filtertest.Kept(t, "cutoutsnr:min=25", a); !slices.Equal(got, []int64{5}) {
		t.Errorf("cutoutsnr on a stamp of S/N 30 kept %v", got)
	}
}
