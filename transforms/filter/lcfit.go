package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/transforms/lightcurve"
)

// The light-curve filter fits the Bazin rise-and-decline profile
// (transforms/lightcurve) to each band of the alert's detection history:
// ZTF candidate plus the prv_candidates entries with a candid, as fluxes
// 10^(−0.4(magpsf − 23.9)) µJy, negative when isdiffpos says the source
// faded below the template; LSST diaSource plus prvDiaSources, psfFlux in
// nJy. Times are days relative to the alert's own observation. Each band
// is fitted once per alert, however many filters and expressions read it.

func init() {
	RegisterFactory("lcfit", "the detection history is fitted well by a transient's rise and decline (Bazin profile, per band): "+
		"some band (or the given one) has at least min_points detections, the fit converges with amplitude > 0 and "+
		"0 < rise < fall, and its score, 1 - chi2(fit)/chi2(flat at the weighted mean), is at least score. Kept alerts "+
		"carry headers lcfit.band, lcfit.amplitude, lcfit.t0, lcfit.rise, lcfit.fall, lcfit.chi2dof, lcfit.score of the best band.",
		[]Param{
			{Name: "band", Default: "any", Doc: "band to fit: ZTF g, r, i; LSST u, g, r, i, z, y; any: the best-scoring band"},
			{Name: "min_points", Default: "5", Doc: "fewest detections in the band (at least 5: the profile has 4 parameters)"},
			{Name: "score", Default: "0.8", Doc: "lowest score kept, 0 to 1"},
		}, nil, lcfitFilter)
}

// ztfBands names ZTF's fid values.
var ztfBands = map[int]string{1: "g", 2: "r", 3: "i"}

// BandFit is the fit of one band of an alert's light curve.
type BandFit struct {
	Band string
	lightcurve.Fit
	// Score is 1 − χ²(fit)/χ²(flat): the share of the light curve's
	// variation about its weighted mean that the profile explains.
	Score float64
}

// lcState holds an alert's fits, computed on first use.
type lcState struct {
	once sync.Once
	fits map[string]BandFit // bands that could be fitted
	n    map[string]int     // detections per band
}

// LightCurve returns the alert's detections as light curves per band
// (times in days relative to the alert, fluxes in µJy for ZTF, nJy for
// LSST), in time order.
func (a *Alert) LightCurve() map[string][]lightcurve.Point {
	out := map[string][]lightcurve.Point{}
	switch {
	case a.ZTF != nil:
		c := &a.ZTF.Candidate
		add := func(fid int, jd float64, mag, sigma float32, diffpos string) {
			band, ok := ztfBands[fid]
			if !ok || mag <= 0 || sigma <= 0 || math.IsNaN(float64(mag)) {
				return
			}
			flux := math.Pow(10, -0.4*(float64(mag)-23.9))
			err := flux * 0.4 * math.Ln10 * float64(sigma)
			if diffpos == "f" || diffpos == "0" {
				flux = -flux
			}
			out[band] = append(out[band], lightcurve.Point{T: jd - c.Jd, Flux: flux, Err: err})
		}
		add(c.Fid, c.Jd, c.Magpsf, c.Sigmapsf, c.Isdiffpos)
		if a.ZTF.PrvCandidates != nil {
			for _, p := range *a.ZTF.PrvCandidates {
				if p.Candid == nil || p.Magpsf == nil || p.Sigmapsf == nil {
					continue // an upper limit, not a detection
				}
				diffpos := "t"
				if p.Isdiffpos != nil {
					diffpos = *p.Isdiffpos
				}
				add(p.Fid, p.Jd, *p.Magpsf, *p.Sigmapsf, diffpos)
			}
		}
	case a.LSST != nil:
		t0 := a.LSST.DiaSource.MidpointMjdTai
		add := func(s *lsst.DiaSource) {
			if s.Band == nil || s.PsfFlux == nil || s.PsfFluxErr == nil || *s.PsfFluxErr <= 0 {
				return
			}
			out[*s.Band] = append(out[*s.Band], lightcurve.Point{T: s.MidpointMjdTai - t0, Flux: float64(*s.PsfFlux), Err: float64(*s.PsfFluxErr)})
		}
		add(&a.LSST.DiaSource)
		if a.LSST.PrvDiaSources != nil {
			for i := range *a.LSST.PrvDiaSources {
				add(&(*a.LSST.PrvDiaSources)[i])
			}
		}
	}
	for _, pts := range out {
		slices.SortFunc(pts, func(x, y lightcurve.Point) int {
			switch {
			case x.T < y.T:
				return -1
			case x.T > y.T:
				return 1
			}
			return 0
		})
	}
	return out
}

// Fits returns the Bazin fit of every band with enough detections for one
// (5), computed once per alert.
func (a *Alert) Fits() map[string]BandFit {
	if a.lc == nil {
		a.lc = &lcState{}
	}
	s := a.lc
	s.once.Do(func() {
		s.fits, s.n = map[string]BandFit{}, map[string]int{}
		for band, pts := range a.LightCurve() {
			s.n[band] = len(pts)
			fit, err := lightcurve.FitBazin(pts)
			if err != nil {
				continue
			}
			s.fits[band] = BandFit{Band: band, Fit: fit, Score: explained(pts, fit.Chi2)}
		}
	})
	return s.fits
}

// explained is 1 − chi2/χ²(flat), the flat model being the weighted mean;
// 0 when the light curve has no variation to explain.
func explained(pts []lightcurve.Point, chi2 float64) float64 {
	var sw, swf float64
	for _, p := range pts {
		w := 1 / (p.Err * p.Err)
		sw += w
		swf += w * p.Flux
	}
	mean := swf / sw
	var flat float64
	for _, p := range pts {
		r := (p.Flux - mean) / p.Err
		flat += r * r
	}
	if flat <= 0 {
		return 0
	}
	return max(0, 1-chi2/flat)
}

// transient reports whether a fit looks like a transient's light curve.
func (f BandFit) transient() bool {
	return f.A > 0 && f.Rise > 0 && f.Rise < f.Fall && !math.IsNaN(f.Score)
}

func lcfitFilter(survey string, p Params) (*Filter, error) {
	minPts, err := rangeParam(p, "min_points", 5, math.Inf(1))
	if err != nil {
		return nil, err
	}
	score, err := rangeParam(p, "score", 0, 1)
	if err != nil {
		return nil, err
	}
	band := p["band"]
	doc := fmt.Sprintf("Bazin fit of %s band(s) with >= %v detections, score >= %v", band, minPts, score)
	return NewTransform("lcfit", doc, func(a *Alert) (*Alert, error) {
		fits := a.Fits()
		var best *BandFit
		for b, f := range fits {
			if band != "any" && b != band {
				continue
			}
			if float64(f.N) < minPts || !f.transient() || f.Score < score {
				continue
			}
			if best == nil || f.Score > best.Score || (f.Score == best.Score && f.Band < best.Band) {
				best = &f
			}
		}
		if best == nil {
			return nil, nil
		}
		g := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
		return a.Annotated(
			kafkaio.Header{Key: "lcfit.band", Value: []byte(best.Band)},
			kafkaio.Header{Key: "lcfit.amplitude", Value: []byte(g(best.A))},
			kafkaio.Header{Key: "lcfit.t0", Value: []byte(g(best.T0))},
			kafkaio.Header{Key: "lcfit.rise", Value: []byte(g(best.Rise))},
			kafkaio.Header{Key: "lcfit.fall", Value: []byte(g(best.Fall))},
			kafkaio.Header{Key: "lcfit.chi2dof", Value: []byte(g(best.Chi2DoF()))},
			kafkaio.Header{Key: "lcfit.score", Value: []byte(g(best.Score))},
		), nil
	}), nil
}
