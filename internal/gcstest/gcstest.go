package gcstest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Emulator is a GCS emulator reached through a proxy that can be down.
type Emulator struct {
	srv      *fakestorage.Server
	target   string // the emulator's own host:port
	addr     string // the proxy's host:port, fixed for the emulator's life
	buckets  atomic.Int64
	mu       sync.Mutex
	ln       net.Listener // nil while down
	conns    map[net.Conn]bool
	bucketMu sync.Mutex
}

var (
	sharedOnce sync.Once
	shared     *Emulator
	sharedErr  error
)

// Shared starts, once per test binary, an emulator and points
// STORAGE_EMULATOR_HOST at it. Tests that take it down must not run in
// parallel with other tests of the binary that use it.
func Shared(t testing.TB) *Emulator {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = Start()
		if sharedErr == nil {
			sharedErr = os.Setenv("STORAGE_EMULATOR_HOST", shared.Host())
		}
	})
	if sharedErr != nil {
		t.Fatalf("GCS emulator: %v", sharedErr)
	}
	return shared
}

// Start starts an emulator and its proxy. It does not set
// STORAGE_EMULATOR_HOST: a subprocess is given Host in its environment.
func Start() (*Emulator, error) {
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		srv.Stop()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Stop()
		return nil, err
	}
	e := &Emulator{srv: srv, target: u.Host, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	go e.accept(ln)
	return e, nil
}

// Host is the address for STORAGE_EMULATOR_HOST.
func (e *Emulator) Host() string { return e.addr }

// Root creates a fresh bucket and returns gs://BUCKET/prefix.
func (e *Emulator) Root(prefix string) string {
	e.bucketMu.Lock()
	defer e.bucketMu.Unlock()
	bucket := fmt.Sprintf("alertbeam-test-%d", e.buckets.Add(1))
	e.srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	return "gs://" + bucket + "/" + prefix
}

// Down makes the emulator unreachable: new connections are refused and
// open ones are cut, as when a storage endpoint goes away. Objects stay.
func (e *Emulator) Down() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln == nil {
		return
	}
	_ = e.ln.Close()
	e.ln = nil
	for c := range e.conns {
		_ = c.Close()
	}
}

// Up makes the emulator reachable again at the same address.
func (e *Emulator) Up() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln != nil {
		return nil
	}
	// The port was ours a moment ago; another process taking it in
	// between is unlikely but possible, so try for a while.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ln, err := net.Listen("tcp", e.addr)
		if err == nil {
			e.ln = ln
			go e.accept(ln)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gcstest: listening on %s again: %w", e.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Close stops the proxy and the emulator.
func (e *Emulator) Close() {
	e.Down()
	e.srv.Stop()
}

// accept serves ln until Down or Close closes it.
func (e *Emulator) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go e.pipe(c)
	}
}

// pipe copies one client connection to the emulator and back.
func (e *Emulator) pipe(c net.Conn) {
	up, err := net.Dial("tcp", e.target)
	if err != nil {
		_ = c.Close()
		return
	}
	e.mu.Lock()
	if e.ln == nil { // went down while dialling
		e.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	e.conns[c], e.conns[up] = true, true
	e.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
	e.mu.Lock()
	delete(e.conns, c)
	delete(e.conns, up)
	e.mu.Unlock()
}
