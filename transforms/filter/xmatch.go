package filter

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/alertbeam/alertbeam/io/catalog"
)

// Crossmatch filters compare an alert's position (ZTF candidate.ra/dec,
// LSST diaSource.ra/dec) with static catalogs loaded by io/catalog. The
// filters name a catalog; the pipeline supplies the catalogs by name
// (Config.Catalogs, --catalog NAME=PATH), so a spec builds anywhere and is
// bound to its data on the worker, where applyFn's Setup loads each
// catalog once per process. Apply checks, before anything runs, that every
// catalog and column a filter reads is there.
//
// "Within r" is inclusive: separation <= r arcsec (with catalog.Tolerance,
// 1 µas, of slack for rounding).

func init() {
	RegisterFactory("xmatch", "has a counterpart in catalog cat within r arcsec (inclusive: separation <= r) of its position "+
		"(ZTF candidate.ra/dec, LSST diaSource.ra/dec); r defaults to 5. Catalogs come from --catalog NAME=PATH.",
		[]Param{{Name: "cat", Doc: "catalog name (--catalog NAME=PATH)"}, {Name: "r", Default: "5", Doc: "radius [arcsec]"}}, nil, xmatchFilter)
	RegisterFactory("noxmatch", "no counterpart in catalog cat within r arcsec: the complement of xmatch.",
		[]Param{{Name: "cat", Doc: "catalog name (--catalog NAME=PATH)"}, {Name: "r", Default: "5", Doc: "radius [arcsec]"}}, nil,
		func(survey string, p Params) (*Filter, error) {
			f, err := xmatchFilter(survey, p)
			if err != nil {
				return nil, err
			}
			return Not(f).As("noxmatch", fmt.Sprintf("no counterpart in %s within %s arcsec", p["cat"], p["r"])), nil
		})
	RegisterFactory("brightstar", "near a bright star: some star of catalog cat lies within radius(m) = clamp(a - b*m, rmin, rmax) arcsec, "+
		"m its magnitude in column mag (a star without one counts as rmin). The defaults suit Hipparcos-2 (Hpmag): 120\" for m <= 0, "+
		"70\" at m = 5, 20\" at m = 10, 5\" from m = 11.5. Every star within rmax is tested, not only the nearest.",
		brightParams, nil, brightStarFilter)
	RegisterFactory("nobrightstar", "the bright-star veto: the complement of brightstar (same parameters and radius formula).",
		brightParams, nil, func(survey string, p Params) (*Filter, error) {
			f, err := brightStarFilter(survey, p)
			if err != nil {
				return nil, err
			}
			return Not(f).As("nobrightstar", "not within radius(mag) of a star of "+p["cat"]), nil
		})
}

var brightParams = []Param{
	{Name: "cat", Doc: "catalog name (--catalog NAME=PATH)"},
	{Name: "mag", Default: "Hpmag", Doc: "the catalog's magnitude column"},
	{Name: "a", Default: "120", Doc: "radius at magnitude 0 [arcsec]"},
	{Name: "b", Default: "10", Doc: "arcsec less per magnitude"},
	{Name: "rmin", Default: "5", Doc: "smallest radius [arcsec]"},
	{Name: "rmax", Default: "120", Doc: "largest radius [arcsec]"},
}

// catalogRef is a catalog, and optionally a column of it, that a filter
// reads.
type catalogRef struct {
	cat, col string
}

// gwRef marks a filter that reads gravitational-wave events (gw.go), in
// the same list as the catalogs it reads.
var gwRef = catalogRef{col: "\x00gw"}

func needsOf(fs []*Filter) []catalogRef {
	var out []catalogRef
	for _, f := range fs {
		for _, n := range f.needs {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Catalogs are loaded catalogs, by name.
type Catalogs struct {
	m map[string]*catalog.Catalog
}

// OpenCatalogs loads catalog specs (catalog.ParseSpec), each once per
// process (catalog.Open). No specs gives an empty set.
func OpenCatalogs(specs []string) (*Catalogs, error) {
	cs, err := catalog.OpenAll(specs)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	c := &Catalogs{m: map[string]*catalog.Catalog{}}
	for _, x := range cs {
		c.m[x.Name()] = x
	}
	return c, nil
}

// Get returns the catalog named name.
func (c *Catalogs) Get(name string) (*catalog.Catalog, bool) {
	if c == nil {
		return nil, false
	}
	x, ok := c.m[name]
	return x, ok
}

// Names lists the catalogs' names, sorted.
func (c *Catalogs) Names() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.m))
	for n := range c.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckCatalogs reports a filter that reads a catalog, or a column of one,
// that specs (Config.Catalogs) do not supply, loading the catalogs (once
// per process) to see their columns. Apply checks the same.
func CheckCatalogs(fs []*Filter, specs []string) error {
	needs := slices.DeleteFunc(needsOf(fs), func(r catalogRef) bool { return r == gwRef })
	if len(needs) == 0 {
		return nil
	}
	cats, err := OpenCatalogs(specs)
	if err != nil {
		return err
	}
	return cats.check(fs)
}

func (c *Catalogs) check(fs []*Filter) error {
	for _, f := range fs {
		for _, n := range f.needs {
			if n == gwRef {
				continue
			}
			x, ok := c.Get(n.cat)
			if !ok {
				have := "none"
				if names := c.Names(); len(names) > 0 {
					have = strings.Join(names, ", ")
				}
				return fmt.Errorf("filter %s reads catalog %q, which is not loaded (loaded: %s); give it with --catalog %s=PATH (Config.Catalogs)",
					f.name, n.cat, have, n.cat)
			}
			if n.col != "" && !slices.Contains(matchFields, n.col) {
				if _, ok := x.Column(n.col); !ok {
					return fmt.Errorf("filter %s reads column %q of catalog %s, which has %s", f.name, n.col, n.cat,
						strings.Join(append(slices.Clone(matchFields), x.Columns()...), ", "))
				}
			}
		}
	}
	return nil
}

// xmatchState is an alert's view of the catalogs: nearest matches already
// computed, shared by the filters that run on it.
type xmatchState struct {
	cats *Catalogs
	mu   sync.Mutex
	memo []memoMatch
}

type memoMatch struct {
	cat string
	r   float64
	m   catalog.Match
	ok  bool
}

// WithCatalogs makes catalogs available to the crossmatch filters that
// run on a, and returns a. Pipelines do it for every alert; call it
// yourself to run such a filter on an alert in plain Go.
func (a *Alert) WithCatalogs(c *Catalogs) *Alert {
	a.xm = &xmatchState{cats: c}
	return a
}

// Position is the alert's position in degrees: ZTF candidate.ra/dec, LSST
// diaSource.ra/dec.
func (a *Alert) Position() (ra, dec float64) {
	if a.ZTF != nil {
		return a.ZTF.Candidate.RA, a.ZTF.Candidate.Dec
	}
	if a.LSST != nil {
		return a.LSST.DiaSource.RA, a.LSST.DiaSource.Dec
	}
	return math.NaN(), math.NaN()
}

// Catalog returns the catalog named name, or an error when the alert was
// not given one by that name.
func (a *Alert) Catalog(name string) (*catalog.Catalog, error) {
	var cats *Catalogs
	if a.xm != nil {
		cats = a.xm.cats
	}
	c, ok := cats.Get(name)
	if !ok {
		return nil, fmt.Errorf("no catalog %q is loaded (loaded: %v); give it with --catalog %s=PATH", name, cats.Names(), name)
	}
	return c, nil
}

// Counterpart is a catalog entry matched to an alert.
type Counterpart struct {
	Catalog *catalog.Catalog
	Entry   int     // index in Catalog
	Sep     float64 // separation, arcsec
}

// ID is the entry's identifier.
func (c Counterpart) ID() string { return c.Catalog.ID(c.Entry) }

// Value is the entry's value in a numeric column; false when the catalog
// has no such column or the value is empty.
func (c Counterpart) Value(col string) (float64, bool) {
	i, ok := c.Catalog.Column(col)
	if !ok {
		return 0, false
	}
	v := c.Catalog.Value(c.Entry, i)
	return v, !math.IsNaN(v)
}

// Nearest is the entry of catalog name nearest to the alert within r
// arcsec (inclusive), false when there is none. Results are remembered
// for the other filters that ask the same of this alert.
func (a *Alert) Nearest(name string, r float64) (Counterpart, bool, error) {
	c, err := a.Catalog(name)
	if err != nil {
		return Counterpart{}, false, err
	}
	st := a.xm
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.memo {
		if m.cat == name && m.r == r {
			return Counterpart{Catalog: c, Entry: m.m.Entry, Sep: m.m.Sep}, m.ok, nil
		}
	}
	ra, dec := a.Position()
	m, ok := c.Nearest(ra, dec, r)
	st.memo = append(st.memo, memoMatch{cat: name, r: r, m: m, ok: ok})
	return Counterpart{Catalog: c, Entry: m.Entry, Sep: m.Sep}, ok, nil
}

func xmatchFilter(_ string, p Params) (*Filter, error) {
	name := p["cat"]
	r, err := rangeParam(p, "r", 0, 180*3600)
	if err != nil {
		return nil, err
	}
	f := New("xmatch", fmt.Sprintf("counterpart in %s within %v arcsec", name, r), func(a *Alert) (bool, error) {
		_, ok, err := a.Nearest(name, r)
		return ok, err
	})
	f.needs = []catalogRef{{cat: name}}
	return f, nil
}

func brightStarFilter(_ string, p Params) (*Filter, error) {
	name, mag := p["cat"], p["mag"]
	var v [4]float64
	for i, k := range []string{"a", "b", "rmin", "rmax"} {
		x, err := rangeParam(p, k, -1e6, 1e6)
		if err != nil {
			return nil, err
		}
		v[i] = x
	}
	a0, b, rmin, rmax := v[0], v[1], v[2], v[3]
	if !(rmin >= 0 && rmin <= rmax && rmax <= 3600) {
		return nil, fmt.Errorf("want 0 <= rmin <= rmax <= 3600, have rmin=%v rmax=%v", rmin, rmax)
	}
	f := New("brightstar", fmt.Sprintf("a star of %s within clamp(%v - %v*%s, %v, %v) arcsec", name, a0, b, mag, rmin, rmax),
		func(a *Alert) (bool, error) {
			c, err := a.Catalog(name)
			if err != nil {
				return false, err
			}
			col, ok := c.Column(mag)
			if !ok {
				return false, fmt.Errorf("catalog %s has no column %q (columns: %v)", name, mag, c.Columns())
			}
			ra, dec := a.Position()
			for m := range c.Cone(ra, dec, rmax) {
				r := rmin
				if v := c.Value(m.Entry, col); !math.IsNaN(v) {
					r = min(max(a0-b*v, rmin), rmax)
				}
				if m.Sep <= r+catalog.Tolerance {
					return true, nil
				}
			}
			return false, nil
		})
	f.needs = []catalogRef{{cat: name, col: mag}}
	return f, nil
}
