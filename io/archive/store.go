package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// store is where archive files live: a local directory or a GCS bucket
// prefix. Names are relative to the store's root and use "/".
//
// Beam's filesystem API (beam/io/filesystem) was the first choice, and falls
// short on the two things exactly-once rests on: it has no create-if-absent
// (its OpenWrite overwrites; its GCS Rename is an unconditional copy and a
// delete), and its GCS client cannot be given storage.WithJSONReads, without
// which nested object names do not read back from the GCS emulator. So the
// archive talks to the local filesystem and to cloud.google.com/go/storage
// directly, through this small interface; both implementations pass the
// same conformance suite (store_test.go).
type store interface {
	// create starts writing an object that becomes visible, whole, only on
	// commit. With exclusive set, commit fails with errExist if name
	// already exists, and of several concurrent exclusive creates of one
	// name exactly one commits: the archive's commit protocol rests on it.
	// Exclusive objects (final files) are durable once committed; others
	// (temporary files) need only be readable by the running job, since a
	// crash that loses them also stops the job that would commit them, and
	// its restart reads their records from Kafka again.
	create(ctx context.Context, name string, exclusive bool) (objectWriter, error)
	// open reads an object; errNotExist if there is none.
	open(ctx context.Context, name string) (io.ReadCloser, error)
	// list returns the objects whose names start with prefix, sorted by
	// name, never including objects still being written.
	list(ctx context.Context, prefix string) ([]object, error)
	// remove deletes an object; removing a missing object is no error.
	remove(ctx context.Context, name string) error
	// url is the full location of name, for messages and Read's output.
	url(name string) string
	close() error
}

// objectWriter is an object being written.
type objectWriter interface {
	io.Writer
	// commit makes the object visible (atomically, whole) and releases the
	// writer.
	commit() error
	// abort discards the object; nothing becomes visible. Safe to call
	// after commit, when it does nothing.
	abort()
}

type object struct {
	Name string
	Size int64
}

var (
	errExist    = errors.New("archive: object already exists")
	errNotExist = errors.New("archive: object does not exist")
)

// openStore opens the store for root, a local directory or gs://bucket/prefix.
// retry bounds how long a GCS request is retried (Config.RetryTimeout).
func openStore(ctx context.Context, root string, retry time.Duration) (store, error) {
	if err := checkRoot(root); err != nil {
		return nil, err
	}
	if strings.HasPrefix(root, "gs://") {
		return openGCS(ctx, root, retry)
	}
	return openLocal(root)
}

// checkRoot reports a root no store can open, without opening it.
func checkRoot(root string) error {
	switch {
	case root == "":
		return errors.New("archive: empty root")
	case strings.HasPrefix(root, "gs://"):
		_, _, err := parseGCS(root)
		return err
	case strings.Contains(root, "://"):
		return fmt.Errorf("archive: unsupported root %q (want a local path or gs://bucket/prefix)", root)
	}
	return nil
}

// joinRoot joins a store root and a relative name the way the store's own
// url does, for roots given as strings.
func joinRoot(root, name string) string {
	if name == "" {
		return root
	}
	return strings.TrimSuffix(root, "/") + "/" + name
}
