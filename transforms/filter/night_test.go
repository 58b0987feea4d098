package filter_test

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// A generated night and the truth about it. The truth is computed here,
// from the generator's recorded fields and labels, by code written apart
// from the filters: decimal rather than float32 comparisons, calendar
// dates rather than Julian day arithmetic, labels where the generator
// records the answer (asteroids).

type night struct {
	cfg    sim.Config
	alerts []sim.Generated
}

var nights = struct {
	sync.Mutex
	m map[string]*night
}{m: map[string]*night{}}

// nightConfig: 40 exposures two minutes apart, fields revisited after 32
// minutes, so "two detections more than 30 minutes apart" happens.
func nightConfig(survey string, perVisit int, cutouts bool) sim.Config {
	c := sim.Defaults(survey)
	c.Seed = 7
	c.Night = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	c.Visits, c.AlertsPerVisit = 40, perVisit
	c.Cadence, c.Revisit = 2*time.Minute, 32*time.Minute
	c.NoCutouts = !cutouts
	return c
}

func generate(t testing.TB, c sim.Config) *night {
	t.Helper()
	key := fmt.Sprintf("%+v", c)
	nights.Lock()
	defer nights.Unlock()
	if n, ok := nights.m[key]; ok {
		return n
	}
	g := simtest.New(t, c)
	n := &night{cfg: c}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		n.alerts = append(n.alerts, a)
	}
	nights.m[key] = n
	return n
}

func (n *night) id(g sim.Generated) int64 {
	if g.ZTF != nil {
		return g.ZTF.Candid
	}
	return g.LSST.DiaSourceID
}

func wrap(g sim.Generated) *filter.Alert {
	if g.ZTF != nil {
		return filter.OfZTF(g.ZTF)
	}
	return filter.OfLSST(g.LSST)
}

// dec is a float32 field as the decimal it prints as.
func dec(p *float32) (float64, bool) {
	if p == nil || *p == -999 {
		return 0, false
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(*p), 'g', -1, 32), 64)
	return v, true
}

func decv(x float32) float64 { v, _ := dec(&x); return v }

// utcDate is the calendar date of a Julian date.
func utcDate(jd float64) string {
	sec := (jd - 2440587.5) * 86400
	return time.Unix(int64(math.Floor(sec)), 0).UTC().Format(time.DateOnly)
}

// dayObs is Rubin's observing day of a TAI MJD.
func dayObs(mjdTAI float64) string {
	sec := (mjdTAI-40587)*86400 - 37
	return time.Unix(int64(math.Floor(sec)), 0).UTC().Add(-12 * time.Hour).Format(time.DateOnly)
}

// truth says whether a built-in spec keeps a generated alert.
type truth func(g sim.Generated) bool

func ztfTruths() map[string]truth {
	return map[string]truth{
		"rb": func(g sim.Generated) bool { v, ok := dec(g.ZTF.Candidate.Rb); return ok && v >= 0.65 },
		"rb:min=0.9": func(g sim.Generated) bool {
			v, ok := dec(g.ZTF.Candidate.Rb)
			return ok && v >= 0.9
		},
		"drb": func(g sim.Generated) bool { v, ok := dec(g.ZTF.Candidate.Drb); return ok && v >= 0.5 },
		"purity": func(g sim.Generated) bool {
			c := g.ZTF.Candidate
			rb, ok1 := dec(c.Rb)
			fwhm, ok2 := dec(c.FWHM)
			elong, ok3 := dec(c.Elong)
			md, ok4 := dec(c.Magdiff)
			return ok1 && ok2 && ok3 && ok4 && c.Nbad != nil && rb >= 0.65 && *c.Nbad == 0 && fwhm <= 5 && elong <= 1.2 && math.Abs(md) <= 0.1
		},
		"star": func(g sim.Generated) bool {
			sg, ok1 := dec(g.ZTF.Candidate.Sgscore1)
			d, ok2 := dec(g.ZTF.Candidate.Distpsnr1)
			return ok1 && ok2 && sg >= 0.5 && d <= 30
		},
		"star:min=0.8,radius=1": func(g sim.Generated) bool {
			sg, ok1 := dec(g.ZTF.Candidate.Sgscore1)
			d, ok2 := dec(g.ZTF.Candidate.Distpsnr1)
			return ok1 && ok2 && sg >= 0.8 && d <= 1
		},
		"bright":          func(g sim.Generated) bool { return decv(g.ZTF.Candidate.Magpsf) <= 18.5 },
		"bright:max=17.5": func(g sim.Generated) bool { return decv(g.ZTF.Candidate.Magpsf) <= 17.5 },
		"positive":        func(g sim.Generated) bool { s := g.ZTF.Candidate.Isdiffpos; return s == "t" || s == "1" },
		"new": func(g sim.Generated) bool {
			if g.ZTF.Candidate.Ndethist > 1 {
				return false
			}
			return countPrvDetections(g) == 0
		},
		"history": func(g sim.Generated) bool { return ztfHistoryTruth(g, 30) },
		"asteroid": func(g sim.Generated) bool {
			return g.Asteroid // the generator's label: every asteroid it makes lies within 4"
		},
		"noasteroid": func(g sim.Generated) bool { return !g.Asteroid },
		"significance": func(g sim.Generated) bool {
			return 1.0857362047581294/decv(g.ZTF.Candidate.Sigmapsf) > 5
		},
		"program":                             func(g sim.Generated) bool { return g.ZTF.Candidate.Programid == 1 },
		"program:ids=2+3":                     func(g sim.Generated) bool { p := g.ZTF.Candidate.Programid; return p == 2 || p == 3 },
		"nocutouts":                           func(sim.Generated) bool { return true },
		"drop:fields=fp_hists+prv_candidates": func(sim.Generated) bool { return true },
		"cutoutsnr": func(g sim.Generated) bool {
			if g.ZTF.CutoutDifference == nil {
				return false
			}
			return stampTruth(g.ZTF.CutoutDifference.StampData) >= 5
		},
	}
}

func countPrvDetections(g sim.Generated) int {
	n := 0
	if g.ZTF.PrvCandidates != nil {
		for _, p := range *g.ZTF.PrvCandidates {
			if p.Candid != nil {
				n++
			}
		}
	}
	return n
}

// ztfHistoryTruth: the detections on the alert's UTC date span more than
// gap minutes, none is on an earlier date, and the first detection on
// record (jdstarthist) is today.
func ztfHistoryTruth(g sim.Generated, gap float64) bool {
	c := g.ZTF.Candidate
	today := utcDate(c.Jd)
	if c.Jdstarthist != nil && *c.Jdstarthist != -999 && utcDate(*c.Jdstarthist) < today {
		return false
	}
	times := []float64{c.Jd}
	if g.ZTF.PrvCandidates != nil {
		for _, p := range *g.ZTF.PrvCandidates {
			if p.Candid == nil {
				continue
			}
			switch d := utcDate(p.Jd); {
			case d < today:
				return false
			case d == today:
				times = append(times, p.Jd)
			}
		}
	}
	return (slices.Max(times)-slices.Min(times))*1440 > gap
}

func lsstTruths() map[string]truth {
	return map[string]truth{
		"rb": func(g sim.Generated) bool { v, ok := dec(g.LSST.DiaSource.Reliability); return ok && v >= 0.65 },
		"bright": func(g sim.Generated) bool {
			f := g.LSST.DiaSource.PsfFlux
			return f != nil && *f != 0 && 31.4-2.5*math.Log10(math.Abs(float64(*f))) <= 18.5
		},
		"bright:max=21": func(g sim.Generated) bool {
			f := g.LSST.DiaSource.PsfFlux
			return f != nil && *f != 0 && 31.4-2.5*math.Log10(math.Abs(float64(*f))) <= 21
		},
		"positive": func(g sim.Generated) bool { f := g.LSST.DiaSource.PsfFlux; return f != nil && *f > 0 },
		"new": func(g sim.Generated) bool {
			l := g.LSST
			return (l.PrvDiaSources == nil || len(*l.PrvDiaSources) == 0) && (l.DiaObject == nil || l.DiaObject.NDiaSources <= 1)
		},
		"history": func(g sim.Generated) bool {
			d := g.LSST.DiaSource
			today := dayObs(d.MidpointMjdTai)
			times := []float64{d.MidpointMjdTai}
			if g.LSST.PrvDiaSources != nil {
				for _, p := range *g.LSST.PrvDiaSources {
					switch o := dayObs(p.MidpointMjdTai); {
					case o < today:
						return false
					case o == today:
						times = append(times, p.MidpointMjdTai)
					}
				}
			}
			return (slices.Max(times)-slices.Min(times))*1440 > 30
		},
		"asteroid":   func(g sim.Generated) bool { return g.Asteroid },
		"noasteroid": func(g sim.Generated) bool { return !g.Asteroid },
		"significance": func(g sim.Generated) bool {
			d := g.LSST.DiaSource
			return d.PsfFlux != nil && d.PsfFluxErr != nil && float64(*d.PsfFlux)/float64(*d.PsfFluxErr) > 5
		},
		"nocutouts": func(sim.Generated) bool { return true },
		"drop:fields=prvDiaForcedSources+diaObject": func(sim.Generated) bool { return true },
		"cutoutsnr": func(g sim.Generated) bool {
			return g.LSST.CutoutDifference != nil && stampTruth(*g.LSST.CutoutDifference) >= 5
		},
	}
}

// stampTruth recomputes a difference stamp's central S/N from its pixels:
// the centre against the median and MAD of the pixels more than 7 from the
// centre in x or y.
func stampTruth(b []byte) float64 {
	im, err := fits.DecodeAuto(b)
	if err != nil {
		return math.NaN()
	}
	var bg []float64
	for i, v := range im.Pix {
		x, y := i%im.Width, i/im.Width
		dx, dy := x-im.Width/2, y-im.Height/2
		if (dx < -7 || dx > 7 || dy < -7 || dy > 7) && !math.IsNaN(float64(v)) {
			bg = append(bg, float64(v))
		}
	}
	med := middle(bg)
	dev := make([]float64, len(bg))
	for i, v := range bg {
		dev[i] = math.Abs(v - med)
	}
	return math.Abs(float64(im.Pix[(im.Height/2)*im.Width+im.Width/2])-med) / (1.4826 * middle(dev))
}

func middle(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// expected returns the ids a truth keeps, sorted.
func (n *night) expected(tr truth) []int64 {
	var ids []int64
	for _, g := range n.alerts {
		if tr(g) {
			ids = append(ids, n.id(g))
		}
	}
	slices.Sort(ids)
	return ids
}

func (n *night) all() []int64 {
	return n.expected(func(sim.Generated) bool { return true })
}
