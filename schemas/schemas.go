package schemas

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"
)

//go:embed avsc
var embedded embed.FS

// Surveys alertbeam knows how to frame.
const (
	ZTF  = "ztf"
	LSST = "lsst"
)

// Current versions: the reader schemas alertbeam decodes into by default.
const (
	ZTFVersion  = "4.02"
	LSSTVersion = "10.0"
	// LSSTLatest is the newest Rubin schema shipped. Decoding uses
	// LSSTVersion as the reader because Rubin guarantees FORWARD_TRANSITIVE
	// compatibility: a v10 reader reads every later v10+ writer.
	LSSTLatest = "11.1"
)

// ErrUnknownVersion is returned when a survey/version pair has no schema files.
var ErrUnknownVersion = errors.New("schemas: unknown schema version")

// Version names one schema version of one survey.
type Version struct {
	Survey  string
	Version string
}

func (v Version) String() string { return v.Survey + " " + v.Version }

// RegistryID is Rubin's schema-registry id for an LSST version: MAJOR then a
// two-digit MINOR (10.0 → 1000, 11.1 → 1101). ZTF does not use a registry.
func (v Version) RegistryID() (int, error) {
	major, minor, ok := strings.Cut(v.Version, ".")
	if !ok {
		return 0, fmt.Errorf("schemas: version %q is not MAJOR.MINOR", v.Version)
	}
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || mi < 0 || mi > 99 || ma < 0 {
		return 0, fmt.Errorf("schemas: version %q is not MAJOR.MINOR with a minor below 100", v.Version)
	}
	return ma*100 + mi, nil
}

// Catalogue maps versions to their .avsc files and parses each version once.
type Catalogue struct {
	mu      sync.Mutex
	sources map[Version]source
	parsed  map[Version]avro.Schema
}

type source struct {
	fsys fs.FS
	dir  string
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
)

// Default is the catalogue of the embedded schemas.
func Default() *Catalogue {
	defaultOnce.Do(func() {
		c := &Catalogue{sources: map[Version]source{}, parsed: map[Version]avro.Schema{}}
		if err := c.add(embedded, "avsc"); err != nil {
			// The embedded tree is part of the binary; a failure here is a build defect.
			panic(err)
		}
		defaultCat = c
	})
	return defaultCat
}

// New returns a catalogue of the embedded schemas plus any extra roots on disk,
// each laid out as <root>/<survey>/<version>/*.avsc.
func New(extraRoots ...string) (*Catalogue, error) {
	c := &Catalogue{sources: map[Version]source{}, parsed: map[Version]avro.Schema{}}
	if err := c.add(embedded, "avsc"); err != nil {
		return nil, err
	}
	for _, r := range extraRoots {
		if err := c.AddDir(r); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// AddDir adds every <survey>/<version> folder under root on local disk.
func (c *Catalogue) AddDir(root string) error {
	if _, err := os.Stat(root); err != nil {
		return fmt.Errorf("schemas: schema dir: %w", err)
	}
	return c.add(os.DirFS(root), ".")
}

func (c *Catalogue) add(fsys fs.FS, root string) error {
	surveys, err := fs.ReadDir(fsys, root)
	if err != nil {
		return fmt.Errorf("schemas: reading %s: %w", root, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range surveys {
		if !s.IsDir() {
			continue
		}
		versions, err := fs.ReadDir(fsys, path.Join(root, s.Name()))
		if err != nil {
			return fmt.Errorf("schemas: reading %s: %w", s.Name(), err)
		}
		for _, v := range versions {
			if v.IsDir() {
				c.sources[Version{s.Name(), v.Name()}] = source{fsys, path.Join(root, s.Name(), v.Name())}
			}
		}
	}
	return nil
}

// Versions lists the known versions of a survey, oldest first.
func (c *Catalogue) Versions(survey string) []Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Version
	for v := range c.sources {
		if v.Survey == survey {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i].Version, out[j].Version) })
	return out
}

func versionLess(a, b string) bool {
	af, _ := strconv.ParseFloat(a, 64)
	bf, _ := strconv.ParseFloat(b, 64)
	if af != bf {
		return af < bf
	}
	return a < b
}

// Files returns the raw .avsc files of a version keyed by file name.
func (c *Catalogue) Files(v Version) (map[string][]byte, error) {
	c.mu.Lock()
	src, ok := c.sources[v]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownVersion, v)
	}
	entries, err := fs.ReadDir(src.fsys, src.dir)
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", v, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".avsc") {
			continue
		}
		b, err := fs.ReadFile(src.fsys, path.Join(src.dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", v, err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no .avsc files", ErrUnknownVersion, v)
	}
	return out, nil
}

// Schema returns the parsed top-level alert schema of a version (the record
// named "alert"), parsing it on first use.
func (c *Catalogue) Schema(v Version) (avro.Schema, error) {
	c.mu.Lock()
	s, ok := c.parsed[v]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	files, err := c.Files(v)
	if err != nil {
		return nil, err
	}
	s, err = ParseSet(files)
	if err != nil {
		return nil, fmt.Errorf("schemas: %s: %w", v, err)
	}
	c.mu.Lock()
	c.parsed[v] = s
	c.mu.Unlock()
	return s, nil
}

// MustSchema is Schema for the embedded versions, which are known to parse.
func (c *Catalogue) MustSchema(v Version) avro.Schema {
	s, err := c.Schema(v)
	if err != nil {
		panic(err)
	}
	return s
}

// ParseSet parses a set of .avsc documents that refer to each other by name
// and returns the record named "alert". The alert file (the one whose name
// ends in "alert.avsc") is parsed last because it refers to all the others;
// the rest are parsed in name order.
func ParseSet(files map[string][]byte) (avro.Schema, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ai, aj := strings.HasSuffix(names[i], "alert.avsc"), strings.HasSuffix(names[j], "alert.avsc")
		if ai != aj {
			return aj
		}
		return names[i] < names[j]
	})
	cache := &avro.SchemaCache{}
	var top avro.Schema
	for _, n := range names {
		s, err := avro.ParseBytesWithCache(files[n], "", cache)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if named, ok := s.(avro.NamedSchema); ok && named.Name() == "alert" {
			top = s
		}
	}
	if top == nil {
		return nil, errors.New("no record named \"alert\" among the files")
	}
	return top, nil
}

// LSSTByRegistryID finds the shipped LSST version with a Rubin registry id.
func (c *Catalogue) LSSTByRegistryID(id int) (Version, bool) {
	for _, v := range c.Versions(LSST) {
		if vid, err := v.RegistryID(); err == nil && vid == id {
			return v, true
		}
	}
	return Version{}, false
}

// LSSTRegistryIDOf finds the Rubin registry id of a writer schema among the
// shipped LSST versions, by fingerprint; ok is false for any other schema.
func (c *Catalogue) LSSTRegistryIDOf(writer avro.Schema) (id int, ok bool) {
	fp := writer.Fingerprint()
	for _, v := range c.Versions(LSST) {
		s, err := c.Schema(v)
		if err != nil || s.Fingerprint() != fp {
			continue
		}
		if id, err := v.RegistryID(); err == nil {
			return id, true
		}
	}
	return 0, false
}

// ParseWriter parses a writer schema as a message or registry carries it.
// Each gets a fresh name cache: versions reuse record names
// (ztf.alert.candidate in 3.2 and 3.3), and hamba's global cache would let
// one version's definition leak into another's. A schema hamba rejects for
// its defaults (real ZTF headers) is parsed again without them.
func ParseWriter(raw []byte) (avro.Schema, error) {
	s, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
	if err == nil {
		return s, nil
	}
	fixed, ferr := StripInvalidDefaults(raw)
	if ferr != nil {
		return nil, ferr
	}
	return avro.ParseBytesWithCache(fixed, "", &avro.SchemaCache{})
}

// StripInvalidDefaults rewrites a writer schema so that hamba/avro accepts it:
// real ZTF packets declare fields such as {"type": ["float","null"],
// "default": null}, a default that does not match the first union branch.
// A writer schema's defaults play no part in decoding, so dropping every
// field default is safe; union branch order is left alone because the data's
// branch indices depend on it.
func StripInvalidDefaults(raw []byte) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("schemas: writer schema is not JSON: %w", err)
	}
	stripDefaults(doc)
	return json.Marshal(doc)
}

func stripDefaults(n any) {
	switch t := n.(type) {
	case map[string]any:
		if fields, ok := t["fields"].([]any); ok {
			for _, f := range fields {
				if fm, ok := f.(map[string]any); ok {
					delete(fm, "default")
				}
			}
		}
		for _, v := range t {
			stripDefaults(v)
		}
	case []any:
		for _, v := range t {
			stripDefaults(v)
		}
	}
}
