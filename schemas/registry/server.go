package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/alertbeam/alertbeam/schemas"
)

// Subject is the subject Rubin registers its alert schemas under.
const Subject = "alert-packet"

// Server is an in-process schema registry speaking the Confluent REST API,
// seeded with every LSST version in a schema catalogue under Rubin's ids.
type Server struct {
	reg *srfake.Registry
	ln  net.Listener
	srv *http.Server
}

// Serve starts a registry on addr ("127.0.0.1:0" picks a free port) holding
// the LSST versions of cat under Subject, each with its Rubin id
// (MAJOR*100+MINOR), oldest first.
func Serve(addr string, cat *schemas.Catalogue) (*Server, error) {
	reg := srfake.NewRegistry(srfake.WithGlobalCompat(sr.CompatForwardTransitive))
	for i, v := range cat.Versions(schemas.LSST) {
		id, err := v.RegistryID()
		if err != nil {
			return nil, err
		}
		s, err := cat.Schema(v)
		if err != nil {
			return nil, err
		}
		// The full JSON (with defaults and docs) is what a consumer needs to
		// resolve against its own reader schema.
		full, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("registry: %s: %w", v, err)
		}
		reg.SeedSchema(Subject, i+1, id, sr.Schema{Schema: string(full), Type: sr.TypeAvro})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("registry: listen %s: %w", addr, err)
	}
	s := &Server{reg: reg, ln: ln, srv: &http.Server{Handler: reg.Handler()}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// Serve only fails when the listener breaks; the next request
			// reports it to whoever makes it.
			_ = err
		}
	}()
	return s, nil
}

// URL is the registry's base URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// FailNext makes the next n requests answer with HTTP status, for fault tests
// of clients (retries, error reporting).
func (s *Server) FailNext(n int, status int) {
	var left atomic.Int64
	left.Store(int64(n))
	s.reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if left.Add(-1) < 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error_code": %d, "message": "injected failure"}`, status*100)
		return true
	})
}
