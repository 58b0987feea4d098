package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*refBatch)(nil)).Elem())
	register.Function1x1(placeOf)
	register.DoFn1x0[kafkaio.Record](&collectFn{})
	register.Function1x2(stampBatch)
	register.Function3x1(renderFetched)
	register.Function3x1(renderMissing)
}

// placeOf renders where a record says it comes from: its Source, and the
// headers that say the same.
func placeOf(r kafkaio.Record) string {
	return fmt.Sprintf("%s#%d partition=%d prev=%d base=%d key=%s file=%s block=%s",
		r.Topic, r.Offset, r.Partition, r.Prev, r.Base, r.Key, r.Header(HeaderFile), r.Header(HeaderBlock))
}

// archivedPlaces reads every final file under prefix with hamba/avro's own
// container reader, which knows nothing of alertbeam, and renders each
// record as placeOf should: file, index in it, candid.
func archivedPlaces(t *testing.T, st store, prefix string) []any {
	t.Helper()
	var out []any
	eachArchived(t, st, prefix, func(name string, _ map[string][]byte, i int, rec map[string]any) {
		url := st.url(name)
		out = append(out, fmt.Sprintf("%s#%d partition=0 prev=%d base=0 key=%d file=%s block=%d", url, i, i-1, rec["candid"].(int64), url, i))
	})
	return out
}

// Read, plain and paced, names every record by its file and its index in
// the file, each once, as an independent reader numbers them.
func TestReadSources(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		alerts := smallArchive(t, root)
		st := testStore(t, root)
		if files := finalFiles(t, st, "ztf/"); len(files) < 4 {
			t.Fatalf("%d files; the test needs several", len(files))
		}
		p, s := beam.NewPipelineWithRoot()
		var plain []beam.PCollection
		for _, night := range nights(alerts) {
			plain = append(plain, Read(s, ReadConfig{Survey: schemas.ZTF, Root: root, Night: night}))
			paced := Read(s.Scope(night), ReadConfig{Survey: schemas.ZTF, Root: root, Night: night, Speed: 1e6})
			passert.Equals(s.Scope(night), beam.ParDo(s, placeOf, paced), archivedPlaces(t, st, "ztf/"+night+"/")...)
		}
		passert.Equals(s, beam.ParDo(s, placeOf, beam.Flatten(s, plain...)), archivedPlaces(t, st, "ztf/")...)
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
	})
}

// collected holds what collectFn saw, per test: prism runs the workers in
// this process.
var collected = struct {
	sync.Mutex
	byTest map[string][]kafkaio.Record
}{byTest: map[string][]kafkaio.Record{}}

type collectFn struct{ Test string }

func (fn *collectFn) ProcessElement(r kafkaio.Record) {
	collected.Lock()
	defer collected.Unlock()
	collected.byTest[fn.Test] = append(collected.byTest[fn.Test], r)
}

// readAll replays every night of alerts with Read and returns the records,
// by file, in file order.
func readAll(t *testing.T, root string, alerts []alert) map[string][]kafkaio.Record {
	t.Helper()
	collected.Lock()
	delete(collected.byTest, t.Name()) // from an earlier -count run
	collected.Unlock()
	p, s := beam.NewPipelineWithRoot()
	for _, night := range nights(alerts) {
		beam.ParDo0(s, &collectFn{Test: t.Name()}, Read(s, ReadConfig{Survey: schemas.ZTF, Root: root, Night: night}))
	}
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	collected.Lock()
	defer collected.Unlock()
	byFile := map[string][]kafkaio.Record{}
	for _, r := range collected.byTest[t.Name()] {
		byFile[r.Topic] = append(byFile[r.Topic], r)
	}
	for _, recs := range byFile {
		slices.SortFunc(recs, func(a, b kafkaio.Record) int { return int(a.Offset - b.Offset) })
	}
	return byFile
}

// describe renders everything Fetch must give back of a record: its whole
// Source, key, value bytes (by hash), headers and timestamp.
func describe(r kafkaio.Record) string {
	var h strings.Builder
	for _, x := range r.Headers {
		fmt.Fprintf(&h, "%s=%q;", x.Key, x.Value)
	}
	return fmt.Sprintf("%s prev=%d base=%d key=%s value=%d:%x headers=%s time=%s",
		r.Source, r.Prev, r.Base, r.Key, len(r.Value), sha256.Sum256(r.Value), h.String(), r.Timestamp.UTC().Format(time.RFC3339Nano))
}

// refBatch is one input element of Fetch: refs, and the event time (in
// seconds) the element carries.
type refBatch struct {
	At   int64
	Refs []kafkaio.Source
}

func stampBatch(b refBatch) (beam.EventTime, []kafkaio.Source) {
	return beam.EventTime(b.At * 1000), b.Refs
}

// stamp renders the event time and window an output came out with.
func stamp(w beam.Window, ts beam.EventTime) string {
	return fmt.Sprintf("at=%ds window=%ds", int64(ts)/1000, int64(w.(window.IntervalWindow).Start)/1000)
}

func renderFetched(w beam.Window, ts beam.EventTime, r kafkaio.Record) string {
	return stamp(w, ts) + " " + describe(r)
}

// renderMissing renders a missing ref with the kind of its error.
func renderMissing(w beam.Window, ts beam.EventTime, m kafkaio.Missing) string {
	kind := "other: " + m.Err
	for _, k := range []struct{ kind, text string }{
		{"not-exist", "does not exist"},
		{"past-end", errPastEnd.Error()},
		{"outside", "is not an archive file under"},
		{"bad-ref", "names no archived record"},
	} {
		if strings.Contains(m.Err, k.text) && strings.Contains(m.Err, m.Topic) {
			kind = k.kind
			break
		}
	}
	return fmt.Sprintf("%s %s prev=%d base=%d %s", stamp(w, ts), m.Source, m.Prev, m.Base, kind)
}

// Fetch gives back, for refs in any order, across files, duplicated or
// alone, exactly the records Read emitted, and a Missing for each ref to
// no file or no record; each output with its batch's timestamp and window.
func TestFetch(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		alerts := smallArchive(t, root)
		byFile := readAll(t, root, alerts)
		var files []string
		for url, recs := range byFile {
			if len(recs) == 4 {
				files = append(files, url)
			}
		}
		slices.Sort(files)
		if len(files) < 3 {
			t.Fatalf("%d full files; the test needs 3", len(files))
		}
		f1, f2, f3 := byFile[files[0]], byFile[files[1]], byFile[files[2]]
		src := func(recs []kafkaio.Record, i int) kafkaio.Source { return recs[i].Source }
		bad := func(s kafkaio.Source, mod func(*kafkaio.Source)) kafkaio.Source { mod(&s); return s }
		noFile := bad(src(f1, 0), func(s *kafkaio.Source) { s.Topic = strings.TrimSuffix(s.Topic, ".avro") + "_none.avro" })
		pastEnd := bad(src(f1, 3), func(s *kafkaio.Source) { s.Offset, s.Prev = 4, 3 })
		partition := bad(src(f2, 0), func(s *kafkaio.Source) { s.Partition = 1 })
		outside := bad(src(f3, 0), func(s *kafkaio.Source) { s.Topic = "/elsewhere/ztf/x.avro" })
		// Prev and Base play no part in finding a record, and come
		// back as given.
		rebased := bad(src(f2, 3), func(s *kafkaio.Source) { s.Prev, s.Base = 0, 2 })
		batches := []refBatch{
			{At: 1000, Refs: []kafkaio.Source{src(f2, 2), src(f1, 3), src(f1, 0), src(f2, 0), src(f1, 3), src(f1, 1), src(f3, 3)}},
			{At: 1100, Refs: []kafkaio.Source{src(f1, 0)}}, // behind where the last batch left f1
			{At: 1200, Refs: []kafkaio.Source{src(f1, 3), pastEnd, noFile, src(f2, 1), partition, outside, src(f3, 0), src(f3, 0), rebased}},
			{At: 1300},
		}
		var wantRecs, wantMissing []any
		for _, b := range batches {
			at := fmt.Sprintf("at=%ds window=%ds", b.At, b.At/60*60)
			for _, ref := range b.Refs {
				switch ref {
				case noFile:
					wantMissing = append(wantMissing, fmt.Sprintf("%s %s prev=%d base=0 not-exist", at, ref, ref.Prev))
				case pastEnd:
					wantMissing = append(wantMissing, fmt.Sprintf("%s %s prev=%d base=0 past-end", at, ref, ref.Prev))
				case outside:
					wantMissing = append(wantMissing, fmt.Sprintf("%s %s prev=%d base=0 outside", at, ref, ref.Prev))
				case partition:
					wantMissing = append(wantMissing, fmt.Sprintf("%s %s prev=%d base=0 bad-ref", at, ref, ref.Prev))
				default:
					r := byFile[ref.Topic][ref.Offset]
					r.Source = ref
					wantRecs = append(wantRecs, at+" "+describe(r))
				}
			}
		}

		p, s := beam.NewPipelineWithRoot()
		refs := beam.WindowInto(s, window.NewFixedWindows(time.Minute), beam.ParDo(s, stampBatch, beam.CreateList(s, batches)))
		recs, missing := Fetch(s, ReadConfig{Survey: schemas.ZTF, Root: root, Night: nights(alerts)[0]}, refs)
		global := func(c beam.PCollection) beam.PCollection { return beam.WindowInto(s, window.NewGlobalWindows(), c) }
		passert.Equals(s, global(beam.ParDo(s, renderFetched, recs)), wantRecs...)
		passert.Equals(s, global(beam.ParDo(s, renderMissing, missing)), wantMissing...)
		if err := run(t, p); err != nil {
			t.Fatal(err)
		}
	})
}

// sameRecord reports how got differs from want, field by field.
func sameRecord(got, want kafkaio.Record) error {
	switch {
	case got.Source != want.Source:
		return fmt.Errorf("source %+v, want %+v", got.Source, want.Source)
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Errorf("%s: value differs", want.Source)
	case !bytes.Equal(got.Key, want.Key):
		return fmt.Errorf("%s: key %s, want %s", want.Source, got.Key, want.Key)
	case !reflect.DeepEqual(got.Headers, want.Headers):
		return fmt.Errorf("%s: headers %v, want %v", want.Source, got.Headers, want.Headers)
	case !got.Timestamp.Equal(want.Timestamp):
		return fmt.Errorf("%s: timestamp %v, want %v", want.Source, got.Timestamp, want.Timestamp)
	}
	return nil
}

// fileRecordsOf reads every final file under root with fileRecords (Read's
// way), by URL.
func fileRecordsOf(t *testing.T, st store, codec *framing.Codec) (map[string][]kafkaio.Record, []string) {
	t.Helper()
	byFile := map[string][]kafkaio.Record{}
	var urls []string
	for _, name := range finalFiles(t, st, "") {
		for r, err := range fileRecords(context.Background(), st, name, codec) {
			if err != nil {
				t.Fatal(err)
			}
			byFile[st.url(name)] = append(byFile[st.url(name)], r)
		}
		urls = append(urls, st.url(name))
	}
	return byFile, urls
}

// The fetcher reads each file forward, reopens it only for a record behind
// it, keeps at most max files open (closing the least recently used), and
// reads a file that failed since the last batch once more from the start.
func TestFetcher(t *testing.T) {
	alerts := ztfAlerts(t, 0, 2, 8)
	root := t.TempDir()
	if err := run(t, writePipeline(Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 5}, alerts, nil, nil)); err != nil {
		t.Fatal(err)
	}
	f, st, codec := testFetcher(t, root, schemas.ZTF)
	byFile, urls := fileRecordsOf(t, st, codec)
	var full []string
	for _, u := range urls {
		if len(byFile[u]) == 5 {
			full = append(full, u)
		}
	}
	if len(full) < 3 {
		t.Fatalf("%d full files; the test needs 3", len(full))
	}
	a, b, c := full[0], full[1], full[2]
	steps := []struct {
		url    string
		index  int64
		opened int // files opened after this fetch, in all
	}{
		{a, 1, 1},
		{a, 3, 1}, // forward
		{a, 3, 1}, // the same again
		{a, 4, 1},
		{a, 2, 2}, // behind: from the start
		{b, 0, 3},
		{a, 2, 3},
		{c, 4, 4}, // closes b, used least recently
		{a, 3, 4},
		{b, 1, 5},
		{c, 4, 6}, // c was closed for b
	}
	for i, step := range steps {
		want := byFile[step.url][step.index]
		got, err := f.fetch(st, want.Source)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if err := sameRecord(got, want); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if f.opened != step.opened || len(f.open) > 2 {
			t.Fatalf("step %d: %d files opened, %d open; want %d opened, at most 2 open", i, f.opened, len(f.open), step.opened)
		}
	}

	// A stream that broke while the file stayed open (as a GCS connection
	// can between batches): the file is read again from its start.
	f.open[b].f.ocf.r = bufio.NewReader(iotest.ErrReader(errors.New("connection reset by peer")))
	got, err := f.fetch(st, byFile[b][3].Source)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameRecord(got, byFile[b][3]); err != nil {
		t.Fatal(err)
	}
	if f.opened != 7 {
		t.Fatalf("%d files opened after a broken stream; want 7", f.opened)
	}

	// Past the end: missing, and the file stays open at its end.
	past := byFile[b][4].Source
	past.Offset++
	if _, err := f.fetch(st, past); !errors.Is(err, errPastEnd) || !strings.Contains(err.Error(), b) {
		t.Fatalf("index 5 of a 5-record file: %v; want errPastEnd naming the file", err)
	}
	if _, ok := f.open[b]; !ok || f.opened != 7 {
		t.Fatalf("after a ref past the end: open %v, %d opened; want the file still open", ok, f.opened)
	}

	// No such file, a corrupt file, refs that name no archive record.
	none := kafkaio.Source{Topic: st.url("ztf/20261120/programid1/none.avro"), Offset: 0, Prev: -1}
	if _, err := f.fetch(st, none); !errors.Is(err, errNotExist) {
		t.Fatalf("a missing file: %v; want errNotExist", err)
	}
	if err := os.WriteFile(filepath.Join(root, "ztf", "20261120", "bad.avro"), []byte("Obj\x01 truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := kafkaio.Source{Topic: st.url("ztf/20261120/bad.avro"), Offset: 0, Prev: -1}
	if _, err := f.fetch(st, corrupt); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), corrupt.Topic) {
		t.Fatalf("a corrupt file: %v; want errCorrupt naming the file", err)
	}
	for _, ref := range []kafkaio.Source{
		{Topic: a, Offset: -1},
		{Topic: a, Partition: 2},
		{Topic: a + "/../" + filepath.Base(a)},
		{Topic: st.url("_staging/x.avro")},
		{Topic: st.url("ztf/20261120/x.txt")},
		{Topic: "gs://bucket" + a},
	} {
		if _, err := f.fetch(st, ref); err == nil || errors.Is(err, errNotExist) {
			t.Fatalf("%+v: %v; want refused before any read", ref, err)
		}
	}
	if f.opened != 7 {
		t.Fatalf("%d files opened; refused refs opened some", f.opened)
	}
	f.close()
	if len(f.open) != 0 {
		t.Fatalf("%d files open after close", len(f.open))
	}
}

// An LSST file from elsewhere has no registry id in its header; Fetch
// starting in its middle still frames records with the id of the shipped
// version that matches the writer schema.
func TestFetchForeignLSST(t *testing.T) {
	ct, err := framing.ParseContainer(samples.Read(t, "data", "lsst", "fakeAlert-v11_1.avro"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := newOCFWriter(&buf, header{Schema: ct.Schema, Codec: framing.CodecNull, Sync: [16]byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	var datums [][]byte
	for i := range 3 {
		d := rekeyLSST(t, ct.Datum, int64(1_000_000+i))
		datums = append(datums, d)
		if err := w.writeBlock(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "lsst", "20261120"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "lsst", "20261120", "foreign.avro"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, st, _ := testFetcher(t, root, schemas.LSST)
	url := st.url("lsst/20261120/foreign.avro")
	for _, i := range []int{2, 1} {
		r, err := f.fetch(st, kafkaio.Source{Topic: url, Offset: int64(i), Prev: int64(i) - 1})
		if err != nil {
			t.Fatal(err)
		}
		if want := framing.AppendWire(nil, 1101, datums[i]); !bytes.Equal(r.Value, want) {
			id, _, _ := framing.ParseWire(r.Value)
			t.Fatalf("record %d: framed with id %d (%d bytes), want 1101 and the datum", i, id, len(r.Value))
		}
		if string(r.Key) != fmt.Sprint(1_000_000+i) {
			t.Fatalf("record %d: key %s", i, r.Key)
		}
	}
}

// testFetcher opens a fetcher keeping at most two files open, closed when
// the test ends, with its store and codec.
func testFetcher(t *testing.T, root, survey string) (*fetcher, store, *framing.Codec) {
	t.Helper()
	codec, err := framing.New(survey, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFetcher(context.Background(), root, codec, 2)
	t.Cleanup(f.close)
	st, err := f.store()
	if err != nil {
		t.Fatal(err)
	}
	return f, st, codec
}

// smallArchive archives a small test input (ztfAlerts: real packets and
// generated ones, over several nights) in files of up to 4 records each,
// for the tests of what reads an archive back.
func smallArchive(t *testing.T, root string) []alert {
	t.Helper()
	alerts := ztfAlerts(t, 2, 2, 6)
	if err := run(t, writePipeline(Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 4}, alerts, nil, nil)); err != nil {
		t.Fatal(err)
	}
	return alerts
}
