package picture

import (
	"math"
	"sort"

	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Kind is what a light-curve point is.
type Kind int

const (
	// Detection is a detection on the difference image.
	Detection Kind = iota
	// Negative is a detection whose difference flux is negative (the
	// source is fainter than in the template): ZTF's isdiffpos "f", a
	// negative LSST psfFlux. Its magnitude is that of |flux|.
	Negative
	// UpperLimit is a non-detection: the 5σ limiting magnitude.
	UpperLimit
	// Forced is LSST forced photometry with S/N ≥ 5 that is not a
	// detection of its own.
	Forced
)

// Detected reports whether the point is a detection (either sign).
func (k Kind) Detected() bool { return k == Detection || k == Negative }

// Point is one light-curve measurement.
type Point struct {
	Band string
	MJD  float64 // observation time
	Mag  float64 // AB magnitude, or the limit of an UpperLimit
	Err  float64 // 1σ, 0 for an upper limit
	Kind Kind
}

// jdToMJD converts a Julian date to a modified Julian date.
const jdToMJD = 2400000.5

// ztfBands names ZTF's fid values.
var ztfBands = map[int]string{1: "g", 2: "r", 3: "i"}

func ztfBand(fid int) string {
	if b, ok := ztfBands[fid]; ok {
		return b
	}
	return "?"
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ZTFPoints is the light curve of a ZTF alert: its candidate and the
// prv_candidates that are detections (with a candid and magpsf), and the
// diffmaglim of those that are not, in time order. (fp_hists, forced
// photometry, is not drawn.)
func ZTFPoints(a *ztf.Alert) []Point {
	var pts []Point
	c := &a.Candidate
	if m := float64(c.Magpsf); finite(m) && m > 0 {
		pts = append(pts, Point{Band: ztfBand(c.Fid), MJD: c.Jd - jdToMJD, Mag: m, Err: float64(c.Sigmapsf), Kind: ztfKind(c.Isdiffpos)})
	}
	if a.PrvCandidates != nil {
		for _, p := range *a.PrvCandidates {
			switch {
			case p.Candid != nil && p.Magpsf != nil:
				if m := float64(*p.Magpsf); finite(m) && m > 0 {
					pt := Point{Band: ztfBand(p.Fid), MJD: p.Jd - jdToMJD, Mag: m, Kind: Detection}
					if p.Sigmapsf != nil && finite(float64(*p.Sigmapsf)) {
						pt.Err = float64(*p.Sigmapsf)
					}
					if p.Isdiffpos != nil {
						pt.Kind = ztfKind(*p.Isdiffpos)
					}
					pts = append(pts, pt)
				}
			case p.Candid == nil && p.Diffmaglim != nil:
				if m := float64(*p.Diffmaglim); finite(m) && m > 0 {
					pts = append(pts, Point{Band: ztfBand(p.Fid), MJD: p.Jd - jdToMJD, Mag: m, Kind: UpperLimit})
				}
			}
		}
	}
	sortByTime(pts)
	return pts
}

func ztfKind(isdiffpos string) Kind {
	if isdiffpos == "f" || isdiffpos == "0" {
		return Negative
	}
	return Detection
}

// nJy0 is the AB magnitude of 1 nJy: m = nJy0 − 2.5 log10(flux/nJy).
const nJy0 = 31.4

// LSSTPoints is the light curve of an LSST alert: its diaSource and
// prvDiaSources as detections (magnitudes of |psfFlux|), and its
// prvDiaForcedSources as Forced points when S/N ≥ 5, else as 5σ upper
// limits, in time order.
func LSSTPoints(a *lsst.Alert) []Point {
	var pts []Point
	add := func(s *lsst.DiaSource) {
		if s.PsfFlux == nil {
			return
		}
		f := float64(*s.PsfFlux)
		if !finite(f) || f == 0 {
			return
		}
		p := Point{Band: str(s.Band), MJD: s.MidpointMjdTai, Mag: nJy0 - 2.5*math.Log10(math.Abs(f)), Kind: Detection}
		if f < 0 {
			p.Kind = Negative
		}
		if s.PsfFluxErr != nil && finite(float64(*s.PsfFluxErr)) {
			p.Err = 2.5 / math.Ln10 * float64(*s.PsfFluxErr) / math.Abs(f)
		}
		pts = append(pts, p)
	}
	add(&a.DiaSource)
	if a.PrvDiaSources != nil {
		for i := range *a.PrvDiaSources {
			add(&(*a.PrvDiaSources)[i])
		}
	}
	if a.PrvDiaForcedSources != nil {
		for _, s := range *a.PrvDiaForcedSources {
			if s.PsfFlux == nil || s.PsfFluxErr == nil {
				continue
			}
			f, e := float64(*s.PsfFlux), float64(*s.PsfFluxErr)
			if !finite(f) || !finite(e) || e <= 0 {
				continue
			}
			if f/e >= 5 {
				pts = append(pts, Point{Band: str(s.Band), MJD: s.MidpointMjdTai, Mag: nJy0 - 2.5*math.Log10(f),
					Err: 2.5 / math.Ln10 * e / f, Kind: Forced})
			} else {
				pts = append(pts, Point{Band: str(s.Band), MJD: s.MidpointMjdTai, Mag: nJy0 - 2.5*math.Log10(5*e), Kind: UpperLimit})
			}
		}
	}
	sortByTime(pts)
	return pts
}

func str(s *string) string {
	if s == nil || *s == "" {
		return "?"
	}
	return *s
}

func sortByTime(pts []Point) {
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].MJD < pts[j].MJD })
}
