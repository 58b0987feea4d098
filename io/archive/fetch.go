package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	register.DoFn4x1[context.Context, []kafkaio.Source, func(kafkaio.Record), func(kafkaio.Missing), error](&fetchFn{})
	register.Emitter1[kafkaio.Record]()
	register.Emitter1[kafkaio.Missing]()
}

// maxCursors bounds the files a Fetch worker keeps open between batches.
// A batch of one exposure touches a file per program and writer schema of
// the night, a handful; each open file holds a 256 KiB read buffer and, on
// GCS, a connection.
const maxCursors = 16

// errPastEnd marks a ref to an index beyond the end of its file.
var errPastEnd = errors.New("archive: no such record")

// Fetch re-reads archived records by the Source archive.Read gave them.
// refs is a PCollection of []kafkaio.Source (a batch; any files, any order,
// duplicates allowed). Each ref comes out either as the kafkaio.Record
// archive.Read emitted for it (same Value bytes, Key, Headers, Timestamp;
// Source equal to the ref) or as a kafkaio.Missing{Source, Err} if the file
// or index cannot be read. Outputs keep the input element's timestamp and
// window. It panics on an invalid cfg.
//
// cfg is the ReadConfig the records were read with; Fetch uses its Survey
// and its root. A ref is found by Topic (the file) and Offset (the index in
// it); Prev and Base are not looked at. Only final archive files under
// cfg's root (Root,
// or the directory before a Pattern's first wildcard) are read: a ref to
// any other file, or with a Partition other than 0, is missing. Failing to
// open the store at all (a GCS client that cannot be built) fails the
// bundle; everything about one file or record is a Missing, with the error.
//
// Each worker keeps the files it read last open (up to 16) at the record
// after the last one asked for, and reads forward: batches that arrive
// roughly in time order read every file once. A ref behind a file's
// position reopens the file from its start.
func Fetch(s beam.Scope, cfg ReadConfig, refs beam.PCollection) (records, missing beam.PCollection) {
	s = s.Scope("archive.Fetch")
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	root, _, _ := cfg.parts()
	return beam.ParDo2(s, &fetchFn{Survey: cfg.Survey, Root: root}, refs)
}

type fetchFn struct {
	Survey string
	Root   string

	f       *fetcher
	cancel  context.CancelFunc
	fetched beam.Counter
	missing beam.Counter
	opened  beam.Counter
}

func (fn *fetchFn) Setup() error {
	codec, err := framing.New(fn.Survey, nil)
	if err != nil {
		return err
	}
	// Open files outlive the bundle that opened them (a GCS read stream
	// ends with its context), so they are read under a context of the
	// DoFn's own, cancelled in Teardown.
	ctx, cancel := context.WithCancel(context.Background())
	fn.f, fn.cancel = newFetcher(ctx, fn.Root, codec, maxCursors), cancel
	fn.fetched = beam.NewCounter("alertbeam", "archive_records_fetched")
	fn.missing = beam.NewCounter("alertbeam", "archive_records_missing")
	fn.opened = beam.NewCounter("alertbeam", "archive_fetch_files_opened")
	return nil
}

func (fn *fetchFn) ProcessElement(ctx context.Context, refs []kafkaio.Source, emit func(kafkaio.Record), miss func(kafkaio.Missing)) error {
	st, err := fn.f.store()
	if err != nil {
		return err
	}
	opened := fn.f.opened
	defer func() { fn.opened.Inc(ctx, int64(fn.f.opened-opened)) }()
	for _, i := range fetchOrder(refs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := fn.f.fetch(st, refs[i])
		if err != nil {
			miss(kafkaio.Missing{Source: refs[i], Err: err.Error()})
			fn.missing.Inc(ctx, 1)
			continue
		}
		emit(r)
		fn.fetched.Inc(ctx, 1)
	}
	return nil
}

func (fn *fetchFn) Teardown() {
	if fn.f != nil {
		fn.f.close()
	}
	if fn.cancel != nil {
		fn.cancel()
	}
}

// fetchOrder is the order to read a batch in: by file, then index, so each
// file is read forward once. refs itself is the runner's and stays as is.
func fetchOrder(refs []kafkaio.Source) []int {
	order := make([]int, len(refs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(refs[a].Topic, refs[b].Topic), cmp.Compare(refs[a].Offset, refs[b].Offset))
	})
	return order
}

// fetcher reads archived records by their Source, keeping up to max files
// open, each at the record after the last one read from it.
type fetcher struct {
	ctx    context.Context // of every read, for as long as files stay open
	root   string
	codec  *framing.Codec
	max    int
	stores openStores
	open   map[string]*cursor // by file URL (Source.Topic)
	tick   uint64             // counts fetches, to find the least recently used file
	opened int                // files opened so far
}

func newFetcher(ctx context.Context, root string, codec *framing.Codec, max int) *fetcher {
	return &fetcher{ctx: ctx, root: root, codec: codec, max: max, stores: openStores{}, open: map[string]*cursor{}}
}

// store returns the archive's store, opened once.
func (f *fetcher) store() (store, error) { return f.stores.get(f.ctx, f.root) }

// cursor is an open file and the record read from it last.
type cursor struct {
	f       *fileReader
	last    kafkaio.Record // the record at index f.index()-1, if hasLast
	hasLast bool
	used    uint64
}

// fetch returns the record ref names in st, or why it cannot be read.
func (f *fetcher) fetch(st store, ref kafkaio.Source) (kafkaio.Record, error) {
	if ref.Partition != 0 || ref.Offset < 0 {
		return kafkaio.Record{}, fmt.Errorf("archive: %s names no archived record (want partition 0 and an index from 0)", ref)
	}
	name, ok := nameOf(st, ref.Topic)
	if !ok {
		return kafkaio.Record{}, fmt.Errorf("archive: %s is not an archive file under %s", ref.Topic, st.url(""))
	}
	f.tick++
	c := f.open[ref.Topic]
	if c != nil && !c.reaches(ref.Offset) {
		// Files are read forward only: go back to the start.
		f.drop(ref.Topic)
		c = nil
	}
	reused := c != nil
	for {
		if c == nil {
			var err error
			if c, err = f.openCursor(st, name); err != nil {
				return kafkaio.Record{}, fmt.Errorf("archive: reading %s (record %d): %w", ref.Topic, ref.Offset, err)
			}
		}
		c.used = f.tick
		r, err := c.at(f.codec, ref.Offset)
		if err == nil {
			r.Source = ref
			return r, nil
		}
		if errors.Is(err, errPastEnd) {
			return kafkaio.Record{}, err // the file stays open at its end, which is right
		}
		// Where the file stands after a failed read is unknown.
		f.drop(ref.Topic)
		if !reused {
			return kafkaio.Record{}, err
		}
		// A file kept open since an earlier batch may have gone stale (a
		// GCS read stream the server closed while idle): read it once more
		// from the start before calling the record missing.
		reused, c = false, nil
	}
}

// openCursor opens a file, first closing the least recently used one if
// max are open.
func (f *fetcher) openCursor(st store, name string) (*cursor, error) {
	if len(f.open) >= f.max {
		var lru string
		for url, c := range f.open {
			if lru == "" || c.used < f.open[lru].used {
				lru = url
			}
		}
		f.drop(lru)
	}
	fr, err := openFile(f.ctx, st, name)
	if err != nil {
		return nil, err
	}
	f.opened++
	c := &cursor{f: fr}
	f.open[fr.url] = c
	return c, nil
}

func (f *fetcher) drop(url string) {
	if c, ok := f.open[url]; ok {
		_ = c.f.close()
		delete(f.open, url)
	}
}

// close closes every open file and the store.
func (f *fetcher) close() {
	for url := range f.open {
		f.drop(url)
	}
	f.stores.closeAll()
}

// reaches reports whether record i can be had without going back: it is
// the record read last or one after it.
func (c *cursor) reaches(i int64) bool {
	next := int64(c.f.index())
	return i >= next || (c.hasLast && i == next-1)
}

// at returns record i, reading forward to it (skipping records without
// decompressing them); c must reach i.
func (c *cursor) at(codec *framing.Codec, i int64) (kafkaio.Record, error) {
	if c.hasLast && i == int64(c.f.index())-1 {
		return c.last, nil // a duplicate ref
	}
	fail := func(at int, err error) (kafkaio.Record, error) {
		if err == io.EOF {
			return kafkaio.Record{}, fmt.Errorf("%w: %s holds %d records, none at index %d", errPastEnd, c.f.url, at, i)
		}
		return kafkaio.Record{}, fmt.Errorf("archive: reading %s (record %d): %w", c.f.url, at, err)
	}
	for int64(c.f.index()) < i {
		at := c.f.index()
		if err := c.f.skip(); err != nil {
			return fail(at, err)
		}
	}
	at := c.f.index()
	r, err := c.f.record(codec)
	if err != nil {
		return fail(at, err)
	}
	c.last, c.hasLast = r, true
	return r, nil
}

// nameOf is the name of the final archive file in st that st.url gives
// url, if there is one.
func nameOf(st store, url string) (string, bool) {
	base := st.url("")
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	name, ok := strings.CutPrefix(url, base)
	// The round trip rejects what the store would read as another name
	// (".." elements, doubled slashes).
	if !ok || checkName(name) != nil || !isFinal(name) || st.url(name) != url {
		return "", false
	}
	return name, true
}
