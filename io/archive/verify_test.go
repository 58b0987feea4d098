package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// archiveGroup commits one group of alerts with a committer, the quick way
// to an archive for tests of what reads it.
func archiveGroup(t *testing.T, root string, alerts []alert, maxRecords int) {
	t.Helper()
	ctx := context.Background()
	st := testStore(t, root)
	c, _ := framing.NewZTF()
	comp, _ := newCompressor(DefaultCodec)
	tf := stage(t, st, c, comp, alerts)
	cm, err := newCommitter(ctx, Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: maxRecords})
	if err != nil {
		t.Fatal(err)
	}
	defer cm.st.close()
	if _, err := cm.commit(ctx, []tempFile{tf}); err != nil {
		t.Fatal(err)
	}
	if err := st.remove(ctx, tf.Name); err != nil {
		t.Fatal(err)
	}
}

func finalFiles(t *testing.T, st store, prefix string) []string {
	t.Helper()
	objs, err := st.list(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if isFinal(o.Name) {
			out = append(out, o.Name)
		}
	}
	return out
}

func copyObject(t *testing.T, st store, from, to string, transform func([]byte) []byte) {
	t.Helper()
	b, err := get(t, st, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := put(t, st, to, transform(b), false); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFindsPlantedDamage plants a duplicate file, a file that is
// half duplicates, and a truncated file by hand, and checks that Verify
// reports each and that Repair leaves one copy of every alert.
func TestVerifyFindsPlantedDamage(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		ctx := context.Background()
		group := sameGroup(ztfAlerts(t, 0, 3, 20))
		archived, fresh := group[:len(group)-5], group[len(group)-5:]
		archiveGroup(t, root, archived, 6)
		night, dir := archived[0].Night, nightDir(schemas.ZTF, archived[0].Night, archived[0].Program)
		st := testStore(t, root)
		files := finalFiles(t, st, dir+"/")
		if len(files) < 3 {
			t.Fatalf("want at least 3 files, have %v", files)
		}
		// WithProgress reports before each file and once at the end,
		// the end with the report's counts.
		type step struct {
			files, of int
			records   int64
		}
		var steps []step
		clean, err := Verify(ctx, root, schemas.ZTF, night, WithProgress(func(files, of int, records int64) {
			steps = append(steps, step{files, of, records})
		}))
		if err != nil || !clean.OK() || clean.Records != int64(len(archived)) {
			t.Fatalf("before damage: %v %v", clean, err)
		}
		if len(steps) != len(files)+1 || steps[0] != (step{0, len(files), 0}) || steps[len(files)] != (step{len(files), len(files), clean.Records}) {
			t.Fatalf("progress %v for %d files and %d records", steps, len(files), clean.Records)
		}

		// A whole copy of a file, under a name a careless tool might use.
		copyObject(t, st, files[0], dir+"/zz-copy.avro", func(b []byte) []byte { return b })
		// A file (no id list in its header: not alertbeam's) holding
		// three archived alerts and five new ones.
		c, _ := framing.NewZTF()
		comp, _ := newCompressor("deflate")
		mixed := stage(t, st, c, comp, append(slices.Clone(archived[:3]), fresh...))
		copyObject(t, st, mixed.Name, dir+"/zz-mixed.avro", func(b []byte) []byte { return b })
		if err := st.remove(ctx, mixed.Name); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(ctx, root, schemas.ZTF, night)
		if err != nil {
			t.Fatal(err)
		}
		copied := archivedIDsOf(t, st, files[0])
		wantDup := slices.Sorted(slices.Values(append(copied, ids(archived[:3])...)))
		wantDup = slices.Compact(wantDup)
		if !slices.Equal(rep.Duplicates, wantDup) || rep.OK() {
			t.Fatalf("Verify found duplicates %v, want %v", rep.Duplicates, wantDup)
		}

		res, err := Repair(ctx, root, schemas.ZTF, night, Config{MaxFileRecords: 6})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("repair: %+v", res)
		if len(res.Removed) != 1 || len(res.Rewritten) != 1 {
			t.Errorf("repair removed %v and rewrote %v, want one of each", res.Removed, res.Rewritten)
		}
		rep, err = Verify(ctx, root, schemas.ZTF, night)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Sorted(slices.Values(archivedIDs(t, root, schemas.ZTF, night)))
		if !rep.OK() || !slices.Equal(got, ids(group)) {
			t.Fatalf("after repair: %v; %d ids, want %d", rep, len(got), len(group))
		}

		// Truncate a file in place (non-exclusive write: what a broken
		// copy would leave).
		files = finalFiles(t, st, dir+"/")
		copyObject(t, st, files[1], files[1], func(b []byte) []byte { return b[:len(b)*2/3] })
		rep, err = Verify(ctx, root, schemas.ZTF, night)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Unreadable) != 1 || !strings.HasSuffix(rep.Unreadable[0], files[1]) || rep.Problems[rep.Unreadable[0]] == "" {
			t.Fatalf("Verify: unreadable %v (%v), want %s", rep.Unreadable, rep.Problems, files[1])
		}
		t.Logf("truncated file: %s", rep.Problems[rep.Unreadable[0]])
		if rep.Records >= int64(len(group)) || len(rep.Duplicates) != 0 {
			t.Fatalf("Verify with a truncated file: %v", rep)
		}
		// A replay stops at the damage, naming the file, rather than
		// silently skipping alerts.
		p, s := beam.NewPipelineWithRoot()
		passert.Count(s, Read(s, ReadConfig{Survey: schemas.ZTF, Root: root, Night: night}), "records", len(group))
		if err := run(t, p); err == nil || !strings.Contains(err.Error(), files[1]) {
			t.Fatalf("replaying a truncated file: err = %v, want one naming %s", err, files[1])
		}
	})
}

func archivedIDsOf(t *testing.T, st store, name string) []int64 {
	t.Helper()
	c, _ := framing.NewZTF()
	ids, err := fileIDs(context.Background(), st, c, name)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestIndependentReader writes a small archive with each codec and reads
// every record of every file with hamba/avro's own container reader, which
// knows nothing of alertbeam: the files are plain Avro.
func TestIndependentReader(t *testing.T) {
	alerts := ztfAlerts(t, 3, 1, 6)
	for _, codec := range []string{"null", "deflate", "snappy", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			root := t.TempDir()
			cfg := Config{Root: root, Survey: schemas.ZTF, Codec: codec, MaxFileRecords: 4}
			if err := run(t, writePipeline(cfg, alerts, nil, nil)); err != nil {
				t.Fatal(err)
			}
			var got []int64
			eachArchived(t, testStore(t, root), "ztf/", func(name string, meta map[string][]byte, i int, rec map[string]any) {
				if i == 0 && string(meta["avro.codec"]) != codecNames[codec] {
					t.Errorf("%s: codec %q", name, meta["avro.codec"])
				}
				got = append(got, rec["candid"].(int64))
			})
			slices.Sort(got)
			if !slices.Equal(got, ids(alerts)) {
				t.Fatalf("hamba read %d records, want %d", len(got), len(alerts))
			}
		})
	}
}

// TestReadPattern replays only what a glob selects, locally and on GCS.
func TestReadPattern(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		alerts := ztfAlerts(t, 3, 1, 8)
		if err := run(t, writePipeline(Config{Root: root, Survey: schemas.ZTF}, alerts, nil, nil)); err != nil {
			t.Fatal(err)
		}
		var want []alert
		for _, a := range alerts {
			if a.Program == 1 {
				want = append(want, a)
			}
		}
		if len(want) == 0 || len(want) == len(alerts) {
			t.Fatalf("%d of %d alerts in programid 1: not a selective test", len(want), len(alerts))
		}
		p, s := beam.NewPipelineWithRoot()
		recs := Read(s, ReadConfig{Survey: schemas.ZTF, Pattern: root + "/ztf/*/programid1/*.avro"})
		passert.Equals(s, beam.ParDo(s, &digestFn{Survey: schemas.ZTF}, recs), digests(want)...)
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDeadLetters sends records that cannot be archived next to good ones:
// the bad become dead letters, the good are archived and acknowledged.
func TestDeadLetters(t *testing.T) {
	alerts := ztfAlerts(t, 2, 1, 4)
	recs := records(alerts)
	good := len(recs)
	bad := [][]byte{[]byte("not avro"), alerts[0].Value[:len(alerts[0].Value)/2], {}}
	for i, v := range bad {
		recs = append(recs, recs[0])
		recs[len(recs)-1].Value = v
		recs[len(recs)-1].Offset = int64(good + i)
	}
	root := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	out := Write(s, Config{Root: root, Survey: schemas.ZTF}, beam.ParDo(s, withEventTime, beam.CreateList(s, recs)))
	var wantAcks, wantDead []any
	for i := range good {
		wantAcks = append(wantAcks, int64(i)*10+1)
	}
	for i := range bad {
		wantDead = append(wantDead, int64(good+i))
	}
	passert.Equals(s, beam.ParDo(s, ackOffset, out.Acks), wantAcks...)
	passert.Equals(s, beam.ParDo(s, deadOffset, beam.WindowInto(s, window.NewGlobalWindows(), out.Dead)), wantDead...)
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	checkNights(t, root, schemas.ZTF, alerts)
}

func TestIDList(t *testing.T) {
	for _, in := range [][]int64{nil, {5}, {-3, 0, 7, 7, 1 << 62}, {739260766315010006, 739260766315010007, 739360766315010006}} {
		got, err := parseIDs(appendIDs(nil, in))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(in) && len(in) > 0 {
			t.Fatalf("round trip of %v: %v, %v", in, got, err)
		}
	}
	if _, err := parseIDs([]byte{5, 1}); err == nil {
		t.Fatal("a short id list parsed")
	}
}

// TestOCFCorruption cuts a small archive file at every length and flips
// bytes in it: the reader must report an error (or, for a cut at a block
// boundary, fewer records), never panic or return wrong records silently.
func TestOCFCorruption(t *testing.T) {
	comp, _ := newCompressor("snappy")
	var file bytes.Buffer
	h := header{Schema: []byte(`"bytes"`), Codec: comp.name, Meta: map[string][]byte{metaIDs: appendIDs(nil, []int64{1, 2, 3})}}
	copy(h.Sync[:], "0123456789abcdef")
	ow, _ := newOCFWriter(&file, h)
	_ = ow.flush()
	// A cut at a block boundary leaves a valid, shorter file; Verify
	// catches those by the id list in the header.
	blockEnds := []int{file.Len()}
	for i := range 3 {
		b, _ := comp.compress(nil, bytes.Repeat([]byte{byte(i)}, 100))
		_ = ow.writeBlock(b)
		_ = ow.flush()
		blockEnds = append(blockEnds, file.Len())
	}
	whole := file.Bytes()
	read := func(b []byte) (int, error) {
		r, err := newOCFReader(bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			data, err := r.next()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			if _, err := decompress(r.h.Codec, data); err != nil {
				return n, err
			}
			n++
		}
	}
	if n, err := read(whole); n != 3 || err != nil {
		t.Fatalf("whole file: %d records, %v", n, err)
	}
	for cut := range len(whole) {
		n, err := read(whole[:cut])
		if err == nil && !slices.Contains(blockEnds, cut) {
			t.Fatalf("cut at %d: %d records and no error", cut, n)
		}
	}
	for i := range whole {
		b := bytes.Clone(whole)
		b[i] ^= 0x55
		_, _ = read(b) // must not panic; snappy's checksum catches data flips
	}
}

func TestSplitPattern(t *testing.T) {
	for _, tc := range []struct{ in, root, prefix, glob string }{
		{"gs://b/arch/ztf/2019011[0-2]/programid1/*.avro", "gs://b/arch/ztf", "2019011", "2019011[0-2]/programid1/*.avro"},
		{"gs://b/*.avro", "gs://b", "", "*.avro"},
		{"/data/ztf/20190110/programid1/f.avro", "/data/ztf/20190110/programid1", "f.avro", "f.avro"},
		{"rel/ztf/*/programid2/*.avro", "rel/ztf", "", "*/programid2/*.avro"},
	} {
		root, prefix, glob := splitPattern(tc.in)
		if root != tc.root || prefix != tc.prefix || glob != tc.glob {
			t.Errorf("splitPattern(%q) = %q %q %q, want %q %q %q", tc.in, root, prefix, glob, tc.root, tc.prefix, tc.glob)
		}
	}
}
