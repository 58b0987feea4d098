package archive

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Direct archives records without a runner: the same temporary files, the
// same commit protocol and the same durability steps as Write, driven by
// plain calls. It exists so alertbeam bench can measure what the archive
// costs by itself (its full-floor phase); pipelines use Write.
//
// Stage may be called from several goroutines, one Stager each; Commit
// must not run while any Stage does.
type Direct struct {
	cfg Config
	c   *committer

	mu     sync.Mutex
	staged []tempFile
}

// Stager writes one goroutine's records into temporary files.
type Stager struct {
	d  *Direct
	fn *writeFn
}

// NewDirect opens the store of cfg (Survey and Root required).
func NewDirect(ctx context.Context, cfg Config) (*Direct, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := newCommitter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Direct{cfg: cfg, c: c}, nil
}

// Stager returns a writer of temporary files for one goroutine.
func (d *Direct) Stager(ctx context.Context) (*Stager, error) {
	fn := &writeFn{Cfg: d.cfg}
	if err := fn.Setup(ctx); err != nil {
		return nil, err
	}
	return &Stager{d: d, fn: fn}, nil
}

// Stage writes recs (one batch: a bundle, in the pipeline) into
// temporary files, made durable before it returns. Records that are not
// alerts come back as dead letters.
func (st *Stager) Stage(ctx context.Context, recs []kafkaio.Record) (dead []kafkaio.Message, err error) {
	st.fn.StartBundle(ctx, nil, nil)
	for _, r := range recs {
		err := st.fn.ProcessElement(ctx, window.GlobalWindow{}, mtime.FromTime(r.Timestamp), r, nil,
			func(m kafkaio.Message) { dead = append(dead, m) })
		if err != nil {
			st.fn.abortAll()
			return dead, err
		}
	}
	var files []tempFile
	err = st.fn.FinishBundle(ctx, func(_ beam.EventTime, t tempFile) { files = append(files, t) }, nil)
	st.d.mu.Lock()
	st.d.staged = append(st.d.staged, files...)
	st.d.mu.Unlock()
	return dead, err
}

// Close releases the stager's store.
func (st *Stager) Close() { st.fn.Teardown() }

// Commit moves every staged record into final files, exactly once per
// alert id, as the pipeline's commit step does at the end of a window, and
// returns how many records it wrote and found already archived.
func (d *Direct) Commit(ctx context.Context) (written, skipped int, err error) {
	d.mu.Lock()
	staged := d.staged
	d.staged = nil
	d.mu.Unlock()
	groups := map[string][]tempFile{}
	var keys []string
	for _, t := range staged {
		k := t.groupKey()
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], t)
	}
	for _, k := range keys {
		res, err := d.c.commit(ctx, groups[k])
		if err != nil {
			return written, skipped, fmt.Errorf("archive: committing %s: %w", k, err)
		}
		written, skipped = written+res.Written, skipped+res.Skipped
		for _, f := range groups[k] {
			_ = d.c.st.remove(ctx, f.Name)
		}
	}
	return written, skipped, nil
}

// Close releases the store.
func (d *Direct) Close() error { return d.c.st.close() }
