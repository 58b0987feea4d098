package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// stage writes alerts (all of one night, program and writer schema) into a
// temporary file the way a bundle does, and returns its description.
func stage(t *testing.T, st store, c *framing.Codec, comp compressor, alerts []alert) tempFile {
	t.Helper()
	ctx := context.Background()
	d, id := mustIdentity(t, c, alerts[0].Value)
	info, err := newWriterInfo(d.Raw, d.Writer, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tf := tempFile{Survey: schemas.ZTF, Night: id.Night, Program: id.Program, FP: info.FP}
	tf.Name = fmt.Sprintf("%s/%s/%s.tmp", tempDir, tf.dir(), hex.EncodeToString(rnd[:]))
	obj, err := st.create(ctx, tf.Name, true)
	if err != nil {
		t.Fatal(err)
	}
	h := header{Schema: info.Text, Codec: comp.name}
	copy(h.Sync[:], rnd[:])
	ow, err := newOCFWriter(obj, h)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range alerts {
		block, err := comp.compress(nil, a.Datum)
		if err != nil {
			t.Fatal(err)
		}
		if err := ow.writeBlock(block); err != nil {
			t.Fatal(err)
		}
		tf.IDs = append(tf.IDs, a.ID)
		tf.Sizes = append(tf.Sizes, int64(len(block)))
		tf.Sources = append(tf.Sources, kafkaio.Source{Topic: "t", Offset: int64(i)})
	}
	if err := ow.flush(); err != nil {
		t.Fatal(err)
	}
	if err := obj.commit(); err != nil {
		t.Fatal(err)
	}
	return tf
}

// sameGroup returns the alerts of the largest night/program/schema group.
func sameGroup(alerts []alert) []alert {
	groups := map[string][]alert{}
	best := ""
	for _, a := range alerts {
		k := fmt.Sprint(a.Night, a.Program, a.FP)
		groups[k] = append(groups[k], a)
		if best == "" || len(groups[k]) > len(groups[best]) {
			best = k
		}
	}
	return groups[best]
}

// TestConcurrentCommitters runs several writers, each with its own store
// client and index, committing overlapping sets of the same alerts into
// one directory at the same time, as two jobs replaying one night would.
// Exactly one copy of each alert must result. This is the property the
// exclusive create (link(2) locally, the DoesNotExist precondition on GCS
// uploads, both checked by the conformance suite) buys.
func TestConcurrentCommitters(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		ctx := context.Background()
		alerts := sameGroup(ztfAlerts(t, 0, 3, 20))
		if len(alerts) < 20 {
			t.Fatalf("only %d alerts in the largest group", len(alerts))
		}
		c, _ := framing.NewZTF()
		comp, _ := newCompressor("zstd")
		const writers = 6
		var batches [writers][]tempFile
		for w := range writers {
			st, err := openStore(ctx, root, DefaultRetryTimeout)
			if err != nil {
				t.Fatal(err)
			}
			// Writer w holds a window of the alerts that overlaps its
			// neighbours', split over two temporary files.
			lo, hi := w*len(alerts)/(writers+1), (w+2)*len(alerts)/(writers+1)
			mid := (lo + hi) / 2
			batches[w] = []tempFile{stage(t, st, c, comp, alerts[lo:mid]), stage(t, st, c, comp, alerts[mid:hi])}
			st.close()
		}
		var wg sync.WaitGroup
		errs := make([]error, writers)
		results := make([]commitResult, writers)
		for w := range writers {
			wg.Go(func() {
				cm, err := newCommitter(ctx, Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 3})
				if err != nil {
					errs[w] = err
					return
				}
				defer cm.st.close()
				results[w], errs[w] = cm.commit(ctx, batches[w])
			})
		}
		wg.Wait()
		written, races := 0, 0
		for w := range writers {
			if errs[w] != nil {
				t.Fatalf("writer %d: %v", w, errs[w])
			}
			written += results[w].Written
			races += results[w].Races
		}
		rep, err := Verify(ctx, root, schemas.ZTF, alerts[0].Night)
		if err != nil {
			t.Fatal(err)
		}
		want := ids(alerts) // the writers' windows cover them all
		got := archivedIDs(t, root, schemas.ZTF, alerts[0].Night)
		slices.Sort(got)
		if !rep.OK() || !slices.Equal(got, want) || written != len(want) {
			t.Fatalf("%v: %d ids archived (%d written), want %d; duplicates %v", rep, len(got), written, len(want), rep.Duplicates)
		}
		t.Logf("%d writers, %d alerts, %d files, %d lost races", writers, len(want), rep.Files, races)
	})
}

func TestChunkIDs(t *testing.T) {
	sizes := map[int64]int64{1: 10, 2: 10, 3: 100, 4: 10, 5: 10}
	got := chunkIDs([]int64{1, 2, 3, 4, 5}, sizes, 2, 150)
	want := [][]int64{{1, 2}, {3}, {4, 5}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chunks = %v, want %v", got, want)
	}
	// A record larger than the limit still gets a file of its own.
	if got := chunkIDs([]int64{1, 3}, sizes, 10, 50); fmt.Sprint(got) != "[[1] [3]]" {
		t.Fatalf("chunks = %v", got)
	}
}
