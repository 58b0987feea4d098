package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// gcsChunk is the upload chunk of an object writer. The client buffers one
// chunk per open writer and retries a failed chunk from it; a bundle may
// hold a dozen temporary files open, so the default 16 MiB is too much.
const gcsChunk = 4 << 20

// gcsStore keeps objects in a bucket under a prefix. An exclusive create is
// an upload with the DoesNotExist precondition (ifGenerationMatch=0): GCS
// makes an upload visible only when it completes, and evaluates the
// precondition then, so a failed or cancelled upload leaves nothing and of
// two uploads to one name only one succeeds. Compose and copy are never
// used: the emulator ignores preconditions on them, so a test could not
// check a guarantee that rested on them.
type gcsStore struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string // bucket name
	prefix string // "" or ending in "/"
	health *outage
}

func openGCS(ctx context.Context, root string, retry time.Duration) (*gcsStore, error) {
	bucket, prefix, err := parseGCS(root)
	if err != nil {
		return nil, err
	}
	// JSON reads: over the default XML path the GCS emulator cannot read
	// nested object names back; real GCS serves both.
	client, err := storage.NewClient(ctx, storage.WithJSONReads())
	if err != nil {
		return nil, fmt.Errorf("archive: GCS client: %w", err)
	}
	s := &gcsStore{client: client, name: bucket, prefix: prefix, health: &outage{what: "gs://" + bucket, timeout: retry}}
	// Every request is retried, uploads of temporary files (which have no
	// precondition, so the client would not retry them by default) too:
	// rewriting a temporary object is harmless, and a final file's
	// precondition turns a retried upload that had in fact succeeded into
	// errExist, which the commit resolves by listing again. The bundle
	// waits meanwhile: backpressure, not a failed job. (Handles copy the
	// client's retry settings when made, so this comes before Bucket.)
	client.SetRetry(
		storage.WithPolicy(storage.RetryAlways),
		storage.WithBackoff(gax.Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2}),
		storage.WithErrorFuncWithContext(func(err error, _ *storage.RetryContext) bool {
			return storage.ShouldRetry(err) && s.health.failed(err)
		}))
	s.bucket = client.Bucket(bucket)
	return s, nil
}

// parseGCS splits gs://bucket/prefix.
func parseGCS(root string) (bucket, prefix string, err error) {
	rest := strings.TrimPrefix(root, "gs://")
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("archive: %q names no bucket", root)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return bucket, prefix, nil
}

func (s *gcsStore) url(name string) string { return "gs://" + s.name + "/" + s.prefix + name }

func (s *gcsStore) close() error { return s.client.Close() }

func (s *gcsStore) create(ctx context.Context, name string, exclusive bool) (objectWriter, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	obj := s.bucket.Object(s.prefix + name)
	if exclusive {
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	}
	// Cancelling the upload's context is how an upload is abandoned
	// without creating the object.
	cctx, cancel := context.WithCancel(ctx)
	w := obj.NewWriter(cctx)
	w.ChunkSize = gcsChunk
	// The client gives up on a chunk after 32 s by default; the outage
	// tracker decides instead.
	w.ChunkRetryDeadline = s.health.timeout
	w.ContentType = "application/avro"
	return &gcsWriter{w: w, cancel: cancel, url: s.url(name), health: s.health}, nil
}

type gcsWriter struct {
	w      *storage.Writer
	cancel context.CancelFunc
	url    string
	done   bool
	health *outage
}

func (w *gcsWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *gcsWriter) commit() error {
	if w.done {
		return errors.New("archive: commit after commit or abort")
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
			return fmt.Errorf("%w: %s", errExist, w.url)
		}
		return fmt.Errorf("archive: writing %s: %w", w.url, err)
	}
	w.health.ok()
	return nil
}

func (w *gcsWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	_ = w.w.Close() // fails with context.Canceled; nothing was created
}

func (s *gcsStore) open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := s.bucket.Object(s.prefix + name).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, fmt.Errorf("%w: %s", errNotExist, s.url(name))
	}
	if err != nil {
		return nil, fmt.Errorf("archive: reading %s: %w", s.url(name), err)
	}
	s.health.ok()
	return r, nil
}

func (s *gcsStore) list(ctx context.Context, prefix string) ([]object, error) {
	q := &storage.Query{Prefix: s.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	it := s.bucket.Objects(ctx, q)
	var out []object
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("archive: listing %s: %w", s.url(prefix), err)
		}
		out = append(out, object{Name: strings.TrimPrefix(a.Name, s.prefix), Size: a.Size})
	}
	s.health.ok()
	// GCS lists in lexicographic order already; the local store sorts to match.
	return out, nil
}

func (s *gcsStore) remove(ctx context.Context, name string) error {
	err := s.bucket.Object(s.prefix + name).Delete(ctx)
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("archive: removing %s: %w", s.url(name), err)
	}
	s.health.ok()
	return nil
}

// outage follows a store's failures: it allows retries until the store has
// failed, with no success in between, for longer than timeout, and logs
// once when an outage starts and once when it ends.
type outage struct {
	what    string
	timeout time.Duration
	mu      sync.Mutex
	since   time.Time // zero while the store answers
}

// failed records a retryable failure and reports whether to retry it.
func (o *outage) failed(err error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = time.Now()
		log.Warnf(context.Background(), "archive: %s is failing (%v); retrying with backoff for up to %s, acknowledging nothing meanwhile",
			o.what, err, o.timeout)
		return true
	}
	return time.Since(o.since) < o.timeout
}

// ok records a success, which ends an outage.
func (o *outage) ok() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.since.IsZero() {
		log.Warnf(context.Background(), "archive: %s answers again after %s", o.what, time.Since(o.since).Round(time.Second))
		o.since = time.Time{}
	}
}
