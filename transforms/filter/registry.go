package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/alertbeam/alertbeam/schemas"
)

// Filters are registered by name in a process-wide registry, from init
// functions, like Beam's DoFns: a pipeline's DoFns carry only filter specs
// (strings), and every worker rebuilds the filters from its own registry.

// Param describes one parameter of a registered filter.
type Param struct {
	Name    string
	Default string // "" means required
	Doc     string
}

// Params are the parameter values a spec gave, defaults filled in.
type Params map[string]string

// Float returns a parameter as a number.
func (p Params) Float(name string) (float64, error) {
	v, err := strconv.ParseFloat(p[name], 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s=%q is not a number", name, p[name])
	}
	return v, nil
}

// List returns a parameter holding several values separated by '+'.
func (p Params) List(name string) []string {
	if p[name] == "" {
		return nil
	}
	return strings.Split(p[name], "+")
}

// Factory builds a filter from parameters, for one survey (a factory may
// check its parameters against that survey's schema).
type Factory func(survey string, p Params) (*Filter, error)

// Entry is one registered filter.
type Entry struct {
	Name    string
	Doc     string
	Params  []Param
	Surveys []string // nil: any
	build   Factory
}

var filters = struct {
	sync.RWMutex
	m map[string]Entry
}{m: map[string]Entry{}}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// ValidName reports why a name cannot name a filter, or nil. Names are
// lower case letters, digits, '_' and '-', starting with a letter, at most
// 63 characters: they become Kafka topic names, and cannot be mistaken for
// an expression.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("filter: invalid name %q (want [a-z][a-z0-9_-]*, at most 63 characters)", name)
	}
	return nil
}

// Register registers a keep/drop function under name and returns the
// filter. surveys lists the surveys it understands (none: both). Call it
// from an init function, so every worker has it. It panics if the name is
// invalid or taken, as Beam's registration does: both are programming
// errors to find at start-up.
func Register(name, doc string, keep Func, surveys ...string) *Filter {
	f := New(name, doc, keep, surveys...)
	Add(f)
	return f
}

// RegisterTransform registers a transforming filter under name (see
// Register).
func RegisterTransform(name, doc string, t TransformFunc, surveys ...string) *Filter {
	f := NewTransform(name, doc, t, surveys...)
	Add(f)
	return f
}

// Add registers a filter built elsewhere (a combination, an expression)
// under its name. It panics like Register.
func Add(f *Filter) {
	mustAdd(Entry{Name: f.name, Doc: f.doc, Surveys: f.surveys, build: func(string, Params) (*Filter, error) { return f, nil }})
}

// RegisterFactory registers a parameterised filter: a spec
// "name:key=value,key=value" calls build with the values, defaults filled
// in for the keys it omits. It panics like Register.
func RegisterFactory(name, doc string, params []Param, surveys []string, build Factory) {
	if build == nil {
		panic("filter: RegisterFactory(" + name + ") with a nil Factory")
	}
	seen := map[string]bool{}
	for _, p := range params {
		if !paramRE.MatchString(p.Name) || seen[p.Name] {
			panic(fmt.Sprintf("filter: %s: invalid or repeated parameter name %q", name, p.Name))
		}
		seen[p.Name] = true
	}
	mustAdd(Entry{Name: name, Doc: doc, Params: slices.Clone(params), Surveys: surveys, build: build})
}

func mustAdd(e Entry) {
	if err := ValidName(e.Name); err != nil {
		panic(err)
	}
	filters.Lock()
	defer filters.Unlock()
	if _, dup := filters.m[e.Name]; dup {
		panic(fmt.Sprintf("filter: %q registered twice", e.Name))
	}
	filters.m[e.Name] = e
}

// Lookup returns the registered filter entry with the given name.
func Lookup(name string) (Entry, bool) {
	filters.RLock()
	defer filters.RUnlock()
	e, ok := filters.m[name]
	return e, ok
}

// Entries lists every registered filter, by name.
func Entries() []Entry {
	filters.RLock()
	defer filters.RUnlock()
	out := make([]Entry, 0, len(filters.m))
	for _, e := range filters.m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var (
	paramRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// namedRE is "NAME=SPEC", where SPEC does not start with '=' (so that
	// "x==1" stays an expression).
	namedRE = regexp.MustCompile(`(?s)^([a-z][a-z0-9_-]{0,62})=([^=].*)$`)
	// registeredRE is "NAME" or "NAME:PARAMS".
	registeredRE = regexp.MustCompile(`^([a-z][a-z0-9_-]{0,62})\s*(?::(.*))?$`)
)

// Build turns a spec into a filter for a survey. A spec is
//
//	[OUT=] NAME              a registered filter:           purity
//	[OUT=] NAME:K=V,K=V      one with parameters:           rb:min=0.8
//	[OUT=] EXPRESSION        a CEL expression (see Expr):   candidate.rb > 0.8 && candidate.ndethist >= 2
//
// OUT, when given, names the result (and so its output topic); it must be a
// valid name. Without it a registered filter keeps its name, with the
// parameters appended when any are given ("rb-min0.8"), and an expression
// is named "expr-" and the first 8 hex digits of the SHA-256 of its text.
// A list value separates items with '+': drop:fields=fp_hists+prv_candidates.
// Anything that is not a registered name followed by nothing or ':' is
// compiled as an expression. Every error is reported here, when the
// pipeline is built, before anything runs.
func Build(spec, survey string) (*Filter, error) {
	if survey != schemas.ZTF && survey != schemas.LSST {
		return nil, fmt.Errorf("filter: unknown survey %q (want ztf or lsst)", survey)
	}
	spec = strings.TrimSpace(spec)
	out := ""
	if m := namedRE.FindStringSubmatch(spec); m != nil {
		out, spec = m[1], strings.TrimSpace(m[2])
	}
	f, err := build(spec, survey)
	if err != nil {
		return nil, err
	}
	if !f.Supports(survey) {
		return nil, fmt.Errorf("filter: %s does not apply to %s alerts (only %s)", f.name, survey, strings.Join(f.surveys, ", "))
	}
	if out != "" {
		f = f.As(out, f.doc)
	}
	return f, nil
}

// ExprSpec turns an expression given as such ("OUT=EXPR" or "EXPR", e.g.
// from --expr; see SplitExpr) into a spec Build compiles as that
// expression, even where the expression alone would read as a filter name
// ("clean=true", "true") or, starting with '=' ("n= =1"), would merge with
// its name's '=' into another expression ("n==1"): such an expression is
// put in parentheses, which CEL ignores. An unnamed one is then named
// explicitly, after the hash of the text as given, so that its name is the
// one it would have had without them.
func ExprSpec(s string) string {
	out, body := SplitExpr(s)
	if registeredRE.MatchString(body) || strings.HasPrefix(body, "=") {
		if out == "" {
			out = exprName(body)
		}
		body = "(" + body + ")"
	}
	if out == "" {
		return body
	}
	return out + "=" + body
}

// SplitExpr splits an expression given as such into its output name and
// the expression. The name is what stands before the first '=', spaces
// trimmed, if that is a valid name (see ValidName) and the '=' does not
// begin "==": "clean=true" is (clean, true), "n = a >= 1" is (n, a >= 1),
// and "x == 1", "candidate.rb>=0.5", "objectId == 'a=b'" have no name. The
// expression may hold '=' itself: "a=b=c" is (a, b=c).
func SplitExpr(s string) (name, expr string) {
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '=')
	if i < 0 || strings.HasPrefix(s[i+1:], "=") {
		return "", s
	}
	name = strings.TrimSpace(s[:i])
	if !nameRE.MatchString(name) {
		return "", s
	}
	return name, strings.TrimSpace(s[i+1:])
}

func build(spec, survey string) (*Filter, error) {
	if spec == "" {
		return nil, fmt.Errorf("filter: empty filter spec")
	}
	m := registeredRE.FindStringSubmatch(spec)
	if m == nil {
		return Expr(exprName(spec), spec, survey)
	}
	name, rawParams, hasParams := m[1], m[2], strings.Contains(spec, ":")
	e, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("filter: no filter named %q is registered (registered: %s)", name, strings.Join(names(), ", "))
	}
	params, err := parseParams(e, rawParams, hasParams)
	if err != nil {
		return nil, err
	}
	f, err := e.build(survey, params)
	if err != nil {
		return nil, fmt.Errorf("filter: %s: %w", name, err)
	}
	if f.surveys == nil && e.Surveys != nil {
		f = &Filter{name: f.name, doc: f.doc, surveys: e.Surveys, run: f.run, needs: f.needs}
	}
	if hasParams && rawParams != "" {
		f = f.As(name+"-"+paramSuffix(rawParams), f.doc)
	}
	return f, nil
}

func parseParams(e Entry, raw string, has bool) (Params, error) {
	p := Params{}
	valid := make([]string, len(e.Params))
	for i, d := range e.Params {
		valid[i] = d.Name
	}
	if has {
		if len(e.Params) == 0 {
			return nil, fmt.Errorf("filter: %s takes no parameters", e.Name)
		}
		for _, kv := range strings.Split(raw, ",") {
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				return nil, fmt.Errorf("filter: %s: parameter %q is not key=value", e.Name, kv)
			}
			if !slices.Contains(valid, k) {
				return nil, fmt.Errorf("filter: %s has no parameter %q (parameters: %s)", e.Name, k, strings.Join(valid, ", "))
			}
			if _, dup := p[k]; dup {
				return nil, fmt.Errorf("filter: %s: parameter %q given twice", e.Name, k)
			}
			p[k] = v
		}
	}
	for _, d := range e.Params {
		if _, set := p[d.Name]; set {
			continue
		}
		if d.Default == "" {
			return nil, fmt.Errorf("filter: %s needs parameter %s (%s)", e.Name, d.Name, d.Doc)
		}
		p[d.Name] = d.Default
	}
	return p, nil
}

// paramSuffix turns "min=0.8,max=1" into "min0.8-max1", keeping only
// characters valid in a name.
func paramSuffix(raw string) string {
	parts := strings.Split(raw, ",")
	for i, kv := range parts {
		k, v, _ := strings.Cut(kv, "=")
		parts[i] = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
				return r
			case r >= 'A' && r <= 'Z':
				return r - 'A' + 'a'
			}
			return '_'
		}, strings.TrimSpace(k)+strings.TrimSpace(v))
	}
	return strings.Join(parts, "-")
}

func exprName(src string) string {
	h := sha256.Sum256([]byte(src))
	return "expr-" + hex.EncodeToString(h[:4])
}

func names() []string {
	es := Entries()
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}
