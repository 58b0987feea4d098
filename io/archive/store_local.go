package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// stagingDir holds objects being written to a local store. It lives inside
// the root so that the final link is on the same filesystem, and its name
// starts with "_" so that no survey/night glob ever matches it.
const stagingDir = "_staging"

// localStore keeps objects as files under a directory. Objects are written
// into the staging directory, synced, then linked into place: link(2) fails
// if the target exists, which makes an exclusive create atomic, and a crash
// mid-write leaves only a staging file that nothing lists.
type localStore struct {
	root string
}

func openLocal(root string) (*localStore, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &localStore{root: abs}, nil
}

func (s *localStore) path(name string) string { return filepath.Join(s.root, filepath.FromSlash(name)) }

func (s *localStore) url(name string) string { return s.path(name) }

func (s *localStore) close() error { return nil }

func (s *localStore) create(_ context.Context, name string, exclusive bool) (objectWriter, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root, stagingDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	f, err := os.CreateTemp(dir, "*.partial")
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &localWriter{f: f, final: s.path(name), exclusive: exclusive}, nil
}

type localWriter struct {
	f         *os.File
	final     string
	exclusive bool
	done      bool
}

func (w *localWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *localWriter) commit() error {
	if w.done {
		return errors.New("archive: commit after commit or abort")
	}
	w.done = true
	tmp := w.f.Name()
	defer os.Remove(tmp) // after a link, or on failure; a rename leaves nothing
	// Sync a final file before linking it: a crash must not leave a
	// visible file whose blocks never reached the disk. Temporary files
	// skip it (see store.create), which halves the fsync'd bytes.
	if w.exclusive {
		if err := w.f.Sync(); err != nil {
			w.f.Close()
			return fmt.Errorf("archive: %w", err)
		}
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	dir := filepath.Dir(w.final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if w.exclusive {
		if err := os.Link(tmp, w.final); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s", errExist, w.final)
			}
			return fmt.Errorf("archive: %w", err)
		}
		return syncDir(dir)
	}
	if err := os.Rename(tmp, w.final); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func (w *localWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("archive: syncing %s: %w", dir, err)
	}
	return nil
}

func (s *localStore) open(_ context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", errNotExist, s.path(name))
	}
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return f, nil
}

func (s *localStore) list(_ context.Context, prefix string) ([]object, error) {
	// Walk the deepest directory the prefix names, then filter by prefix.
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = s.path(prefix[:i])
	}
	var out []object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == stagingDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while listing
				return nil
			}
			return err
		}
		out = append(out, object{Name: rel, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: listing %s: %w", s.path(prefix), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *localStore) remove(_ context.Context, name string) error {
	err := os.Remove(s.path(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// checkName rejects names that would escape the root or hit the staging area.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
		return fmt.Errorf("archive: bad object name %q", name)
	}
	if name == stagingDir || strings.HasPrefix(name, stagingDir+"/") {
		return fmt.Errorf("archive: object name %q is in the staging area", name)
	}
	return nil
}
