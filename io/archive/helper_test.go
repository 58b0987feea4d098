package archive

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/internal/gcstest"
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
