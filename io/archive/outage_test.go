package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/gcstest"
)

// With GCS unreachable mid-upload, a temporary file (no precondition), a
// final file (exclusive), a small temporary file (sent whole in one
// request on commit, which the client does not retry by default) and a
// listing wait and retry, then complete once it is back, with the exact
// bytes. Two uploads are larger than a chunk, so the outage falls between
// chunks of a resumable upload too.
func TestGCSStoreRidesOutOutage(t *testing.T) {
	emu := gcstest.Shared(t)
	st, err := openStore(context.Background(), emu.Root("outage"), DefaultRetryTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	data := make([]byte, gcsChunk+gcsChunk/2)
	_, _ = rand.Read(data)

	const outage = 3 * time.Second
	type result struct {
		name string
		err  error
	}
	done := make(chan result, 4)
	objects := []struct {
		name      string
		exclusive bool
		size      int
	}{{"tmp/a.tmp", false, len(data)}, {"final/a.avro", true, len(data)}, {"tmp/small.tmp", false, 1000}}
	for _, c := range objects {
		w, err := st.create(context.Background(), c.name, c.exclusive)
		if err != nil {
			t.Fatal(err)
		}
		first := min(c.size, gcsChunk+1) // a large upload's first chunk goes out now
		if _, err := w.Write(data[:first]); err != nil {
			t.Fatal(err)
		}
		go func() {
			<-time.After(200 * time.Millisecond)
			_, err := w.Write(data[first:c.size])
			if err == nil {
				err = w.commit()
			}
			done <- result{c.name, err}
		}()
	}
	emu.Down()
	go func() {
		_, err := st.list(context.Background(), "")
		done <- result{"list", err}
	}()
	time.Sleep(outage)
	select {
	case r := <-done:
		t.Fatalf("%s finished while GCS was down: %v", r.name, r.err)
	default:
	}
	if err := emu.Up(); err != nil {
		t.Fatal(err)
	}
	for range len(objects) + 1 {
		if r := <-done; r.err != nil {
			t.Fatalf("%s after the outage: %v", r.name, r.err)
		}
	}
	for _, c := range objects {
		got, err := get(t, st, c.name)
		if err != nil || !bytes.Equal(got, data[:c.size]) {
			t.Fatalf("%s: %d bytes (%v), want the %d written", c.name, len(got), err, c.size)
		}
	}
}

// An outage longer than the retry timeout fails the request with the
// store's error, naming the object, instead of waiting forever.
func TestGCSStoreGivesUpAfterTimeout(t *testing.T) {
	emu := gcstest.Shared(t)
	st, err := openStore(context.Background(), emu.Root("outage"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	emu.Down()
	defer func() {
		if err := emu.Up(); err != nil {
			t.Fatal(err)
		}
	}()
	w, err := st.create(context.Background(), "tmp/b.tmp", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("a small object, sent whole on commit")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = w.commit()
	if waited := time.Since(start); waited < 2*time.Second {
		t.Errorf("gave up after %s, before the 2 s retry timeout", waited)
	}
	if err == nil || !strings.Contains(err.Error(), "tmp/b.tmp") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("commit during a permanent outage: %v, want an error naming the object and the refusal", err)
	}
}
