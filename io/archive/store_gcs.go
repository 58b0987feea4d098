package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/storage"
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
}

func openGCS(ctx context.Context, root string) (*gcsStore, error) {
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
	return &gcsStore{client: client, bucket: client.Bucket(bucket), name: bucket, prefix: prefix}, nil
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
	w.ContentType = "application/avro"
	return &gcsWriter{w: w, cancel: cancel, url: s.url(name)}, nil
}

type gcsWriter struct {
	w      *storage.Writer
	cancel context.CancelFunc
	url    string
	done   bool
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
	// GCS lists in lexicographic order already; the local store sorts to match.
	return out, nil
}

func (s *gcsStore) remove(ctx context.Context, name string) error {
	err := s.bucket.Object(s.prefix + name).Delete(ctx)
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("archive: removing %s: %w", s.url(name), err)
	}
	return nil
}
