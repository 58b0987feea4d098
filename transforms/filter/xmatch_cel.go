package filter

import (
	"fmt"
	"math"

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

// xmatchMap is the xmatch variable of one alert: catalogs by name, each
// searched when an expression first reads it.
func xmatchMap(a *Alert) *lazyMap {
	return &lazyMap{name: xmatchVar, id: a, absent: " (no counterpart)", lookup: func(name ref.Val) (ref.Val, bool, error) {
		n, ok := name.(types.String)
		if !ok {
			return nil, false, fmt.Errorf("xmatch[%v]: catalog names are strings", name)
		}
		c, err := a.Catalog(string(n))
		if err != nil {
			return nil, false, err
		}
		m, ok, err := a.Nearest(string(n), c.Spec().NearRadius())
		if err != nil || !ok {
			return nil, false, err
		}
		return matchMap(m), true, nil
	}}
}

// matchMap is one catalog entry matched to the alert; a column whose
// value is NaN has none.
func matchMap(m Counterpart) *lazyMap {
	type entry struct {
		cat   any
		entry int
	}
	return &lazyMap{name: xmatchVar + "." + m.Catalog.Name(), id: entry{m.Catalog, m.Entry},
		lookup: func(name ref.Val) (ref.Val, bool, error) { return matchField(m, name) }}
}

func matchField(m Counterpart, name ref.Val) (ref.Val, bool, error) {
	n, ok := name.(types.String)
	if !ok {
		return nil, false, fmt.Errorf("xmatch.%s[%v]: field names are strings", m.Catalog.Name(), name)
	}
	c := m.Catalog
	switch string(n) {
	case "sep":
		return types.Double(m.Sep), true, nil
	case "id":
		return types.String(m.ID()), true, nil
	case "ra", "dec":
		ra, dec := c.Position(m.Entry)
		if n == "ra" {
			return types.Double(ra), true, nil
		}
		return types.Double(dec), true, nil
	}
	col, ok := c.Column(string(n))
	if !ok {
		return nil, false, fmt.Errorf("catalog %s has no column %q (fields: sep, id, ra, dec, %v)", c.Name(), string(n), c.Columns())
	}
	x := c.Value(m.Entry, col)
	if math.IsNaN(x) {
		return nil, false, nil
	}
	return types.Double(x), true, nil
}
