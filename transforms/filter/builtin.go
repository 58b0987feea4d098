package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// The built-in filters. Each doc states its exact cut. Float fields of the
// packets are float32; a threshold is compared in the field's precision
// (float32(threshold)), so a field that prints as 0.1 passes "<= 0.1" as it
// does in NumPy. A value that is null, or a ZTF sentinel (-999, ssnamenr
// "null"), is missing: the alert is dropped and counted as missing unless
// the doc says otherwise.

// ztfOnly marks the built-ins that read fields only ZTF has.
var ztfOnly = []string{schemas.ZTF}

func init() {
	RegisterFactory("rb", "real/bogus score at least min: ZTF candidate.rb >= min; LSST diaSource.reliability >= min.",
		[]Param{{Name: "min", Default: "0.65", Doc: "lowest score kept, 0 to 1"}}, nil, rbFilter)
	RegisterFactory("drb", "deep-learning real/bogus score at least min: ZTF candidate.drb >= min.",
		[]Param{{Name: "min", Default: "0.5", Doc: "lowest score kept, 0 to 1"}}, ztfOnly, drbFilter)
	Add(New("purity", "ZTF purity cut: candidate.rb >= 0.65 && nbad == 0 && fwhm <= 5 && elong <= 1.2 && abs(magdiff) <= 0.1. "+
		"A false condition drops the alert even if another value is missing.", purity, ztfOnly...))
	RegisterFactory("star", "the nearest Pan-STARRS1 source is star-like: ZTF candidate.sgscore1 >= min and distpsnr1 <= radius "+
		"[arcsec]. No PS1 source (sgscore1 missing or -999) means not a star: dropped, but not counted as missing, so !star keeps it.",
		[]Param{{Name: "min", Default: "0.5", Doc: "lowest sgscore1 that counts as a star (PS1-PSC's nominal split is 0.5)"},
			{Name: "radius", Default: "30", Doc: "largest distpsnr1 [arcsec] (ZTF lists PS1 sources out to 30)"}}, ztfOnly, starFilter)
	RegisterFactory("bright", "brighter than max: ZTF candidate.magpsf <= max; LSST the AB magnitude of |diaSource.psfFlux|, "+
		"31.4 - 2.5 log10(|psfFlux| / nJy) <= max.",
		[]Param{{Name: "max", Default: "18.5", Doc: "faintest magnitude kept (18.5 is the ZTF Bright Transient Survey limit)"}}, nil, brightFilter)
	Add(New("positive", "positive subtraction (brighter than the template): ZTF candidate.isdiffpos is \"t\" or \"1\"; LSST diaSource.psfFlux > 0.",
		positive))
	Add(New("new", "no previous detection: ZTF candidate.ndethist <= 1 and no prv_candidates entry with a candid (a detection, not an upper limit); "+
		"LSST no prvDiaSources and diaObject absent or diaObject.nDiaSources <= 1.", isNew))
	RegisterFactory("history", "two detections tonight more than gap minutes apart and no earlier detection. Detections are the alert's own and, "+
		"for ZTF, prv_candidates entries with a candid (for LSST, prvDiaSources). Tonight is the alert's night: for ZTF the UTC date of jd, "+
		"for LSST Rubin's dayObs (midpointMjdTai to UTC, minus 12 h). Kept when the latest and earliest detections tonight are more than "+
		"gap apart, no detection falls on an earlier night, and (ZTF) candidate.jdstarthist, the first detection on record, when present "+
		"is tonight too, which reaches back past the 30-day prv_candidates window.",
		[]Param{{Name: "gap", Default: "30", Doc: "minutes the detections tonight must span, strictly more than"}}, nil, historyFilter)
	RegisterFactory("asteroid", "a known solar-system object: ZTF candidate.ssnamenr is set (not \"null\") and ssdistnr <= radius [arcsec]; "+
		"LSST ssSource is present (Rubin associated it; radius is not used). A missing counterpart is a definite no, so !asteroid keeps it.",
		[]Param{{Name: "radius", Default: "5", Doc: "largest ssdistnr [arcsec] (ZTF matches out to 30)"}}, nil, asteroidFilter)
	RegisterFactory("noasteroid", "not a known solar-system object: the complement of asteroid with the same radius.",
		[]Param{{Name: "radius", Default: "5", Doc: "largest ssdistnr [arcsec] that counts as an asteroid"}}, nil,
		func(survey string, p Params) (*Filter, error) {
			a, err := asteroidFilter(survey, p)
			if err != nil {
				return nil, err
			}
			return Not(a).As("noasteroid", "not a known solar-system object"), nil
		})
	RegisterFactory("significance", "detection significance above min: LSST diaSource.psfFlux / psfFluxErr > min (signed: a negative "+
		"source fails); ZTF 1.0857 / candidate.sigmapsf > min (1.0857 = 2.5/ln 10), the S/N its magnitude error implies (sign-free: combine with positive).",
		[]Param{{Name: "min", Default: "5", Doc: "S/N the detection must exceed"}}, nil, significanceFilter)
	RegisterFactory("program", "ZTF programid is one of ids (1 public, 2 partnership, 3 Caltech).",
		[]Param{{Name: "ids", Default: "1", Doc: "program ids, '+'-separated"}}, ztfOnly, programFilter)
	Add(NewTransform("nocutouts", "keeps every alert, without its three cutouts (science, template, difference): "+
		"55-60% of a real ZTF message, most of the rest being its ~20 KB schema header.", dropCutouts))
	RegisterFactory("drop", "keeps every alert, with the listed fields set to null. Fields are Avro names, nested with '.', "+
		"and must be nullable: drop:fields=fp_hists+prv_candidates or drop:fields=candidate.pdiffimfilename.",
		[]Param{{Name: "fields", Doc: "fields to drop, '+'-separated"}}, nil, dropFilter)
	RegisterFactory("cutoutsnr", "difference-image stamp S/N at least min: |centre pixel - median| / (1.4826 MAD), the median and "+
		"MAD taken over the stamp outside the central 15x15 pixels; the candidate sits on the centre pixel. A missing stamp is missing; "+
		"one that does not decode, or has no noise (MAD 0), is an error.",
		[]Param{{Name: "min", Default: "5", Doc: "lowest S/N kept"}}, nil, cutoutFilter)
}

// rangeParam returns a parameter in [lo, hi].
func rangeParam(p Params, name string, lo, hi float64) (float64, error) {
	v, err := p.Float(name)
	if err != nil {
		return 0, err
	}
	if !(v >= lo && v <= hi) {
		return 0, fmt.Errorf("parameter %s=%v outside [%v, %v]", name, v, lo, hi)
	}
	return v, nil
}

func missing(field string) error { return fmt.Errorf("%w: %s", ErrMissing, field) }

func rbFilter(_ string, p Params) (*Filter, error) {
	lo, err := rangeParam(p, "min", 0, 1)
	if err != nil {
		return nil, err
	}
	t := float32(lo)
	return New("rb", fmt.Sprintf("ZTF candidate.rb >= %v; LSST diaSource.reliability >= %v", lo, lo), func(a *Alert) (bool, error) {
		if a.ZTF != nil {
			rb, ok := f32(a.ZTF.Candidate.Rb)
			if !ok {
				return false, missing("candidate.rb")
			}
			return rb >= t, nil
		}
		r, ok := lf32(a.LSST.DiaSource.Reliability)
		if !ok {
			return false, missing("diaSource.reliability")
		}
		return r >= t, nil
	}), nil
}

func drbFilter(_ string, p Params) (*Filter, error) {
	lo, err := rangeParam(p, "min", 0, 1)
	if err != nil {
		return nil, err
	}
	t := float32(lo)
	return New("drb", fmt.Sprintf("ZTF candidate.drb >= %v", lo), func(a *Alert) (bool, error) {
		drb, ok := f32(a.ZTF.Candidate.Drb)
		if !ok {
			return false, missing("candidate.drb")
		}
		return drb >= t, nil
	}, ztfOnly...), nil
}

// cut is one condition of a conjunction: ok is its value, present false
// when a value it reads is missing.
type cut struct {
	ok      bool
	present bool
	field   string
}

// conjunction is false if any present condition is false, else missing if
// any is missing, else true: CEL's && over values that may be errors.
func conjunction(cuts ...cut) (bool, error) {
	var miss []string
	for _, c := range cuts {
		if !c.present {
			miss = append(miss, c.field)
		} else if !c.ok {
			return false, nil
		}
	}
	if miss != nil {
		return false, missing(strings.Join(miss, ", "))
	}
	return true, nil
}

func purity(a *Alert) (bool, error) {
	c := &a.ZTF.Candidate
	rb, rbOK := f32(c.Rb)
	nbad, nbadOK := zint(c.Nbad)
	fwhm, fwhmOK := f32(c.FWHM)
	elong, elongOK := f32(c.Elong)
	md, mdOK := f32(c.Magdiff)
	return conjunction(
		cut{rb >= 0.65, rbOK, "candidate.rb"},
		cut{nbad == 0, nbadOK, "candidate.nbad"},
		cut{fwhm <= 5, fwhmOK, "candidate.fwhm"},
		cut{elong <= 1.2, elongOK, "candidate.elong"},
		// float32 on both sides: |magdiff| <= float32(0.1).
		cut{md <= 0.1 && md >= -0.1, mdOK, "candidate.magdiff"},
	)
}

func starFilter(_ string, p Params) (*Filter, error) {
	lo, err := rangeParam(p, "min", 0, 1)
	if err != nil {
		return nil, err
	}
	radius, err := rangeParam(p, "radius", 0, math.Inf(1))
	if err != nil {
		return nil, err
	}
	tMin, tRad := float32(lo), float32(radius)
	return New("star", fmt.Sprintf("ZTF candidate.sgscore1 >= %v and distpsnr1 <= %v", lo, radius), func(a *Alert) (bool, error) {
		c := &a.ZTF.Candidate
		sg, ok := f32(c.Sgscore1)
		if !ok {
			return false, nil // no PS1 counterpart: not a star
		}
		d, ok := f32(c.Distpsnr1)
		if !ok {
			return false, missing("candidate.distpsnr1")
		}
		return sg >= tMin && d <= tRad, nil
	}, ztfOnly...), nil
}

// lsstZP is the AB magnitude of 1 nJy: m = 31.4 - 2.5 log10(F / nJy).
const lsstZP = 31.4

func brightFilter(_ string, p Params) (*Filter, error) {
	hi, err := rangeParam(p, "max", -30, 40)
	if err != nil {
		return nil, err
	}
	t := float32(hi)
	return New("bright", fmt.Sprintf("magnitude <= %v", hi), func(a *Alert) (bool, error) {
		if a.ZTF != nil {
			m := a.ZTF.Candidate.Magpsf
			if m == Sentinel {
				return false, missing("candidate.magpsf")
			}
			return m <= t, nil
		}
		f, ok := lf32(a.LSST.DiaSource.PsfFlux)
		if !ok || f == 0 {
			return false, missing("diaSource.psfFlux")
		}
		return lsstZP-2.5*math.Log10(math.Abs(float64(f))) <= hi, nil
	}), nil
}

func positive(a *Alert) (bool, error) {
	if a.ZTF != nil {
		d := a.ZTF.Candidate.Isdiffpos
		return d == "t" || d == "1", nil
	}
	f, ok := lf32(a.LSST.DiaSource.PsfFlux)
	if !ok {
		return false, missing("diaSource.psfFlux")
	}
	return f > 0, nil
}

func isNew(a *Alert) (bool, error) {
	if z := a.ZTF; z != nil {
		if z.Candidate.Ndethist > 1 {
			return false, nil
		}
		if z.PrvCandidates != nil {
			for _, p := range *z.PrvCandidates {
				if p.Candid != nil {
					return false, nil
				}
			}
		}
		return true, nil
	}
	l := a.LSST
	if l.PrvDiaSources != nil && len(*l.PrvDiaSources) > 0 {
		return false, nil
	}
	return l.DiaObject == nil || l.DiaObject.NDiaSources <= 1, nil
}

func historyFilter(_ string, p Params) (*Filter, error) {
	gap, err := rangeParam(p, "gap", 0, 24*60)
	if err != nil {
		return nil, err
	}
	return New("history", fmt.Sprintf("two detections tonight more than %v min apart, none earlier", gap), func(a *Alert) (bool, error) {
		if a.ZTF != nil {
			return ztfHistory(a.ZTF, gap), nil
		}
		return lsstHistory(a.LSST, gap), nil
	}), nil
}

// utcDay numbers the UTC date of a Julian date: JD days start at noon, UTC
// days half a day later.
func utcDay(jd float64) float64 { return math.Floor(jd + 0.5) }

func ztfHistory(z *ztf.Alert, gapMin float64) bool {
	c := &z.Candidate
	night := utcDay(c.Jd)
	if start, ok := zf64(c.Jdstarthist); ok && utcDay(start) < night {
		return false
	}
	lo, hi := c.Jd, c.Jd
	if z.PrvCandidates != nil {
		for _, p := range *z.PrvCandidates {
			if p.Candid == nil {
				continue // an upper limit, not a detection
			}
			if utcDay(p.Jd) < night {
				return false
			}
			if utcDay(p.Jd) == night {
				lo, hi = min(lo, p.Jd), max(hi, p.Jd)
			}
		}
	}
	return (hi-lo)*24*60 > gapMin
}

func lsstHistory(l *lsst.Alert, gapMin float64) bool {
	t := l.DiaSource.MidpointMjdTai
	night := alert.LSSTDayObs(t)
	lo, hi := t, t
	if l.PrvDiaSources != nil {
		for _, p := range *l.PrvDiaSources {
			d := alert.LSSTDayObs(p.MidpointMjdTai)
			if d.Before(night) {
				return false
			}
			if d.Equal(night) {
				lo, hi = min(lo, p.MidpointMjdTai), max(hi, p.MidpointMjdTai)
			}
		}
	}
	return (hi-lo)*24*60 > gapMin
}

func asteroidFilter(_ string, p Params) (*Filter, error) {
	radius, err := rangeParam(p, "radius", 0, math.Inf(1))
	if err != nil {
		return nil, err
	}
	t := float32(radius)
	return New("asteroid", fmt.Sprintf("known solar-system object within %v arcsec", radius), func(a *Alert) (bool, error) {
		if a.ZTF != nil {
			c := &a.ZTF.Candidate
			if _, ok := ssName(c.Ssnamenr); !ok {
				return false, nil
			}
			d, ok := f32(c.Ssdistnr)
			return ok && d <= t, nil
		}
		return a.LSST.SsSource != nil, nil
	}), nil
}

func significanceFilter(_ string, p Params) (*Filter, error) {
	lo, err := rangeParam(p, "min", 0, math.Inf(1))
	if err != nil {
		return nil, err
	}
	return New("significance", fmt.Sprintf("S/N > %v", lo), func(a *Alert) (bool, error) {
		if a.ZTF != nil {
			s := a.ZTF.Candidate.Sigmapsf
			if s == Sentinel || !(s > 0) {
				return false, missing("candidate.sigmapsf")
			}
			return 2.5/math.Ln10/float64(s) > lo, nil
		}
		d := &a.LSST.DiaSource
		f, ok1 := lf32(d.PsfFlux)
		e, ok2 := lf32(d.PsfFluxErr)
		if !ok1 || !ok2 || !(e > 0) {
			return false, missing("diaSource.psfFlux, psfFluxErr")
		}
		return float64(f)/float64(e) > lo, nil
	}), nil
}

func programFilter(_ string, p Params) (*Filter, error) {
	var ids []int
	for _, s := range p.List("ids") {
		id, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("parameter ids: %q is not a program id", s)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("parameter ids lists no program")
	}
	return New("program", fmt.Sprintf("ZTF programid in %v", ids), func(a *Alert) (bool, error) {
		return slices.Contains(ids, a.ZTF.Candidate.Programid), nil
	}, ztfOnly...), nil
}

func dropCutouts(a *Alert) (*Alert, error) {
	out := a.Clone()
	if out.ZTF != nil {
		out.ZTF.CutoutScience, out.ZTF.CutoutTemplate, out.ZTF.CutoutDifference = nil, nil, nil
	} else {
		out.LSST.CutoutScience, out.LSST.CutoutTemplate, out.LSST.CutoutDifference = nil, nil, nil
	}
	return out, nil
}
