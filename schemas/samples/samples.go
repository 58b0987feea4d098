package samples

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvDir overrides where the shared folder is looked for.
const EnvDir = "ALERTBEAM_SHARED"

// Root returns the shared folder: $ALERTBEAM_SHARED, else ../shared beside the
// repository root.
func Root() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return checkDir(d)
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("samples: cannot locate the source tree; set %s", EnvDir)
	}
	// file is <repo>/schemas/samples/samples.go.
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	return checkDir(filepath.Join(filepath.Dir(repo), "shared"))
}

func checkDir(d string) (string, error) {
	st, err := os.Stat(filepath.Join(d, "data"))
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("samples: shared folder %s has no data/ (set %s to its path)", d, EnvDir)
	}
	return d, nil
}

// Dir returns the shared folder for a test. Without it the test is skipped,
// or failed when the environment variable CI is "true".
func Dir(t testing.TB) string {
	t.Helper()
	d, err := Root()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: CI=true needs the shared samples", err)
		}
		t.Skipf("%v: skipping a test that needs the shared samples", err)
	}
	return d
}

// Path returns a path inside the shared folder for a test, e.g.
// Path(t, "data", "ztf", "472263571115115000.avro").
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}

// Read returns a file inside the shared folder for a test.
func Read(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, elem...))
	if err != nil {
		t.Fatalf("samples: %v", err)
	}
	return b
}
