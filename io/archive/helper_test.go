package archive

import (
	"context"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/internal/gcstest"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func TestMain(m *testing.M) {
	ptest.Main(m)
}

// gcsRoot returns a gs:// root in a fresh bucket of the in-process GCS
// emulator (started once per test binary).
func gcsRoot(t testing.TB) string {
	t.Helper()
	return gcstest.Shared(t).Root("archive")
}

// backends names the roots every conformance and pipeline test runs on.
func backends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"local": func(t *testing.T) string { return t.TempDir() },
		"gcs":   func(t *testing.T) string { return gcsRoot(t) },
	}
}

// eachBackend runs check as a subtest for each backend, on a new root.
func eachBackend(t *testing.T, check func(t *testing.T, root string)) {
	for name, root := range backends(t) {
		t.Run(name, func(t *testing.T) { check(t, root(t)) })
	}
}

// testStore opens the store at root for a test; it is closed when the
// test ends.
func testStore(t *testing.T, root string) store {
	t.Helper()
	st, err := openStore(context.Background(), root, DefaultRetryTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return st
}

// eachArchived reads every final file under prefix with hamba/avro's own
// container reader, which knows nothing of alertbeam, and calls each with
// the file, its header's metadata and every record in turn.
func eachArchived(t *testing.T, st store, prefix string, each func(name string, meta map[string][]byte, i int, rec map[string]any)) {
	t.Helper()
	for _, name := range finalFiles(t, st, prefix) {
		rc, err := st.open(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := ocf.NewDecoder(rc, ocf.WithDecoderConfig(framing.API))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := 0; dec.HasNext(); i++ {
			var rec map[string]any
			if err := dec.Decode(&rec); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			each(name, dec.Metadata(), i, rec)
		}
		if err := dec.Error(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rc.Close()
	}
}
