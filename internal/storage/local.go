package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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

var _ Store = (*Local)(nil)

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

// List implements Store. A symlink to a file is listed as that file, under the link's name. A
// symlink to a folder is not followed, so that links cannot make a loop: it is passed with Skip
// set, as are broken symlinks and entries that are not regular files (fifos, sockets, devices).
// The store's root itself is followed when it is a symlink: the user named it.
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	p, err := l.path(prefix)
	if err != nil {
		return err
	}
	stat := os.Lstat
	if prefix == "" {
		stat = os.Stat
	}
	info, err := stat(p)
	if err != nil {
		// A prefix that is not there, or that runs through a file, lists nothing.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	if !info.IsDir() {
		o, err := entry(p, info)
		if err != nil {
			return err
		}
		o.Name = prefix
		return fn(o)
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

// readDir returns the entries of dir that are not folders (see List) and hands its subfolders to
// walk.
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
		o, err := entry(full, info)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(l.root, full)
		if err != nil {
			return nil, err
		}
		o.Name = filepath.ToSlash(rel)
		objs = append(objs, o)
	}
	return objs, nil
}

// entry describes the folder entry at path p, which is not a folder, from its Lstat info: a
// regular file, or the file a symlink leads to, is an object of its size; anything else is an
// Object with Skip set. The caller names it.
func entry(p string, info fs.FileInfo) (Object, error) {
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR):
			return Object{Skip: SkipBrokenSymlink}, nil
		case err != nil:
			return Object{}, err
		case target.IsDir():
			return Object{Skip: SkipSymlinkToFolder}, nil
		}
		info = target
	}
	if !info.Mode().IsRegular() {
		return Object{Skip: SkipNotRegular}, nil
	}
	return Object{Size: info.Size(), Version: modVersion(info)}, nil
}

// modVersion is Object.Version for a file system: its modification time, to the nanosecond the
// file system keeps.
func modVersion(info fs.FileInfo) string { return strconv.FormatInt(info.ModTime().UnixNano(), 10) }

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
	return Object{Name: name, Size: info.Size(), Version: modVersion(info)}, nil
}

// Open implements Store.
func (l *Local) Open(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	return openFile(p, os.O_RDONLY, 0)
}

// Create implements Store.
func (l *Local) Create(_ context.Context, name string) (Writer, error) {
	return l.create(name, false)
}

// createDirect is Features().CreateDirect: the file is created under its own name. One that
// exists is replaced (truncated): a staging's names are the run's own.
func (l *Local) createDirect(_ context.Context, name string) (Writer, error) {
	return l.create(name, true)
}

// create opens the file that a writer of name writes: a temporary one beside it, or, direct,
// the file itself.
func (l *Local) create(name string, direct bool) (Writer, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, err
	}
	if err := mkdir(filepath.Dir(p)); err != nil {
		return nil, err
	}
	var f *os.File
	if direct {
		f, err = openFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	} else {
		f, err = createTemp(p)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "write", Path: p, Err: cause(err)}
	}
	return &localWriter{f: f, dst: p, direct: direct}, nil
}

// mkdir makes dir and its parents. Writers mostly create a file in a new folder whose parent
// exists (a partition) or in an existing folder: one mkdir call answers both, where MkdirAll
// would stat the folder and its parent first. Folders are made 0777 and files 0666, less the
// umask, as os.Create and os.MkdirAll do: the umask (or a default ACL) decides who may read the
// lake, and with the usual 022 any user can.
func mkdir(dir string) error {
	err := os.Mkdir(dir, 0o777)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return os.MkdirAll(dir, 0o777)
}

type localWriter struct {
	f      *os.File
	dst    string
	direct bool // f is dst itself, not a temporary file to rename (createDirect)
	done   bool
}

// Write writes to the temporary file; an error names the object, not the temporary file
// ("write /out/t/part-00000.parquet: no space left on device").
func (w *localWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &fs.PathError{Op: "write", Path: w.dst, Err: cause(err)}
	}
	return n, err
}

func (w *localWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	// No fsync per file: a run writes thousands of them and each would wait for the disk. The
	// commit syncs the whole file system once, before its marker makes the files count (Sync).
	err := w.f.Close()
	if err == nil && !w.direct {
		err = os.Rename(w.f.Name(), w.dst)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return &fs.PathError{Op: "write", Path: w.dst, Err: cause(err)}
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

// Move is Features().Move: one rename, which is atomic for a file or a whole folder, and
// durable after Sync.
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
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return err
	}
	// Not synced here: a commit makes a publish's dozen renames durable with one Sync after the
	// last, so nothing slow happens between them (that is the window in which a reader can see
	// some tables new and some old).
	return os.Rename(src, dst)
}

// Sync is Features().Sync: it flushes everything written to the file system that holds
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
