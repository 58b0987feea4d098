package archive

import (
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func TestMain(m *testing.M) {
	ptest.Main(m)
}

var (
	emuOnce    sync.Once
	emu        *fakestorage.Server
	emuErr     error
	bucketSeq  atomic.Int64
	emulatorMu sync.Mutex
)

// gcsRoot starts the in-process GCS emulator once per test binary, points
// the real storage client at it (STORAGE_EMULATOR_HOST, which every client
// the archive creates, in DoFns too, picks up), and returns a gs:// root in a
// fresh bucket.
func gcsRoot(t testing.TB) string {
	t.Helper()
	emuOnce.Do(func() {
		emu, emuErr = fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
		if emuErr != nil {
			return
		}
		u, err := url.Parse(emu.URL())
		if err != nil {
			emuErr = err
			return
		}
		emuErr = os.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	})
	if emuErr != nil {
		t.Fatalf("GCS emulator: %v", emuErr)
	}
	emulatorMu.Lock()
	defer emulatorMu.Unlock()
	bucket := fmt.Sprintf("alertbeam-test-%d", bucketSeq.Add(1))
	emu.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return "gs://" + bucket + "/archive"
}

// backends names the roots every conformance and pipeline test runs on.
func backends(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"local": func(t *testing.T) string { return t.TempDir() },
		"gcs":   func(t *testing.T) string { return gcsRoot(t) },
	}
}
