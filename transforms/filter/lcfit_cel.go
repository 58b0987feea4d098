package filter

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// In expressions, lcfit.BAND is the Bazin fit of one band of the alert's
// detection history (the lcfit filter's, see lcfit.go), with fields
//
//	amplitude  A, in µJy (ZTF) or nJy (LSST)
//	t0, peak   days relative to the alert's observation
//	rise, fall days
//	chi2dof    χ² per degree of freedom
//	score      1 − χ²/χ²(flat), 0 to 1
//	pvalue     the χ² survival probability
//	n          detections fitted
//
// has(lcfit.r) is false when the band has fewer than 5 detections or its
// fit did not converge; reading a field then marks the alert as missing a
// value. For example
//
//	has(lcfit.r) && lcfit.r.rise < 3.0 && lcfit.r.score > 0.9 && lcfit.r.peak > -2.0

const lcfitVar = "lcfit"

var lcfitType = cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DoubleType))

// lcfitMap is the lcfit variable of one alert: bands by name, each fitted
// when an expression first reads it.
func lcfitMap(a *Alert) *lazyMap {
	return &lazyMap{name: lcfitVar, id: a, absent: " (no fit: fewer than 5 detections, or no convergence)",
		lookup: func(band ref.Val) (ref.Val, bool, error) {
			b, ok := band.(types.String)
			if !ok {
				return nil, false, fmt.Errorf("lcfit[%v]: band names are strings", band)
			}
			f, ok := a.Fits()[string(b)]
			if !ok {
				return nil, false, nil
			}
			return bandFitMap(f), true, nil
		}}
}

// bandFitMap is one band's fit: every field is always there.
func bandFitMap(f BandFit) *lazyMap {
	return &lazyMap{name: lcfitVar + "." + f.Band, id: f, lookup: func(name ref.Val) (ref.Val, bool, error) {
		x, err := fitField(f, name)
		if err != nil {
			return nil, false, err
		}
		return types.Double(x), true, nil
	}}
}

func fitField(f BandFit, name ref.Val) (float64, error) {
	n, ok := name.(types.String)
	if !ok {
		return 0, fmt.Errorf("lcfit.%s[%v]: field names are strings", f.Band, name)
	}
	switch string(n) {
	case "amplitude":
		return f.A, nil
	case "t0":
		return f.T0, nil
	case "peak":
		return f.Peak(), nil
	case "rise":
		return f.Rise, nil
	case "fall":
		return f.Fall, nil
	case "chi2dof":
		return f.Chi2DoF(), nil
	case "score":
		return f.Score, nil
	case "pvalue":
		return f.Fit.Score(), nil
	case "n":
		return float64(f.N), nil
	}
	return 0, fmt.Errorf("lcfit.%s has no field %q (amplitude, t0, peak, rise, fall, chi2dof, score, pvalue, n)", f.Band, string(n))
}
