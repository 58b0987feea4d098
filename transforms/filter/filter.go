package filter

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
)

// Func decides whether to keep an alert. It must not modify the alert, and
// must be safe to call from several goroutines at once. An error (or a
// panic) sends the alert to the dead-letter output, except an error wrapping
// ErrMissing, which drops it.
type Func func(a *Alert) (keep bool, err error)

// TransformFunc returns the alert to publish in place of a, or nil to drop
// it. To publish a modified alert, modify a.Clone(), never a: the other
// filters of the pipeline see a too. Returning a itself keeps the original
// bytes; any other alert is re-encoded.
type TransformFunc func(a *Alert) (*Alert, error)

// ErrMissing says an alert lacks a value a filter needs (an Avro null, or a
// ZTF sentinel): the filter can neither keep nor reject it on its merits,
// so it is dropped (and counted), not dead-lettered.
var ErrMissing = errors.New("filter: alert lacks a value the filter reads")

// PanicError is what a filter that panicked returns.
type PanicError struct {
	Filter string
	Value  any
	At     string // function and file:line where the panic happened
	Stack  []byte
}

func (e *PanicError) Error() string {
	s := fmt.Sprintf("filter %s: panic: %v", e.Filter, e.Value)
	if e.At != "" {
		s += " (at " + e.At + ")"
	}
	return s
}

// Filter is a named filter: a keep/drop decision, optionally publishing a
// transformed alert. Build filters with New, NewTransform, the combinators,
// Expr or Build; a Filter is immutable and safe for concurrent use.
type Filter struct {
	name    string
	doc     string
	surveys []string // nil: any survey
	run     func(*Alert) (*Alert, error)
	needs   []catalogRef // catalogs (and columns) it reads; see xmatch.go
}

// New makes a filter from a keep/drop function. surveys lists the surveys
// it understands (schemas.ZTF, schemas.LSST); none means both. Pipelines
// refuse at build time to run a filter on a survey it does not list.
func New(name, doc string, keep Func, surveys ...string) *Filter {
	if keep == nil {
		panic("filter: New(" + name + ") with a nil Func")
	}
	return &Filter{name: name, doc: doc, surveys: surveys, run: func(a *Alert) (*Alert, error) {
		ok, err := keep(a)
		if err != nil || !ok {
			return nil, err
		}
		return a, nil
	}}
}

// NewTransform makes a filter that may publish a modified alert.
func NewTransform(name, doc string, t TransformFunc, surveys ...string) *Filter {
	if t == nil {
		panic("filter: NewTransform(" + name + ") with a nil TransformFunc")
	}
	return &Filter{name: name, doc: doc, surveys: surveys, run: t}
}

// Name is the filter's name; pipelines name its output after it.
func (f *Filter) Name() string { return f.name }

// Doc states what the filter keeps.
func (f *Filter) Doc() string { return f.doc }

// Surveys lists the surveys the filter understands; nil means any.
func (f *Filter) Surveys() []string { return slices.Clone(f.surveys) }

// Supports reports whether the filter understands a survey.
func (f *Filter) Supports(survey string) bool {
	return f.surveys == nil || slices.Contains(f.surveys, survey)
}

// As returns the filter under another name and doc, e.g. to register a
// combination: filter.Add(filter.And(a, b).As("clean", "...")).
func (f *Filter) As(name, doc string) *Filter {
	g := *f
	g.name, g.doc = name, doc
	return &g
}

// Apply runs the filter on one alert. It returns the alert to publish (a
// itself when kept unchanged, another alert when transformed) or nil when
// dropped. A panic inside the filter is recovered and returned as a
// *PanicError; an error is wrapped with the filter's name. Neither ever
// escapes as a panic.
func (f *Filter) Apply(a *Alert) (out *Alert, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &PanicError{Filter: f.name, Value: r, At: panicSite(), Stack: debug.Stack()}
		}
	}()
	if err := a.check(); err != nil {
		return nil, err
	}
	if !f.Supports(a.Survey()) {
		return nil, fmt.Errorf("filter %s does not apply to %s alerts (only %s)", f.name, a.Survey(), strings.Join(f.surveys, ", "))
	}
	out, err = f.run(a)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", f.name, err)
	}
	return out, nil
}

// Keep reports whether the filter keeps a. A missing value (ErrMissing)
// reads as false, not as an error.
func (f *Filter) Keep(a *Alert) (bool, error) {
	out, err := f.Apply(a)
	if errors.Is(err, ErrMissing) {
		return false, nil
	}
	return out != nil, err
}

// panicSite finds the frame that panicked: the first one after the runtime's
// panic machinery, called from the deferred recover above.
func panicSite() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	sawPanic := false
	for {
		fr, more := frames.Next()
		if strings.HasPrefix(fr.Function, "runtime.") {
			sawPanic = true
		} else if sawPanic {
			return fmt.Sprintf("%s %s:%d", fr.Function, fr.File, fr.Line)
		}
		if !more {
			return ""
		}
	}
}

// And keeps an alert that every filter keeps. Transforms chain: each filter
// sees the previous one's output. Like CEL's &&, a definite "drop" from any
// filter wins over a missing value in another; otherwise a missing value
// makes the result missing. It is named "a&b&c" (rename it with As).
func And(fs ...*Filter) *Filter {
	mustSome("And", fs)
	return combine(fs, "&", "all of: ", true)
}

// Or keeps an alert that any filter keeps, publishing the first keeping
// filter's output. A definite "keep" wins over a missing value; otherwise a
// missing value makes the result missing. It is named "a|b|c".
func Or(fs ...*Filter) *Filter {
	mustSome("Or", fs)
	return combine(fs, "|", "any of: ", false)
}

// combine is And (all) or Or: the filters run in order until one decides
// (for And a drop, for Or a keep); the first missing value is remembered
// and is the result if none decides and And would otherwise keep (Or
// otherwise drops). Only And chains transforms: Or runs every filter on
// the alert as it came.
func combine(fs []*Filter, sep, doc string, all bool) *Filter {
	return &Filter{name: joinNames(fs, sep), doc: doc + joinNames(fs, ", "), surveys: intersect(fs), needs: needsOf(fs), run: func(a *Alert) (*Alert, error) {
		cur := a
		var missing error
		for _, f := range fs {
			out, err := f.run(cur)
			switch {
			case errors.Is(err, ErrMissing):
				if missing == nil {
					missing = fmt.Errorf("%s: %w", f.name, err)
				}
			case err != nil:
				return nil, fmt.Errorf("%s: %w", f.name, err)
			case (out == nil) == all: // And's drop, Or's keep
				return out, nil
			case all:
				cur = out
			}
		}
		if missing != nil || !all {
			return nil, missing
		}
		return cur, nil
	}}
}

// Not keeps, unchanged, the alerts f drops, and drops those it keeps. A
// missing value stays missing (not-unknown is unknown). It is named "!f".
func Not(f *Filter) *Filter {
	return &Filter{name: "!" + f.name, doc: "not: " + f.name, surveys: f.surveys, needs: f.needs, run: func(a *Alert) (*Alert, error) {
		out, err := f.run(a)
		if err != nil {
			return nil, err
		}
		if out != nil {
			return nil, nil
		}
		return a, nil
	}}
}

func mustSome(op string, fs []*Filter) {
	if len(fs) == 0 {
		panic("filter: " + op + " of no filters")
	}
	for _, f := range fs {
		if f == nil {
			panic("filter: " + op + " of a nil filter")
		}
	}
}

func joinNames(fs []*Filter, sep string) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, sep)
}

// intersect is the surveys every filter understands (nil: any).
func intersect(fs []*Filter) []string {
	var out []string
	restricted := false
	for _, f := range fs {
		if f.surveys == nil {
			continue
		}
		if !restricted {
			out, restricted = slices.Clone(f.surveys), true
			continue
		}
		out = slices.DeleteFunc(out, func(s string) bool { return !slices.Contains(f.surveys, s) })
	}
	if restricted && out == nil {
		out = []string{}
	}
	return out
}
