package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// TestStoreConformance runs one suite on every backend: the archive's
// exactly-once argument uses only what this suite checks, so a backend that
// passes it (local directory, GCS through the real client against the
// emulator) is safe to archive to.
func TestStoreConformance(t *testing.T) {
	for name, root := range backends(t) {
		t.Run(name, func(t *testing.T) {
			open := func(t *testing.T) store { return testStore(t, root(t)) }
			t.Run("RoundTripNested", func(t *testing.T) { testRoundTrip(t, open(t)) })
			t.Run("ExclusiveCreate", func(t *testing.T) { testExclusive(t, open(t)) })
			t.Run("ConcurrentExclusive", func(t *testing.T) { testConcurrentExclusive(t, open(t)) })
			t.Run("Overwrite", func(t *testing.T) { testOverwrite(t, open(t)) })
			t.Run("AbortLeavesNothing", func(t *testing.T) { testAbort(t, open(t)) })
			t.Run("CancelledUploadLeavesNothing", func(t *testing.T) { testCancelled(t, open(t)) })
			t.Run("ListPrefix", func(t *testing.T) { testList(t, open(t)) })
			t.Run("RemoveAndMissing", func(t *testing.T) { testRemove(t, open(t)) })
		})
	}
}

func put(t *testing.T, s store, name string, data []byte, exclusive bool) error {
	t.Helper()
	w, err := s.create(context.Background(), name, exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		w.abort()
		t.Fatal(err)
	}
	return w.commit()
}

func get(t *testing.T, s store, name string) ([]byte, error) {
	t.Helper()
	r, err := s.open(context.Background(), name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// pattern is deterministic filler, distinct per seed.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func testRoundTrip(t *testing.T, s store) {
	// Nested names are what the XML read path of the emulator gets wrong,
	// and a multi-chunk object exercises resumable uploads.
	for _, size := range []int{0, 1000, 2*gcsChunk + 123} {
		name := fmt.Sprintf("ztf/20190110/programid1/obj-%d.avro", size)
		data := pattern(size, 1)
		if err := put(t, s, name, data, true); err != nil {
			t.Fatalf("put %d bytes: %v", size, err)
		}
		got, err := get(t, s, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes differ from the %d written", name, len(got), len(data))
		}
	}
	objs, err := s.list(context.Background(), "ztf/20190110/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[2].Size != 2*gcsChunk+123 {
		t.Fatalf("list = %+v", objs)
	}
}

func testExclusive(t *testing.T, s store) {
	first, second := pattern(5000, 1), pattern(6000, 2)
	if err := put(t, s, "a/b.avro", first, true); err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, "a/b.avro", second, true); !errors.Is(err, errExist) {
		t.Fatalf("second exclusive create: err = %v, want errExist", err)
	}
	got, _ := get(t, s, "a/b.avro")
	if !bytes.Equal(got, first) {
		t.Fatal("the refused create changed the object")
	}
	// Also when the loser is a multi-chunk (resumable) upload.
	if err := put(t, s, "a/b.avro", pattern(2*gcsChunk+1, 3), true); !errors.Is(err, errExist) {
		t.Fatalf("large exclusive create over an existing object: err = %v, want errExist", err)
	}
	got, _ = get(t, s, "a/b.avro")
	if !bytes.Equal(got, first) {
		t.Fatal("the refused large create changed the object")
	}
}

// testConcurrentExclusive checks the property the commit protocol needs:
// of several writers racing to create one name, exactly one wins and the
// object is the winner's. The writers are all opened before any commits,
// so each upload is in flight when the others finish.
func testConcurrentExclusive(t *testing.T, s store) {
	const n = 8
	// Half the racers are multi-chunk (resumable) uploads, whose
	// precondition is evaluated when the upload is finalized.
	size := func(i int) int { return 3000 + i + (i%2)*(gcsChunk+1) }
	ws := make([]objectWriter, n)
	for i := range ws {
		w, err := s.create(context.Background(), "race/seq-000001.avro", true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pattern(size(i), byte(i))); err != nil {
			t.Fatal(err)
		}
		ws[i] = w
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.commit() })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both created the object", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, errExist):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the object")
	}
	got, _ := get(t, s, "race/seq-000001.avro")
	if !bytes.Equal(got, pattern(size(winner), byte(winner))) {
		t.Fatal("the object is not the winner's")
	}
}

func testOverwrite(t *testing.T, s store) {
	if err := put(t, s, "tmp/x", pattern(100, 1), false); err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, "tmp/x", pattern(200, 2), false); err != nil {
		t.Fatal(err)
	}
	got, _ := get(t, s, "tmp/x")
	if !bytes.Equal(got, pattern(200, 2)) {
		t.Fatal("a non-exclusive create did not replace the object")
	}
}

func testAbort(t *testing.T, s store) {
	for _, size := range []int{100, 2*gcsChunk + 5} {
		w, err := s.create(context.Background(), "n/aborted.avro", true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pattern(size, 9)); err != nil {
			t.Fatal(err)
		}
		w.abort()
		w.abort() // idempotent
		if _, err := get(t, s, "n/aborted.avro"); !errors.Is(err, errNotExist) {
			t.Fatalf("after abort of %d bytes: err = %v, want errNotExist", size, err)
		}
		if objs, _ := s.list(context.Background(), ""); len(objs) != 0 {
			t.Fatalf("after abort: list = %+v", objs)
		}
	}
}

func testCancelled(t *testing.T, s store) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.create(ctx, "n/cancelled.avro", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(gcsChunk+10, 4)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, _ = w.Write(pattern(gcsChunk+10, 5))
	// A local write does not watch the context, so its commit may succeed:
	// what the suite requires is that a commit that fails leaves nothing.
	if err := w.commit(); err != nil {
		if _, gerr := get(t, s, "n/cancelled.avro"); !errors.Is(gerr, errNotExist) {
			t.Fatalf("a failed commit (%v) left an object: %v", err, gerr)
		}
	}
}

func testList(t *testing.T, s store) {
	names := []string{"ztf/20190110/programid1/b.avro", "ztf/20190110/programid1/a.avro", "ztf/20190110/programid2/c.avro", "ztf/20190111/programid1/d.avro", "_temp/ztf/20190110/x.tmp"}
	for _, n := range names {
		if err := put(t, s, n, []byte(n), true); err != nil {
			t.Fatal(err)
		}
	}
	// An upload in progress is not listed.
	w, err := s.create(context.Background(), "ztf/20190110/programid1/inflight.avro", true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.abort()
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	objs, err := s.list(context.Background(), "ztf/20190110/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Name)
	}
	want := []string{"ztf/20190110/programid1/a.avro", "ztf/20190110/programid1/b.avro", "ztf/20190110/programid2/c.avro"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	if objs, _ := s.list(context.Background(), "nothing/here/"); len(objs) != 0 {
		t.Fatalf("list of an empty prefix = %v", objs)
	}
}

func testRemove(t *testing.T, s store) {
	if err := put(t, s, "r/x.avro", []byte("x"), true); err != nil {
		t.Fatal(err)
	}
	if err := s.remove(context.Background(), "r/x.avro"); err != nil {
		t.Fatal(err)
	}
	if err := s.remove(context.Background(), "r/x.avro"); err != nil {
		t.Fatalf("removing a missing object: %v", err)
	}
	if _, err := get(t, s, "r/x.avro"); !errors.Is(err, errNotExist) {
		t.Fatalf("open after remove: err = %v, want errNotExist", err)
	}
	// The name is free again for an exclusive create.
	if err := put(t, s, "r/x.avro", []byte("y"), true); err != nil {
		t.Fatalf("exclusive create after remove: %v", err)
	}
}
