package archive

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	register.Function1x2(keyTemp)
	register.Function3x0(toBatch)
	register.Iter1[tempFile]()
	register.Emitter2[string, batch]()
	register.DoFn6x1[context.Context, beam.EventTime, state.Provider, string, batch, func(beam.EventTime, kafkaio.Ack), error](&commitFn{})
	register.Emitter2[beam.EventTime, kafkaio.Ack]()
}

func keyTemp(t tempFile) (string, tempFile) { return t.groupKey(), t }

// batch is the temporary files of one group and window, committed together.
type batch struct {
	Files []tempFile
}

func toBatch(key string, files func(*tempFile) bool, emit func(string, batch)) {
	var b batch
	var t tempFile
	for files(&t) {
		b.Files = append(b.Files, t)
		t = tempFile{}
	}
	emit(key, b)
}

// commitFn commits batches into final files and acknowledges their
// records. It is stateful only so that the runner runs one commit per group
// at a time; Files counts the group's committed files.
type commitFn struct {
	Cfg   Config
	Files state.Value[int64]

	c *committer

	written    beam.Counter
	duplicates beam.Counter
	files      beam.Counter
	bytes      beam.Counter
}

func (fn *commitFn) Setup(ctx context.Context) error {
	c, err := newCommitter(ctx, fn.Cfg)
	if err != nil {
		return err
	}
	fn.c = c
	fn.written = beam.NewCounter("alertbeam", "archive_records_written")
	fn.duplicates = beam.NewCounter("alertbeam", "archive_records_already_archived")
	fn.files = beam.NewCounter("alertbeam", "archive_files_committed")
	fn.bytes = beam.NewCounter("alertbeam", "archive_bytes_written")
	return nil
}

func (fn *commitFn) ProcessElement(ctx context.Context, ts beam.EventTime, sp state.Provider, _ string, b batch, emit func(beam.EventTime, kafkaio.Ack)) error {
	res, err := fn.c.commit(ctx, b.Files)
	if err != nil {
		return err
	}
	n, _, err := fn.Files.Read(sp)
	if err != nil {
		return err
	}
	if err := fn.Files.Write(sp, n+int64(len(res.Files))); err != nil {
		return err
	}
	fn.written.Inc(ctx, int64(res.Written))
	fn.duplicates.Inc(ctx, int64(res.Skipped))
	fn.files.Inc(ctx, int64(len(res.Files)))
	fn.bytes.Inc(ctx, res.Bytes)
	// Every record is now in a final file, written now or found there.
	for _, f := range b.Files {
		for _, src := range f.Sources {
			if src.Topic != "" {
				emit(ts, kafkaio.Ack{Source: src, Units: fn.Cfg.Units})
			}
		}
	}
	// The temporary files are no longer needed; one left behind (a crash
	// here) is harmless, and Verify lists it.
	for _, f := range b.Files {
		if err := fn.c.st.remove(ctx, f.Name); err != nil {
			log.Warnf(ctx, "archive: %v", err)
		}
	}
	return nil
}

func (fn *commitFn) Teardown() {
	if fn.c != nil {
		_ = fn.c.st.close()
		fn.c = nil
	}
}

// committer runs the commit protocol against one store.
type committer struct {
	st         store
	comp       compressor
	codec      *framing.Codec
	maxRecords int
	maxBytes   int64
	idx        *indexCache
}

func newCommitter(ctx context.Context, cfg Config) (*committer, error) {
	cfg = cfg.withDefaults()
	comp, err := newCompressor(cfg.Codec)
	if err != nil {
		return nil, err
	}
	// The codec only decodes ids of files that lack the id list (not
	// written by alertbeam); it never needs the registry.
	codec, err := framing.New(cfg.Survey, nil)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg.Root, cfg.RetryTimeout)
	if err != nil {
		return nil, err
	}
	return &committer{st: st, comp: comp, codec: codec, maxRecords: cfg.MaxFileRecords, maxBytes: cfg.MaxFileBytes,
		idx: newIndexCache(8)}, nil
}

// commitResult says what a commit did.
type commitResult struct {
	Files   []string // final files created
	Written int      // records written into them
	Bytes   int64    // bytes of the files written
	Skipped int      // records already archived (or repeated in the batch)
	Races   int      // times another writer took a name first
}

// maxAttempts bounds how often a commit starts over after losing a race for
// a file name to another writer.
const maxAttempts = 50

// maxOpen bounds the final files written at once (each holds a GCS upload
// chunk in memory).
const maxOpen = 8

// recordLoc is where a record is: temp file and block index.
type recordLoc struct{ file, block int }

// commit puts every record of files that is not archived yet into new final
// files. Its steps: list the directory and read the ids of every final
// file from their headers; leave out ids already there; cut the rest, in id
// order, into files of at most maxRecords records and maxBytes bytes; write
// each under the next free sequence number, exclusively, in order. If
// another writer took a name first, start over: its file is now part of
// the listing. A retry of a commit that already succeeded finds all its ids
// archived and writes nothing.
func (c *committer) commit(ctx context.Context, files []tempFile) (commitResult, error) {
	var res commitResult
	if len(files) == 0 {
		return res, nil
	}
	files = slices.Clone(files)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	g := files[0]
	want := map[int64]recordLoc{}
	sizes := map[int64]int64{}
	total := 0
	for fi, f := range files {
		if len(f.IDs) != len(f.Sizes) {
			return res, fmt.Errorf("archive: temporary file %s: %d ids, %d sizes", f.Name, len(f.IDs), len(f.Sizes))
		}
		total += len(f.IDs)
		for bi, id := range f.IDs {
			if _, ok := want[id]; !ok {
				want[id] = recordLoc{fi, bi}
				sizes[id] = f.Sizes[bi]
			}
		}
	}
	dir, stem := g.dir(), fileStem(g.Survey, g.Night, g.Program)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		existing, next, err := c.idx.refresh(ctx, c, dir, stem, g.FP)
		if err != nil {
			return res, err
		}
		var pending []int64
		for id := range want {
			if _, found := slices.BinarySearch(existing, id); !found {
				pending = append(pending, id)
			}
		}
		if len(pending) == 0 {
			res.Skipped = total - res.Written
			return res, nil
		}
		slices.Sort(pending)
		chunks := chunkIDs(pending, sizes, c.maxRecords, c.maxBytes)
		err = c.writeChunks(ctx, files, want, chunks, dir, stem, g.FP, next, &res)
		if err == nil {
			res.Skipped = total - res.Written
			return res, nil
		}
		if !errors.Is(err, errExist) {
			return res, err
		}
		res.Races++
		log.Infof(ctx, "archive: another writer committed to %s first (%v); starting over", dir, err)
	}
	return res, fmt.Errorf("archive: gave up committing to %s after %d lost races", dir, maxAttempts)
}

// chunkIDs cuts sorted ids into files by count and bytes.
func chunkIDs(ids []int64, sizes map[int64]int64, maxRecords int, maxBytes int64) [][]int64 {
	var out [][]int64
	var cur []int64
	var n int64
	for _, id := range ids {
		sz := sizes[id] + blockOverhead
		if len(cur) > 0 && (len(cur) >= maxRecords || n+sz > maxBytes) {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, id)
		n += sz
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// finalWriter is a final file being written.
type finalWriter struct {
	name string
	ids  []int64 // sorted
	obj  objectWriter
	ocf  *ocfWriter
	n    int
}

// writeChunks writes chunks as files seq, seq+1, … At most maxOpen files
// are open at once; each group of them takes one pass over the temporary
// files holding their records. Files are committed strictly in sequence
// order, and the first name found taken stops everything (errExist): the
// files after it were computed without the winner's ids.
func (c *committer) writeChunks(ctx context.Context, files []tempFile, want map[int64]recordLoc, chunks [][]int64, dir, stem, fp string, seq int, res *commitResult) error {
	for len(chunks) > 0 {
		group := chunks[:min(maxOpen, len(chunks))]
		chunks = chunks[len(group):]
		ws := make([]*finalWriter, len(group))
		owner := map[int64]int{}
		need := map[int]bool{} // temp files holding records of this group
		for i, ch := range group {
			ws[i] = &finalWriter{name: finalName(dir, stem, fp, seq+i), ids: ch}
			for _, id := range ch {
				owner[id] = i
				need[want[id].file] = true
			}
		}
		abort := func() {
			for _, w := range ws {
				if w.obj != nil {
					w.obj.abort()
				}
			}
		}
		for fi, f := range files {
			if !need[fi] {
				continue
			}
			if err := c.copyRecords(ctx, fi, f, want, owner, ws); err != nil {
				abort()
				return err
			}
		}
		for _, w := range ws {
			if w.obj == nil || w.n != len(w.ids) {
				abort()
				return fmt.Errorf("archive: %s: found %d of its %d records in the temporary files", w.name, w.n, len(w.ids))
			}
		}
		for i, w := range ws {
			err := w.ocf.flush()
			if err == nil {
				err = w.obj.commit()
			} else {
				w.obj.abort()
			}
			if err != nil {
				for _, rest := range ws[i+1:] {
					rest.obj.abort()
				}
				return err
			}
			res.Files = append(res.Files, w.name)
			res.Written += w.n
			res.Bytes += w.ocf.n
			metrics.ArchiveFiles.WithLabelValues(files[0].Night).Inc()
			metrics.ArchiveBytes.WithLabelValues(files[0].Night).Add(float64(w.ocf.n))
			metrics.ArchiveRecords.WithLabelValues(files[0].Night).Add(float64(w.n))
		}
		seq += len(group)
	}
	return nil
}

// copyRecords copies the records of temporary file f that belong to the
// open final files, block by block, without decoding them.
func (c *committer) copyRecords(ctx context.Context, fi int, f tempFile, want map[int64]recordLoc, owner map[int64]int, ws []*finalWriter) error {
	rc, err := c.st.open(ctx, f.Name)
	if err != nil {
		return fmt.Errorf("archive: temporary file of uncommitted records: %w", err)
	}
	defer rc.Close()
	r, err := newOCFReader(rc)
	if err != nil {
		return fmt.Errorf("archive: %s: %w", c.st.url(f.Name), err)
	}
	for bi := 0; ; bi++ {
		data, err := r.next()
		if err == io.EOF {
			if bi != len(f.IDs) {
				return fmt.Errorf("archive: %s: %d blocks, want %d", c.st.url(f.Name), bi, len(f.IDs))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive: %s: %w", c.st.url(f.Name), err)
		}
		if bi >= len(f.IDs) {
			return fmt.Errorf("archive: %s: more blocks than the %d recorded", c.st.url(f.Name), len(f.IDs))
		}
		id := f.IDs[bi]
		i, mine := owner[id]
		if !mine || want[id] != (recordLoc{fi, bi}) {
			continue // another group's, or a repeat of an id
		}
		w := ws[i]
		if w.obj == nil {
			if err := c.openFinal(ctx, w, r.h); err != nil {
				return err
			}
		}
		if r.h.Codec != c.comp.name {
			raw, err := decompress(r.h.Codec, data)
			if err != nil {
				return fmt.Errorf("archive: %s: %w", c.st.url(f.Name), err)
			}
			if data, err = c.comp.compress(nil, raw); err != nil {
				return err
			}
		}
		if err := w.ocf.writeBlock(data); err != nil {
			return fmt.Errorf("archive: writing %s: %w", c.st.url(w.name), err)
		}
		w.n++
	}
}

// openFinal starts a final file with the writer schema of the temporary
// file its first record comes from (all of a group share the schema).
func (c *committer) openFinal(ctx context.Context, w *finalWriter, th header) error {
	h := header{Schema: th.Schema, Codec: c.comp.name, Meta: map[string][]byte{metaIDs: appendIDs(nil, w.ids)}}
	if id, ok := th.Meta[metaSchemaID]; ok {
		h.Meta[metaSchemaID] = id
	}
	// A sync marker derived from the name and ids, so a file's header is
	// a function of what it holds.
	sum := sha256.Sum256(append([]byte(w.name), h.Meta[metaIDs]...))
	copy(h.Sync[:], sum[:])
	obj, err := c.st.create(ctx, w.name, true)
	if err != nil {
		return err
	}
	ow, err := newOCFWriter(obj, h)
	if err != nil {
		obj.abort()
		return fmt.Errorf("archive: writing %s: %w", c.st.url(w.name), err)
	}
	w.obj, w.ocf = obj, ow
	return nil
}

// indexCache remembers the ids of the final files of recently committed
// directories, so a commit reads only the headers of files that are new
// since the last one. Final files are never rewritten in place (their names
// are created exclusively), so a cached entry stays true while the file
// exists with the same size.
type indexCache struct {
	max  int
	tick int64
	dirs map[string]*dirIndex
}

type dirIndex struct {
	files map[string]int64 // name → size of the files whose ids are in ids
	ids   []int64          // sorted, with repeats if the archive has duplicates
	used  int64
}

func newIndexCache(max int) *indexCache { return &indexCache{max: max, dirs: map[string]*dirIndex{}} }

// refresh returns the sorted ids archived in dir and the next free sequence
// number of the schema fp's files there.
func (ic *indexCache) refresh(ctx context.Context, c *committer, dir, stem, fp string) ([]int64, int, error) {
	objs, err := c.st.list(ctx, dir+"/")
	if err != nil {
		return nil, 0, err
	}
	di := ic.dirs[dir]
	if di == nil {
		di = &dirIndex{files: map[string]int64{}}
	}
	next := 1
	var fresh []object
	present := 0
	stale := false
	for _, o := range objs {
		if path.Dir(o.Name) != dir || !strings.HasSuffix(o.Name, ".avro") {
			continue
		}
		if ofp, seq, ok := parseFinal(o.Name); ok && ofp == fp[:fpLen] && strings.HasPrefix(path.Base(o.Name), stem+"_") && seq >= next {
			next = seq + 1
		}
		size, known := di.files[o.Name]
		switch {
		case !known:
			fresh = append(fresh, o)
		case size != o.Size:
			stale = true
		default:
			present++
		}
	}
	if stale || present != len(di.files) {
		// A file was removed or replaced (a repair): rebuild.
		di = &dirIndex{files: map[string]int64{}}
		fresh = fresh[:0]
		for _, o := range objs {
			if path.Dir(o.Name) == dir && strings.HasSuffix(o.Name, ".avro") {
				fresh = append(fresh, o)
			}
		}
	}
	for _, o := range fresh {
		ids, err := fileIDs(ctx, c.st, c.codec, o.Name)
		if err != nil {
			// Without its ids, any commit here could duplicate them.
			return nil, 0, fmt.Errorf("archive: cannot tell which alerts %s holds, so nothing more is committed to %s until it is repaired or moved away (see Verify): %w", c.st.url(o.Name), dir, err)
		}
		di.ids = mergeSorted(di.ids, ids)
		di.files[o.Name] = o.Size
	}
	ic.tick++
	di.used = ic.tick
	ic.dirs[dir] = di
	if len(ic.dirs) > ic.max {
		oldest := ""
		for d, x := range ic.dirs {
			if oldest == "" || x.used < ic.dirs[oldest].used {
				oldest = d
			}
		}
		delete(ic.dirs, oldest)
	}
	return di.ids, next, nil
}

// fileIDs returns the sorted ids of a final file: from its header, or, for
// a file alertbeam did not write, by decoding each record's id.
func fileIDs(ctx context.Context, st store, codec *framing.Codec, name string) ([]int64, error) {
	rc, err := st.open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, err := newOCFReader(rc)
	if err != nil {
		return nil, err
	}
	if b, ok := r.h.Meta[metaIDs]; ok {
		return parseIDs(b)
	}
	writer, err := framing.ParseWriterSchema(r.h.Schema)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for {
		data, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		datum, err := decompress(r.h.Codec, data)
		if err != nil {
			return nil, err
		}
		id, err := decodeIdentity(codec, writer, datum)
		if err != nil && !errors.Is(err, errImplausible) {
			return nil, err
		}
		ids = append(ids, id.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

func mergeSorted(a, b []int64) []int64 {
	out := make([]int64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// schemaIDOf reads the registry id a file's header records, 0 if none.
func schemaIDOf(h header) (int, error) {
	b, ok := h.Meta[metaSchemaID]
	if !ok {
		return 0, nil
	}
	id, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", errCorrupt, metaSchemaID, b)
	}
	return id, nil
}
