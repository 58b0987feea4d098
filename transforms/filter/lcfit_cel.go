package filter

import (
	"fmt"
	"reflect"

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

// lcfitVal is the lcfit variable of one alert.
type lcfitVal struct{ a *Alert }

func (v *lcfitVal) fit(band ref.Val) (BandFit, bool, error) {
	b, ok := band.(types.String)
	if !ok {
		return BandFit{}, false, fmt.Errorf("lcfit[%v]: band names are strings", band)
	}
	f, ok := v.a.Fits()[string(b)]
	return f, ok, nil
}

func (v *lcfitVal) Get(band ref.Val) ref.Val {
	f, ok, err := v.fit(band)
	if err != nil {
		return types.WrapErr(err)
	}
	if !ok {
		return types.WrapErr(&missingField{field: fmt.Sprintf("lcfit.%v (no fit: fewer than 5 detections, or no convergence)", band)})
	}
	return &bandFitVal{f: f}
}

func (v *lcfitVal) IsSet(band ref.Val) ref.Val {
	_, ok, err := v.fit(band)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(ok)
}

func (v *lcfitVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("lcfit cannot be converted to %s", t)
}

func (v *lcfitVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from lcfit to %s", t)
}

func (v *lcfitVal) Equal(other ref.Val) ref.Val { return types.Bool(other == v) }
func (v *lcfitVal) Type() ref.Type              { return types.MapType }
func (v *lcfitVal) Value() any                  { return v }

// bandFitVal is one band's fit.
type bandFitVal struct{ f BandFit }

func (v *bandFitVal) field(name ref.Val) (float64, error) {
	n, ok := name.(types.String)
	if !ok {
		return 0, fmt.Errorf("lcfit.%s[%v]: field names are strings", v.f.Band, name)
	}
	switch string(n) {
	case "amplitude":
		return v.f.A, nil
	case "t0":
		return v.f.T0, nil
	case "peak":
		return v.f.Peak(), nil
	case "rise":
		return v.f.Rise, nil
	case "fall":
		return v.f.Fall, nil
	case "chi2dof":
		return v.f.Chi2DoF(), nil
	case "score":
		return v.f.Score, nil
	case "pvalue":
		return v.f.Fit.Score(), nil
	case "n":
		return float64(v.f.N), nil
	}
	return 0, fmt.Errorf("lcfit.%s has no field %q (amplitude, t0, peak, rise, fall, chi2dof, score, pvalue, n)", v.f.Band, string(n))
}

func (v *bandFitVal) Get(name ref.Val) ref.Val {
	x, err := v.field(name)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Double(x)
}

func (v *bandFitVal) IsSet(name ref.Val) ref.Val {
	if _, err := v.field(name); err != nil {
		return types.WrapErr(err)
	}
	return types.True
}

func (v *bandFitVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("lcfit.%s cannot be converted to %s", v.f.Band, t)
}

func (v *bandFitVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from lcfit.%s to %s", v.f.Band, t)
}

func (v *bandFitVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*bandFitVal)
	return types.Bool(ok && o.f == v.f)
}
func (v *bandFitVal) Type() ref.Type { return types.MapType }
func (v *bandFitVal) Value() any     { return v.f }
