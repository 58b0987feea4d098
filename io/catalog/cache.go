package catalog

import (
	"fmt"
	"os"
	"sync"
)

// The process-wide cache: a worker loads each catalog once, however many
// DoFn instances, bundles or pipelines use it.
var cache = struct {
	sync.Mutex
	m map[string]*cached
}{m: map[string]*cached{}}

type cached struct {
	once sync.Once
	c    *Catalog
	err  error
}

// Open returns the catalog a spec names, loading it on first use and
// sharing it afterwards: one copy per process for each spec and file
// version (path, size and modification time), so a DoFn can call it from
// Setup on every instance. A failed load is not kept, so a later call
// tries again.
func Open(spec Spec) (*Catalog, error) {
	st, err := os.Stat(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", spec.Name, err)
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", spec, st.Size(), st.ModTime().UnixNano())
	cache.Lock()
	e, ok := cache.m[key]
	if !ok {
		e = &cached{}
		cache.m[key] = e
	}
	cache.Unlock()
	e.once.Do(func() { e.c, e.err = Load(spec) })
	if e.err != nil {
		cache.Lock()
		if cache.m[key] == e {
			delete(cache.m, key)
		}
		cache.Unlock()
	}
	return e.c, e.err
}

// OpenAll parses and opens each spec (see ParseSpec and Open). Names must
// differ.
func OpenAll(specs []string) ([]*Catalog, error) {
	out := make([]*Catalog, 0, len(specs))
	seen := map[string]bool{}
	for _, s := range specs {
		sp, err := ParseSpec(s)
		if err != nil {
			return nil, err
		}
		if seen[sp.Name] {
			return nil, fmt.Errorf("catalog: two catalogs named %q", sp.Name)
		}
		seen[sp.Name] = true
		c, err := Open(sp)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
