package registrytest

import (
	"testing"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

// Serve starts the registry for the rest of the test. Pipelines and jobs
// take its URL.
func Serve(t testing.TB) *registry.Server {
	t.Helper()
	srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
	if err != nil {
		t.Fatalf("registrytest: serve the registry: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// LSST is an LSST codec on a registry started for the rest of the test, and
// that registry.
func LSST(t testing.TB) (*framing.Codec, *registry.Server) {
	t.Helper()
	srv := Serve(t)
	cl, err := registry.NewClient(srv.URL())
	if err != nil {
		t.Fatalf("registrytest: client of %s: %v", srv.URL(), err)
	}
	c, err := framing.NewLSST(cl)
	if err != nil {
		t.Fatalf("registrytest: LSST codec: %v", err)
	}
	return c, srv
}
