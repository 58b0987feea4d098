package filter

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Expression filters are CEL (https://cel.dev) over the alert's fields, for
// users who do not write Go. The variables are the top-level fields of the
// survey's alert record, by their Avro names, plus "alert", the record
// itself:
//
//	ZTF:  candidate, prv_candidates, fp_hists, candid, objectId, schemavsn,
//	      publisher, cutoutScience, cutoutTemplate, cutoutDifference
//	LSST: diaSource, prvDiaSources, prvDiaForcedSources, diaObject, ssSource,
//	      mpc_orbits, diaSourceId, observation_reason, target_name,
//	      cutoutScience, cutoutTemplate, cutoutDifference
//
// and xmatch, the nearest entries of the pipeline's catalogs (see
// xmatch_cel.go), and lcfit, the light-curve fits per band (see
// lcfit_cel.go), for example
//
//	candidate.rb > 0.8 && candidate.ndethist >= 2
//	candidate.isdiffpos in ["t", "1"] && math.abs(candidate.magdiff) <= 0.1
//	prv_candidates.exists(p, has(p.candid) && candidate.jd - p.jd > 0.02)
//	diaSource.psfFlux / diaSource.psfFluxErr > 5.0 && !has(alert.ssSource)
//
// Expressions are type-checked against the schema when the pipeline is
// built: an unknown field, a comparison of a string with a number, or a
// result that is not a bool is an error naming the field, before anything
// runs. Ints and doubles compare with each other (ndethist >= 2.0 works);
// arithmetic needs matching types (magpsf + 1.0). The CEL standard library,
// abs, math.* (math.abs, math.floor, math.least, ...), the string
// extensions and cel.bind (naming a subexpression) are available (see
// celfuncs.go and ExprCallables); nothing an expression can call has side
// effects. Each
// evaluation is limited to CostLimit cost units (about one per field read,
// comparison or list element), so a runaway comprehension becomes a
// dead-letter error rather than a stalled pipeline. See celtypes.go for how
// null and sentinel values read (has(), ErrMissing).

// rootVar names the whole alert record in expressions.
const rootVar = "alert"

// CostLimit bounds one expression evaluation, in CEL cost units. A cut over
// a dozen fields costs tens; a comprehension over 30 prv_candidates a few
// hundred.
const CostLimit = 100_000

type celEnv struct {
	cs  *celSchema
	env *cel.Env
}

var envs = struct {
	sync.Mutex
	m map[string]*celEnv
}{m: map[string]*celEnv{}}

// envFor builds (once per survey) the CEL environment of a survey's reader
// schema.
func envFor(survey string) (*celEnv, error) {
	envs.Lock()
	defer envs.Unlock()
	if e, ok := envs.m[survey]; ok {
		return e, nil
	}
	var (
		v         schemas.Version
		goType    reflect.Type
		sentinels bool
	)
	switch survey {
	case schemas.ZTF:
		v, goType, sentinels = schemas.Version{Survey: schemas.ZTF, Version: schemas.ZTFVersion}, reflect.TypeFor[ztf.Alert](), true
	case schemas.LSST:
		v, goType = schemas.Version{Survey: schemas.LSST, Version: schemas.LSSTVersion}, reflect.TypeFor[lsst.Alert]()
	default:
		return nil, fmt.Errorf("filter: unknown survey %q (want ztf or lsst)", survey)
	}
	s, err := schemas.Default().Schema(v)
	if err != nil {
		return nil, err
	}
	cs, err := newCELSchema(survey, s, goType, sentinels)
	if err != nil {
		return nil, fmt.Errorf("filter: %s schema for expressions: %w", v, err)
	}
	opts := []cel.EnvOption{
		cel.CustomTypeAdapter(cs),
		cel.CustomTypeProvider(cs),
		cel.Variable(rootVar, cs.root.celType),
		cel.CrossTypeNumericComparisons(true),
		cel.Variable(xmatchVar, xmatchType),
		cel.Variable(lcfitVar, lcfitType),
	}
	opts = append(opts, library...)
	for _, name := range cs.root.order {
		opts = append(opts, cel.Variable(name, cs.root.fields[name].celType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("filter: building the %s expression environment: %w", survey, err)
	}
	e := &celEnv{cs: cs, env: env}
	envs.m[survey] = e
	return e, nil
}

// Expr compiles a CEL expression into a filter for one survey, named name.
// It fails, naming the field, if the expression does not type-check against
// the survey's schema or is not a bool.
func Expr(name, src, survey string) (*Filter, error) {
	e, err := envFor(survey)
	if err != nil {
		return nil, err
	}
	ast, iss := e.env.Compile(src)
	if iss.Err() != nil {
		if why := e.explain(src, iss); why != "" {
			return nil, fmt.Errorf("filter: expression %q for %s: %s\n%w", src, survey, why, iss.Err())
		}
		return nil, fmt.Errorf("filter: expression %q for %s: %w", src, survey, iss.Err())
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, fmt.Errorf("filter: expression %q for %s is a %s, not a bool", src, survey, ast.OutputType())
	}
	prg, err := e.env.Program(ast, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("filter: expression %q: %w", src, err)
	}
	cs := e.cs
	return &Filter{name: name, doc: "expression: " + src, surveys: []string{survey}, needs: exprNeeds(ast), run: func(a *Alert) (*Alert, error) {
		var root reflect.Value
		if survey == schemas.ZTF {
			root = reflect.ValueOf(a.ZTF)
		} else {
			root = reflect.ValueOf(a.LSST)
		}
		out, _, err := prg.Eval(&activation{cs: cs, root: root, alert: a})
		if err != nil {
			if errors.Is(err, ErrMissing) {
				return nil, fmt.Errorf("%w: %v", ErrMissing, err)
			}
			return nil, fmt.Errorf("evaluating %q: %w", src, err)
		}
		if out != types.True {
			return nil, nil
		}
		return a, nil
	}}, nil
}

// explain turns CEL's type-check errors into one line that names the
// fields involved: "candidate has no field rbb (did you mean rb, drb or
// ra?)", "operands: candidate.isdiffpos is a string".
func (e *celEnv) explain(src string, iss *cel.Issues) string {
	parsed, piss := e.env.Parse(src)
	if piss.Err() != nil {
		return ""
	}
	root := celast.NavigateAST(parsed.NativeRep())
	var lines []string
	for _, ce := range iss.Errors() {
		found := celast.MatchDescendants(root, func(x celast.NavigableExpr) bool { return x.ID() == ce.ExprID })
		if len(found) == 0 {
			continue
		}
		x := found[0]
		switch {
		case strings.Contains(ce.Message, "undefined field") && x.Kind() == celast.SelectKind:
			sel := x.AsSelect()
			path, t := e.pathType(sel.Operand())
			if path == "" {
				continue
			}
			line := fmt.Sprintf("%s has no field %s", path, sel.FieldName())
			if rt, ok := e.cs.types[t.TypeName()]; ok {
				line += suggest(sel.FieldName(), rt.order)
			}
			lines = append(lines, line)
		case strings.Contains(ce.Message, "no matching overload") && x.Kind() == celast.CallKind:
			call := x.AsCall()
			if why := notAMethod(call.FunctionName()); call.IsMemberFunction() && why != "" {
				lines = append(lines, why)
				continue
			}
			args := call.Args()
			if call.IsMemberFunction() {
				args = append([]celast.Expr{call.Target()}, args...)
			}
			var ops []string
			named := false
			for _, a := range args {
				if path, t := e.pathType(a); path != "" {
					ops, named = append(ops, fmt.Sprintf("%s (%s)", path, t)), true
				} else if a.Kind() == celast.LiteralKind {
					l := a.AsLiteral()
					ops = append(ops, fmt.Sprintf("%v (%s)", l.Value(), l.Type().TypeName()))
				} else {
					ops = append(ops, "an expression")
				}
			}
			if named {
				lines = append(lines, fmt.Sprintf("%s does not apply to %s", strings.Trim(call.FunctionName(), "_"), strings.Join(ops, " and ")))
			}
		case strings.Contains(ce.Message, "undeclared reference"):
			switch x.Kind() {
			case celast.IdentKind:
				line := fmt.Sprintf("no variable %s%s", x.AsIdent(), suggest(x.AsIdent(), append([]string{rootVar}, e.cs.root.order...)))
				if _, ok := Lookup(x.AsIdent()); ok {
					line += fmt.Sprintf(" (%s is a registered filter: give it as a filter spec, e.g. --filter %s, not as an expression)", x.AsIdent(), x.AsIdent())
				}
				lines = append(lines, line)
			case celast.CallKind:
				if line := unknownFunction(x.AsCall()); line != "" {
					lines = append(lines, line)
				}
			}
		}
	}
	return strings.Join(lines, "; ")
}

// pathType renders a chain of field selections from a variable
// ("candidate.isdiffpos") with its CEL type, or "" when x is not one.
func (e *celEnv) pathType(x celast.Expr) (string, *types.Type) {
	switch x.Kind() {
	case celast.IdentKind:
		name := x.AsIdent()
		if name == rootVar {
			return name, e.cs.root.celType
		}
		if f, ok := e.cs.root.fields[name]; ok {
			return name, f.celType
		}
	case celast.SelectKind:
		sel := x.AsSelect()
		path, t := e.pathType(sel.Operand())
		if path == "" {
			return "", nil
		}
		rt, ok := e.cs.types[t.TypeName()]
		if !ok {
			return "", nil
		}
		if f, ok := rt.fields[sel.FieldName()]; ok {
			return path + "." + sel.FieldName(), f.celType
		}
	}
	return "", nil
}

// suggest lists up to three known names within two edits of bad.
func suggest(bad string, known []string) string {
	type cand struct {
		name string
		d    int
	}
	var best []cand
	for _, k := range known {
		if d := editDistance(strings.ToLower(bad), strings.ToLower(k)); d <= 2 {
			best = append(best, cand{k, d})
		}
	}
	if len(best) == 0 {
		return ""
	}
	sort.Slice(best, func(i, j int) bool {
		if best[i].d != best[j].d {
			return best[i].d < best[j].d
		}
		return best[i].name < best[j].name
	})
	names := make([]string, 0, 3)
	for i := 0; i < len(best) && i < 3; i++ {
		names = append(names, best[i].name)
	}
	return " (did you mean " + strings.Join(names, " or ") + "?)"
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// absFunction declares abs(x) beside ext.Math's math.abs: the name users
// of NumPy and SQL reach for first.
var absFunction = cel.Function("abs",
	cel.Overload("abs_double", []*cel.Type{cel.DoubleType}, cel.DoubleType,
		cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Double(math.Abs(float64(v.(types.Double)))) })),
	cel.Overload("abs_int", []*cel.Type{cel.IntType}, cel.IntType,
		cel.UnaryBinding(func(v ref.Val) ref.Val {
			i := int64(v.(types.Int))
			if i == math.MinInt64 {
				return types.NewErr("abs(%d) overflows", i)
			}
			if i < 0 {
				i = -i
			}
			return types.Int(i)
		})))
