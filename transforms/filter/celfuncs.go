package filter

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/ext"
)

// library is what expressions can call beyond CEL's standard functions and
// macros, the same for every survey: math.* (with math.least and
// math.greatest), the string extensions, cel.bind, optional values, and
// abs.
var library = []cel.EnvOption{
	cel.OptionalTypes(),
	ext.Math(),
	ext.Strings(),
	ext.Bindings(),
	absFunction,
}

// Callables lists what expressions can call, each list sorted. It is read
// from the CEL environment itself, so help texts and error messages name
// exactly what compiles.
type Callables struct {
	// Functions are called as f(x): abs, int, size, math.sqrt, ...
	Functions []string
	// Methods are called on a value, x.f(...): objectId.startsWith("ZTF26"),
	// ssnamenr.lowerAscii(), ...
	Methods []string
	// Macros expand when an expression is compiled, into code over their
	// arguments: has(candidate.rb), math.least(a, b), cel.bind(x, e, body).
	Macros []string
	// MethodMacros are macros called on a list or map:
	// prv_candidates.exists(p, p.rb > 0.5), l.map(x, x.jd), ...
	MethodMacros []string
}

// macroNamespace is the namespace of receiver-style macros called on a
// namespace rather than on a value: math.least(a, b), cel.bind(x, e, b).
// CEL's macro type does not say which ones those are.
var macroNamespace = map[string]string{"least": "math", "greatest": "math", "bind": "cel"}

// callableName is a name users write: operators (_+_, @in) and internal
// functions (cel.@block) do not match.
var callableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$`)

var callables = sync.OnceValues(func() (Callables, error) {
	env, err := cel.NewEnv(library...)
	if err != nil {
		return Callables{}, fmt.Errorf("filter: the expression library: %w", err)
	}
	var c Callables
	for name, fn := range env.Functions() {
		// "in" is the operator "x in list" under its legacy function name.
		if !callableName.MatchString(name) || name == "in" {
			continue
		}
		global, member := false, false
		for _, o := range fn.OverloadDecls() {
			if o.IsMemberFunction() {
				member = true
			} else {
				global = true
			}
		}
		if global {
			c.Functions = append(c.Functions, name)
		}
		if member {
			c.Methods = append(c.Methods, name)
		}
	}
	for _, m := range env.Macros() {
		name, list := m.Function(), &c.Macros
		if ns, ok := macroNamespace[name]; ok && m.IsReceiverStyle() {
			name = ns + "." + name
		} else if m.IsReceiverStyle() {
			list = &c.MethodMacros
		}
		if !slices.Contains(*list, name) { // map has two forms
			*list = append(*list, name)
		}
	}
	slices.Sort(c.Functions)
	slices.Sort(c.Methods)
	slices.Sort(c.Macros)
	slices.Sort(c.MethodMacros)
	return c, nil
})

// ExprCallables lists the functions, methods and macros expressions can
// call, for either survey.
func ExprCallables() (Callables, error) { return callables() }

// String lists c in one paragraph, as help texts and errors show it.
func (c Callables) String() string {
	return fmt.Sprintf("functions %s; methods x.%s(); macros %s, x.%s()",
		strings.Join(c.Functions, ", "), strings.Join(c.Methods, "(), x."),
		strings.Join(c.Macros, ", "), strings.Join(c.MethodMacros, "(), x."))
}

// unknownFunction explains a call of a function that does not exist, with
// the likely intended one and everything an expression can call.
func unknownFunction(call celast.CallExpr) string {
	c, err := callables()
	if err != nil {
		return ""
	}
	name := call.FunctionName()
	if call.IsMemberFunction() && call.Target().Kind() == celast.IdentKind {
		// math.sqrtt(x) parses as the method sqrtt of a variable math.
		if ns := call.Target().AsIdent(); isNamespace(ns, c) {
			name = ns + "." + name
		}
	}
	line := "no function " + name
	switch {
	case slices.Contains(c.Functions, "math."+name):
		line += " (did you mean math." + name + "?)"
	case call.IsMemberFunction() && !strings.Contains(name, "."):
		line = "no method " + name + suggest(name, slices.Concat(c.Methods, c.MethodMacros))
	default:
		line += suggest(name, slices.Concat(c.Functions, c.Macros))
	}
	return line + "; expressions can call " + c.String()
}

// notAMethod explains a call of a function as a method
// (candidate.magpsf.abs()), or returns "" if name is not such a function.
func notAMethod(name string) string {
	c, err := callables()
	if err != nil || !slices.Contains(c.Functions, name) || slices.Contains(c.Methods, name) {
		return ""
	}
	return fmt.Sprintf("%s is a function, not a method: write %s(x)", name, name)
}

// isNamespace reports whether ns prefixes a function or macro name (math,
// strings, optional, cel).
func isNamespace(ns string, c Callables) bool {
	for _, n := range slices.Concat(c.Functions, c.Macros) {
		if strings.HasPrefix(n, ns+".") {
			return true
		}
	}
	return false
}
