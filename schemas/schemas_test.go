package schemas_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/gen"
	"golang.org/x/tools/imports"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

// official pairs each shipped version with its folder of official schemas in
// the shared reference folder.
var official = []struct {
	v   schemas.Version
	dir string
}{
	{schemas.Version{Survey: schemas.ZTF, Version: "4.02"}, "ztf-4.02"},
	{schemas.Version{Survey: schemas.LSST, Version: "10.0"}, "lsst-10.0"},
	{schemas.Version{Survey: schemas.LSST, Version: "11.1"}, "lsst-11.1"},
}

// readAvscDir returns the .avsc files of a folder keyed by file name.
func readAvscDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".avsc") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) == 0 {
		t.Fatalf("no .avsc files in %s", dir)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// firstDiff describes where two long strings first differ.
func firstDiff(aName, a, bName, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return fmt.Sprintf("first difference at byte %d:\n%10s: …%s…\n%10s: …%s…",
		i, aName, a[lo:min(i+80, len(a))], bName, b[lo:min(i+80, len(b))])
}

// compareSchemas fails unless two parsed schemas have the same canonical form
// and fingerprint.
func compareSchemas(t *testing.T, what string, ours, off avro.Schema) {
	t.Helper()
	if o, f := ours.String(), off.String(); o != f {
		t.Errorf("%s: canonical form differs from the official one; %s", what, firstDiff("ours", o, "official", f))
		return
	}
	if ours.Fingerprint() != off.Fingerprint() {
		t.Errorf("%s: fingerprint %x, official %x", what, ours.Fingerprint(), off.Fingerprint())
	}
}

// resolutionFacts collects what Parsing Canonical Form leaves out but schema
// resolution and tooling depend on: each field's default (and whether it has
// one) and each record's extra properties, keyed by record and field name.
func resolutionFacts(s avro.Schema, seen map[string]bool, out map[string]string) {
	switch t := s.(type) {
	case *avro.RefSchema:
		resolutionFacts(t.Schema(), seen, out)
	case *avro.RecordSchema:
		if seen[t.FullName()] {
			return
		}
		seen[t.FullName()] = true
		props, _ := json.Marshal(t.Props())
		out[t.FullName()+" props"] = string(props)
		for _, f := range t.Fields() {
			key := t.FullName() + "." + f.Name() + " default"
			if f.HasDefault() {
				d, _ := json.Marshal(f.Default())
				out[key] = string(d)
			} else {
				out[key] = "(none)"
			}
			resolutionFacts(f.Type(), seen, out)
		}
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			resolutionFacts(b, seen, out)
		}
	case *avro.ArraySchema:
		resolutionFacts(t.Items(), seen, out)
	case *avro.MapSchema:
		resolutionFacts(t.Values(), seen, out)
	}
}

func compareResolutionFacts(t *testing.T, what string, ours, off avro.Schema) {
	t.Helper()
	o, f := map[string]string{}, map[string]string{}
	resolutionFacts(ours, map[string]bool{}, o)
	resolutionFacts(off, map[string]bool{}, f)
	if reflect.DeepEqual(o, f) {
		return
	}
	for _, k := range sortedKeys(f) {
		if o[k] != f[k] {
			t.Errorf("%s: %s is %q, official %q", what, k, o[k], f[k])
		}
	}
	for _, k := range sortedKeys(o) {
		if _, ok := f[k]; !ok {
			t.Errorf("%s: %s is not in the official schema", what, k)
		}
	}
}

// TestCanonicalFormsMatchOfficial proves that our hand-written .avsc files
// parse to exactly the official schemas: the same canonical form and
// fingerprint for the alert and for every other record file on its own, and
// the same defaults and record properties, which canonical form omits.
func TestCanonicalFormsMatchOfficial(t *testing.T) {
	for _, c := range official {
		t.Run(c.dir, func(t *testing.T) {
			offFiles := readAvscDir(t, samples.Path(t, "reference", c.dir))
			ourFiles, err := schemas.Default().Files(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if o, f := sortedKeys(ourFiles), sortedKeys(offFiles); !slices.Equal(o, f) {
				t.Fatalf("our files %v, official files %v", o, f)
			}

			ours, err := schemas.Default().Schema(c.v)
			if err != nil {
				t.Fatalf("parsing ours: %v", err)
			}
			off, err := schemas.ParseSet(offFiles)
			if err != nil {
				t.Fatalf("parsing the official set: %v", err)
			}
			compareSchemas(t, "alert", ours, off)
			compareResolutionFacts(t, "alert", ours, off)

			for _, name := range sortedKeys(offFiles) {
				if bytes.Equal(ourFiles[name], offFiles[name]) {
					t.Errorf("%s is a byte copy of the official file; write our own", name)
				}
				if strings.HasSuffix(name, "alert.avsc") {
					continue
				}
				o, err := avro.ParseBytesWithCache(ourFiles[name], "", &avro.SchemaCache{})
				if err != nil {
					t.Errorf("%s (ours) does not parse on its own: %v", name, err)
					continue
				}
				f, err := avro.ParseBytesWithCache(offFiles[name], "", &avro.SchemaCache{})
				if err != nil {
					t.Errorf("%s (official) does not parse on its own: %v", name, err)
					continue
				}
				compareSchemas(t, name, o, f)
				compareResolutionFacts(t, name, o, f)
			}
		})
	}
}

// TestSchemaFilesHouseLayout checks what the canonical-form test cannot:
// every record says it mirrors an official version and every field has a doc.
func TestSchemaFilesHouseLayout(t *testing.T) {
	for _, c := range official {
		files, err := schemas.Default().Files(c.v)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range sortedKeys(files) {
			var rec struct {
				Doc    string `json:"doc"`
				Fields []struct {
					Name string `json:"name"`
					Doc  string `json:"doc"`
				} `json:"fields"`
			}
			if err := json.Unmarshal(files[name], &rec); err != nil {
				t.Errorf("%s %s: %v", c.v, name, err)
				continue
			}
			if !strings.Contains(rec.Doc, "Mirrors the official") || !strings.Contains(rec.Doc, c.v.Version) {
				t.Errorf("%s %s: record doc %q does not say which official version it mirrors", c.v, name, rec.Doc)
			}
			for _, f := range rec.Fields {
				if strings.TrimSpace(f.Doc) == "" {
					t.Errorf("%s %s: field %s has no doc", c.v, name, f.Name)
				}
			}
		}
	}
}

func TestRegistryID(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    int
	}{
		{"10.0", 1000},
		{"11.1", 1101},
		{"11.12", 1112},
		{"9.0", 900},
	} {
		got, err := schemas.Version{Survey: schemas.LSST, Version: tc.version}.RegistryID()
		if err != nil || got != tc.want {
			t.Errorf("RegistryID(%s) = %d, %v; want %d", tc.version, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "10", "ten.0", "10.x", "10.100", "10.-1", "-1.0", "1.2.3"} {
		if got, err := (schemas.Version{Survey: schemas.LSST, Version: bad}).RegistryID(); err == nil {
			t.Errorf("RegistryID(%q) = %d, want an error", bad, got)
		}
	}
}

func TestVersionsOldestFirst(t *testing.T) {
	cat := schemas.Default()
	want := []schemas.Version{{Survey: schemas.LSST, Version: "10.0"}, {Survey: schemas.LSST, Version: "11.1"}}
	if got := cat.Versions(schemas.LSST); !slices.Equal(got, want) {
		t.Errorf("Versions(lsst) = %v, want %v", got, want)
	}
	if got, want := cat.Versions(schemas.ZTF), []schemas.Version{{Survey: schemas.ZTF, Version: schemas.ZTFVersion}}; !slices.Equal(got, want) {
		t.Errorf("Versions(ztf) = %v, want %v", got, want)
	}
	if got := cat.Versions("nosuchsurvey"); len(got) != 0 {
		t.Errorf("Versions(nosuchsurvey) = %v, want none", got)
	}
	for _, v := range []string{schemas.LSSTVersion, schemas.LSSTLatest} {
		if _, err := cat.Schema(schemas.Version{Survey: schemas.LSST, Version: v}); err != nil {
			t.Errorf("the LSST version constant %s has no parsable schema: %v", v, err)
		}
	}
}

func TestUnknownVersion(t *testing.T) {
	v := schemas.Version{Survey: schemas.LSST, Version: "99.9"}
	if _, err := schemas.Default().Schema(v); !errors.Is(err, schemas.ErrUnknownVersion) {
		t.Errorf("Schema(%s) error = %v, want ErrUnknownVersion", v, err)
	}
	if _, err := schemas.Default().Files(v); !errors.Is(err, schemas.ErrUnknownVersion) {
		t.Errorf("Files(%s) error = %v, want ErrUnknownVersion", v, err)
	}
	if _, err := schemas.New(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("New with a missing extra root: want an error")
	}
}

// TestFileDropAddsVersion copies our 11.1 files into a fake version 11.2 in
// an extra root: the catalogue picks it up with no code change.
func TestFileDropAddsVersion(t *testing.T) {
	base := schemas.Version{Survey: schemas.LSST, Version: "11.1"}
	files, err := schemas.Default().Files(base)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, schemas.LSST, "11.2")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		name = strings.Replace(name, "v11_1", "v11_2", 1)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// An empty version folder is listed but has no schema.
	if err := os.MkdirAll(filepath.Join(root, schemas.LSST, "9.0"), 0o755); err != nil {
		t.Fatal(err)
	}

	cat, err := schemas.New(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Version{
		{Survey: schemas.LSST, Version: "9.0"},
		{Survey: schemas.LSST, Version: "10.0"},
		{Survey: schemas.LSST, Version: "11.1"},
		{Survey: schemas.LSST, Version: "11.2"},
	}
	if got := cat.Versions(schemas.LSST); !slices.Equal(got, want) {
		t.Fatalf("Versions(lsst) = %v, want %v", got, want)
	}

	dropped := schemas.Version{Survey: schemas.LSST, Version: "11.2"}
	s, err := cat.Schema(dropped)
	if err != nil {
		t.Fatalf("Schema(%s): %v", dropped, err)
	}
	if s.Fingerprint() != schemas.Default().MustSchema(base).Fingerprint() {
		t.Errorf("the dropped copy of %s parses to a different schema", base)
	}
	if id, err := dropped.RegistryID(); err != nil || id != 1102 {
		t.Errorf("RegistryID(%s) = %d, %v; want 1102", dropped, id, err)
	}
	if _, err := cat.Schema(schemas.Version{Survey: schemas.LSST, Version: "9.0"}); !errors.Is(err, schemas.ErrUnknownVersion) {
		t.Errorf("Schema of an empty version folder: error %v, want ErrUnknownVersion", err)
	}
	if got := schemas.Default().Versions(schemas.LSST); slices.Contains(got, dropped) {
		t.Errorf("the default catalogue sees the dropped version: %v", got)
	}
}

func TestParseSetErrors(t *testing.T) {
	files, err := schemas.Default().Files(schemas.Version{Survey: schemas.LSST, Version: "10.0"})
	if err != nil {
		t.Fatal(err)
	}

	missing := map[string][]byte{}
	for name, b := range files {
		if name != "lsst.v10_0.diaObject.avsc" {
			missing[name] = b
		}
	}
	_, err = schemas.ParseSet(missing)
	if err == nil {
		t.Fatal("ParseSet without diaObject: want an error")
	}
	if !strings.Contains(err.Error(), "lsst.v10_0.alert.avsc") {
		t.Errorf("ParseSet error %q does not name the file that failed", err)
	}

	noAlert := map[string][]byte{}
	for name, b := range files {
		if !strings.HasSuffix(name, "alert.avsc") {
			noAlert[name] = b
		}
	}
	if _, err := schemas.ParseSet(noAlert); err == nil || !strings.Contains(err.Error(), `"alert"`) {
		t.Errorf("ParseSet without the alert file: error %v, want one about the missing alert record", err)
	}

	if _, err := schemas.ParseSet(map[string][]byte{"x.avsc": []byte("{not json")}); err == nil {
		t.Error("ParseSet of invalid JSON: want an error")
	}
}

func TestStripInvalidDefaults(t *testing.T) {
	// The shape of real ZTF writer schemas: a null default on a union whose
	// first branch is not null, also inside a nested record.
	raw := []byte(`{"type": "record", "name": "alert", "namespace": "ztf", "fields": [
		{"name": "diffmaglim", "type": ["float", "null"], "default": null},
		{"name": "candidate", "type": {"type": "record", "name": "candidate", "fields": [
			{"name": "magnr", "type": ["float", "null"], "default": null}
		]}}
	]}`)
	if _, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{}); err == nil {
		t.Fatal("hamba/avro now accepts a null default on a [float, null] union; StripInvalidDefaults may be unnecessary")
	}

	fixed, err := schemas.StripInvalidDefaults(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseBytesWithCache(fixed, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parse after StripInvalidDefaults: %v", err)
	}

	rec := s.(*avro.RecordSchema)
	wantBranches := func(where string, f *avro.Field) {
		t.Helper()
		u, ok := f.Type().(*avro.UnionSchema)
		if !ok {
			t.Fatalf("%s: type %s, want a union", where, f.Type())
		}
		var got []avro.Type
		for _, b := range u.Types() {
			got = append(got, b.Type())
		}
		if want := []avro.Type{avro.Float, avro.Null}; !slices.Equal(got, want) {
			t.Errorf("%s: union branches %v, want %v (order must not change)", where, got, want)
		}
		if f.HasDefault() {
			t.Errorf("%s: default kept", where)
		}
	}
	wantBranches("diffmaglim", rec.Fields()[0])
	nested := rec.Fields()[1].Type().(*avro.RecordSchema)
	wantBranches("candidate.magnr", nested.Fields()[0])

	if _, err := schemas.StripInvalidDefaults([]byte("{")); err == nil {
		t.Error("StripInvalidDefaults of invalid JSON: want an error")
	}
}

// avrogenRun is one `go tool avrogen` line of generate.go.
type avrogenRun struct {
	pkg, out    string
	initialisms []string
	schemas     []string
}

// avrogenRuns reads the go:generate lines of generate.go, so that the test
// and `go generate` can never disagree about files or options.
func avrogenRuns(t *testing.T) []avrogenRun {
	t.Helper()
	f, err := os.Open("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var runs []avrogenRun
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "//go:generate ")
		if !ok {
			continue
		}
		args, ok := strings.CutPrefix(line, "go tool avrogen ")
		if !ok {
			t.Fatalf("generate.go: unexpected go:generate line %q", line)
		}
		var r avrogenRun
		var initialisms string
		fs := flag.NewFlagSet("avrogen", flag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		fs.StringVar(&r.pkg, "pkg", "", "")
		fs.StringVar(&r.out, "o", "", "")
		fs.StringVar(&initialisms, "initialisms", "", "")
		if err := fs.Parse(strings.Fields(args)); err != nil {
			t.Fatalf("generate.go: %q: %v (the test only mirrors -pkg, -o and -initialisms)", line, err)
		}
		if initialisms != "" {
			r.initialisms = strings.Split(initialisms, ",")
		}
		r.schemas = fs.Args()
		if r.pkg == "" || r.out == "" || len(r.schemas) == 0 {
			t.Fatalf("generate.go: %q needs -pkg, -o and schema files", line)
		}
		runs = append(runs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(runs) == 0 {
		t.Fatal("generate.go has no avrogen lines")
	}
	return runs
}

// TestGeneratedStructsUpToDate regenerates the structs in memory the way
// `go tool avrogen` does and compares them with the committed files.
func TestGeneratedStructsUpToDate(t *testing.T) {
	for _, r := range avrogenRuns(t) {
		t.Run(r.out, func(t *testing.T) {
			g := gen.NewGenerator(r.pkg, map[string]gen.TagStyle{}, gen.WithInitialisms(r.initialisms))
			// avrogen parses the files in order into one (global) cache.
			cache := &avro.SchemaCache{}
			for _, file := range r.schemas {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				s, err := avro.ParseBytesWithCache(b, "", cache)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				g.Parse(s)
			}
			var buf bytes.Buffer
			if err := g.Write(&buf); err != nil {
				t.Fatal(err)
			}
			want, err := imports.Process("", buf.Bytes(), nil)
			if err != nil {
				t.Fatalf("formatting generated code: %v", err)
			}
			got, err := os.ReadFile(r.out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: run `make generate` (or `go generate ./schemas/`); %s",
					r.out, firstDiff("committed", string(got), "generated", string(want)))
			}
		})
	}
}

func TestLSSTRegistryLookups(t *testing.T) {
	cat := schemas.Default()
	for _, tc := range []struct {
		version string
		id      int
	}{{"10.0", 1000}, {"11.1", 1101}} {
		v, ok := cat.LSSTByRegistryID(tc.id)
		if !ok || v.Version != tc.version {
			t.Fatalf("LSSTByRegistryID(%d) = %v, %v; want %s", tc.id, v, ok, tc.version)
		}
		id, ok := cat.LSSTRegistryIDOf(cat.MustSchema(v))
		if !ok || id != tc.id {
			t.Fatalf("LSSTRegistryIDOf(%s) = %d, %v; want %d", tc.version, id, ok, tc.id)
		}
	}
	if _, ok := cat.LSSTByRegistryID(999); ok {
		t.Fatal("id 999 is not a shipped version")
	}
	if _, ok := cat.LSSTRegistryIDOf(cat.MustSchema(schemas.Version{Survey: "ztf", Version: "4.02"})); ok {
		t.Fatal("the ZTF schema has no Rubin id")
	}
}

// ParseWriter accepts real ZTF-style writer schemas whose defaults hamba
// rejects, and keeps the union branch order.
func TestParseWriterDropsInvalidDefaults(t *testing.T) {
	raw := []byte(`{"type":"record","name":"r","fields":[{"name":"x","type":["float","null"],"default":null}]}`)
	s, err := schemas.ParseWriter(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != `{"name":"r","type":"record","fields":[{"name":"x","type":["float","null"]}]}` {
		t.Fatalf("canonical form %s", got)
	}
	if _, err := schemas.ParseWriter([]byte(`{"type":`)); err == nil {
		t.Fatal("garbage must not parse")
	}
}
