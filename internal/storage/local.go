package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"
)

// Local is a Store over a folder of the local file system. Writes go to a temporary file beside
// the target that is renamed into place on Close, so a crash never leaves half an object under
// its real name (files are not synced one by one: Sync syncs the file system once, before a
// commit marker makes them count).
type Local struct {
	root string // absolute
}

var (
	_ Store  = (*Local)(nil)
	_ Mover  = (*Local)(nil)
	_ Syncer = (*Local)(nil)
)

// NewLocal returns a Store rooted at dir, which need not exist yet (it is created on first write).
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", dir, err)
	}
	return &Local{root: abs}, nil
}

// Root returns the absolute folder of the store.
func (l *Local) Root() string { return l.root }

// path maps an object name to a file path, refusing names that would escape the root.
func (l *Local) path(name string) (string, error) {
	if name == "" {
		return l.root, nil
	}
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: fs.ErrInvalid}
	}
	return filepath.Join(l.root, filepath.FromSlash(name)), nil
}

// Location implements Store.
func (l *Local) Location(name string) string {
	p, err := l.path(name)
	if err != nil {
		return name
	}
	return p
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p, err := l.path(prefix)
	if err != nil {
		return err
	}
	info, err := os.Lstat(p)
	if err != nil {
		// A prefix that is not there, or that runs through a file, lists nothing.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return nil
		}
		return fn(Object{Name: prefix, Size: info.Size()})
	}
	// Folders are read in parallel: on a cold cache each folder, and each file's size, is a wait
	// for the disk, and a song catalog has thousands of folders. fn is called by one goroutine at
	// a time.
	var mu sync.Mutex
	sem := make(chan struct{}, listParallelism)
	g, gctx := errgroup.WithContext(ctx)
	var walk func(dir string)
	walk = func(dir string) {
		g.Go(func() error {
			sem <- struct{}{}
			objs, err := l.readDir(gctx, dir, walk)
			<-sem
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, o := range objs {
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := fn(o); err != nil {
					return err
				}
			}
			return nil
		})
	}
	walk(p)
	return g.Wait()
}

// listParallelism is how many folders List reads at once.
const listParallelism = 8

// readDir returns the regular files of dir and hands its subfolders to walk.
func (l *Local) readDir(ctx context.Context, dir string, walk func(string)) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var objs []Object
	for _, e := range entries {
		full := filepath.Join(dir, e.Name())
		if e.IsDir() {
			walk(full)
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		rel, err := filepath.Rel(l.root, full)
		if err != nil {
			return nil, err
		}
		objs = append(objs, Object{Name: filepath.ToSlash(rel), Size: info.Size()})
	}
	return objs, nil
}

// Stat implements Store.
func (l *Local) Stat(_ context.Context, name string) (Object, error) {
	p, err := l.path(name)
	if err != nil {
		return Object{}, err
	}
	info, err := os.Stat(p)
	if err != nil {
		return Object{}, err
	}
	if info.IsDir() {
		return Object{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return Object{Name: name, Size: info.Size()}, nil
}

// Open implements Store.
func (l *Local) Open(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Create implements Store.
func (l *Local) Create(_ context.Context, name string) (Writer, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	if err := mkdir(filepath.Dir(p)); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &localWriter{f: f, dst: p}, nil
}

// mkdir makes dir and its parents. Writers mostly create a file in a new folder whose parent
// exists (a partition) or in an existing folder: one mkdir call answers both, where MkdirAll
// would stat the folder and its parent first.
func mkdir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}

type localWriter struct {
	f    *os.File
	dst  string
	done bool
}

func (w *localWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *localWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	// No fsync per file: a run writes thousands of them and each would wait for the disk. The
	// commit syncs the whole file system once, before its marker makes the files count (Sync).
	err := w.f.Close()
	if err == nil {
		err = os.Rename(w.f.Name(), w.dst)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("write %s: %w", w.dst, err)
	}
	return nil
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// RemoveAll implements Store.
func (l *Local) RemoveAll(_ context.Context, prefix string) error {
	p, err := l.path(prefix)
	if err != nil {
		return err
	}
	if p == l.root {
		return &fs.PathError{Op: "remove", Path: p, Err: fs.ErrPermission}
	}
	return os.RemoveAll(p)
}

// Move implements Mover with one rename, which is atomic for a file or a whole folder.
func (l *Local) Move(_ context.Context, from, to string) error {
	src, err := l.path(from)
	if err != nil {
		return err
	}
	dst, err := l.path(to)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		return &fs.PathError{Op: "move", Path: dst, Err: fs.ErrExist}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// Sync implements storage.Syncer: it flushes everything written to the file system that holds
// the store to disk, with one syncfs(2) where the system has it.
func (l *Local) Sync(_ context.Context) error {
	d, err := os.Open(l.root)
	if err != nil {
		return err
	}
	defer d.Close()
	return syncFS(d)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a folder; the rename itself has happened.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
