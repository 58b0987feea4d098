package registry_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

func serve(t *testing.T) (*registry.Server, *registry.Client) {
	t.Helper()
	srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cl, err := registry.NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return srv, cl
}

func TestSeededWithRubinIDs(t *testing.T) {
	_, cl := serve(t)
	ctx := context.Background()
	for id, name := range map[int]string{1000: "lsst.v10_0.alert", 1101: "lsst.v11_1.alert"} {
		s, err := cl.Schema(ctx, id)
		if err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
		want := schemas.Default().MustSchema(schemas.Version{Survey: "lsst", Version: map[int]string{1000: "10.0", 1101: "11.1"}[id]})
		if s.Fingerprint() != want.Fingerprint() {
			t.Errorf("id %d: fingerprint differs from the shipped %s", id, name)
		}
	}
	latest, err := cl.Latest(ctx, registry.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if latest.ID != 1101 || latest.Version != 2 {
		t.Fatalf("latest: id %d version %d, want 1101 and 2", latest.ID, latest.Version)
	}
}

func TestUnknownIDIsNotFound(t *testing.T) {
	_, cl := serve(t)
	_, err := cl.Schema(context.Background(), 999)
	var apiErr *registry.APIError
	if !errors.Is(err, registry.ErrNotFound) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("got %v", err)
	}
}

func TestRegisterThenFetch(t *testing.T) {
	_, cl := serve(t)
	ctx := context.Background()
	schema := `{"type":"record","name":"probe","fields":[{"name":"id","type":"long"}]}`
	id, err := cl.Register(ctx, "probe-value", schema)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cl.RawSchema(ctx, id)
	if err != nil || raw == "" {
		t.Fatalf("raw schema %d: %q %v", id, raw, err)
	}
	again, err := cl.Register(ctx, "probe-value", schema)
	if err != nil || again != id {
		t.Fatalf("re-registering gave id %d (%v), want %d", again, err, id)
	}
}

// Transient 5xx answers are retried; the cache then serves without a request.
func TestRetriesServerErrorsAndCaches(t *testing.T) {
	srv, cl := serve(t)
	srv.FailNext(2, http.StatusServiceUnavailable)
	if _, err := cl.Schema(context.Background(), 1000); err != nil {
		t.Fatalf("two 503s then success should succeed with 3 attempts: %v", err)
	}
	srv.FailNext(100, http.StatusServiceUnavailable)
	if _, err := cl.Schema(context.Background(), 1000); err != nil {
		t.Fatalf("a cached id must not hit the registry: %v", err)
	}
	if _, err := cl.Schema(context.Background(), 1101); err == nil {
		t.Fatal("an uncached id with the registry failing must error")
	}
}

func TestClientOptionsValidate(t *testing.T) {
	for _, url := range []string{"", "localhost:8081", "ftp://x"} {
		if _, err := registry.NewClient(url); err == nil {
			t.Errorf("NewClient(%q) should fail", url)
		}
	}
	if _, err := registry.NewClient("http://x", registry.WithAttempts(0)); err == nil {
		t.Error("zero attempts should fail")
	}
	if _, err := registry.NewClient("http://x", registry.WithBasicAuth("", "p")); err == nil {
		t.Error("empty user should fail")
	}
}
