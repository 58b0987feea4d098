package filter

import (
	"fmt"
	"math"
	"reflect"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// In expressions, xmatch.NAME is the nearest entry of catalog NAME within
// its spec's near radius (default 60 arcsec, catalog.Spec.Near) of the
// alert's position, with fields
//
//	sep      separation, arcsec (double)
//	id       the entry's identifier (string)
//	ra, dec  the entry's position, degrees (double)
//	COL      each numeric column the catalog kept (double), e.g. Hpmag
//
// has(xmatch.NAME) is false when there is no entry within the radius, and
// reading a field then marks the alert as missing a value (dropped, like a
// null field); has(xmatch.NAME.COL) is false for an empty value. So
//
//	has(xmatch.hip) && xmatch.hip.sep <= 5.0                        // xmatch:cat=hip,r=5
//	!(has(xmatch.hip) && xmatch.hip.sep <= math.greatest(5.0, math.least(120.0, 120.0 - 10.0 * xmatch.hip.Hpmag)))
//
// the second being the bright-star veto with nobrightstar's radius, for
// the nearest star only (nobrightstar tests every star within rmax).
// Catalog names and columns are checked against the loaded catalogs when
// the pipeline is built.

const xmatchVar = "xmatch"

var xmatchType = cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.DynType))

// matchFields are the fields every xmatch.NAME has besides the catalog's
// columns.
var matchFields = []string{"sep", "id", "ra", "dec"}

// exprNeeds lists the catalogs and columns a checked expression reads
// through xmatch.NAME(.COL).
func exprNeeds(a *cel.Ast) []catalogRef {
	var out []catalogRef
	add := func(r catalogRef) {
		for _, have := range out {
			if have == r {
				return
			}
		}
		out = append(out, r)
	}
	isXmatch := func(x celast.Expr) (string, bool) {
		if x.Kind() != celast.SelectKind {
			return "", false
		}
		s := x.AsSelect()
		if op := s.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == xmatchVar {
			return s.FieldName(), true
		}
		return "", false
	}
	celast.PostOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		if cat, ok := isXmatch(x); ok {
			add(catalogRef{cat: cat})
			return
		}
		if x.Kind() == celast.SelectKind {
			if cat, ok := isXmatch(x.AsSelect().Operand()); ok {
				add(catalogRef{cat: cat, col: x.AsSelect().FieldName()})
			}
		}
	}))
	return out
}

// xmatchVal is the xmatch variable of one alert: catalogs by name, each
// searched when an expression first reads it.
type xmatchVal struct{ a *Alert }

func (v *xmatchVal) nearest(name ref.Val) (*matchVal, bool, error) {
	n, ok := name.(types.String)
	if !ok {
		return nil, false, fmt.Errorf("xmatch[%v]: catalog names are strings", name)
	}
	c, err := v.a.Catalog(string(n))
	if err != nil {
		return nil, false, err
	}
	m, ok, err := v.a.Nearest(string(n), c.Spec().NearRadius())
	if err != nil || !ok {
		return nil, false, err
	}
	return &matchVal{m: m}, true, nil
}

func (v *xmatchVal) Get(name ref.Val) ref.Val {
	m, ok, err := v.nearest(name)
	if err != nil {
		return types.WrapErr(err)
	}
	if !ok {
		return types.WrapErr(&missingField{field: fmt.Sprintf("xmatch.%v (no counterpart)", name)})
	}
	return m
}

func (v *xmatchVal) IsSet(name ref.Val) ref.Val {
	_, ok, err := v.nearest(name)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(ok)
}

func (v *xmatchVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("xmatch cannot be converted to %s", t)
}

func (v *xmatchVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from xmatch to %s", t)
}

func (v *xmatchVal) Equal(other ref.Val) ref.Val { return types.Bool(other == v) }

func (v *xmatchVal) Type() ref.Type { return types.MapType }

func (v *xmatchVal) Value() any { return v }

// matchVal is one catalog entry matched to the alert.
type matchVal struct{ m Counterpart }

func (v *matchVal) field(name ref.Val) (ref.Val, bool, error) {
	n, ok := name.(types.String)
	if !ok {
		return nil, false, fmt.Errorf("xmatch.%s[%v]: field names are strings", v.m.Catalog.Name(), name)
	}
	c := v.m.Catalog
	switch string(n) {
	case "sep":
		return types.Double(v.m.Sep), true, nil
	case "id":
		return types.String(v.m.ID()), true, nil
	case "ra", "dec":
		ra, dec := c.Position(v.m.Entry)
		if n == "ra" {
			return types.Double(ra), true, nil
		}
		return types.Double(dec), true, nil
	}
	col, ok := c.Column(string(n))
	if !ok {
		return nil, false, fmt.Errorf("catalog %s has no column %q (fields: sep, id, ra, dec, %v)", c.Name(), string(n), c.Columns())
	}
	x := c.Value(v.m.Entry, col)
	if math.IsNaN(x) {
		return nil, false, nil
	}
	return types.Double(x), true, nil
}

func (v *matchVal) Get(name ref.Val) ref.Val {
	x, ok, err := v.field(name)
	if err != nil {
		return types.WrapErr(err)
	}
	if !ok {
		return types.WrapErr(&missingField{field: fmt.Sprintf("xmatch.%s.%v", v.m.Catalog.Name(), name)})
	}
	return x
}

func (v *matchVal) IsSet(name ref.Val) ref.Val {
	_, ok, err := v.field(name)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(ok)
}

func (v *matchVal) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("xmatch.%s cannot be converted to %s", v.m.Catalog.Name(), t)
}

func (v *matchVal) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return types.MapType
	}
	return types.NewErr("type conversion error from xmatch.%s to %s", v.m.Catalog.Name(), t)
}

func (v *matchVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(*matchVal)
	return types.Bool(ok && o.m.Catalog == v.m.Catalog && o.m.Entry == v.m.Entry)
}

func (v *matchVal) Type() ref.Type { return types.MapType }

func (v *matchVal) Value() any { return v.m }
