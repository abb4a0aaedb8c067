// Package storage is the one interface the pipeline has to the places it reads and writes: a
// local folder, a read-only file system (a .zip, the built-in sample) and, later, S3. The pipeline
// never knows which it has.
//
// A Store is a flat namespace of objects named by slash-separated paths relative to its root, as
// object stores are; folders exist only as prefixes. The package knows nothing of tables, JSON or
// Parquet.
package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"golang.org/x/sync/errgroup"
)

// Object describes a stored object.
type Object struct {
	Name string // slash-separated, relative to the store's root
	Size int64
}

// Store is a place objects are read from and written to.
//
// Every method may be called from many goroutines at once. Errors for a missing object wrap
// fs.ErrNotExist; every error names the object it concerns.
type Store interface {
	// List calls fn for every object below prefix (prefix itself if it is an object, else every
	// object whose name starts with prefix + "/"; "" lists everything). The order is unspecified:
	// callers that need an order sort. An error from fn stops the listing and is returned. A
	// prefix with no objects is not an error.
	List(ctx context.Context, prefix string, fn func(Object) error) error

	// Stat describes one object.
	Stat(ctx context.Context, name string) (Object, error)

	// Open opens an object for reading.
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// Create starts writing an object. Nothing is visible under name until Close returns nil:
	// a writer that is aborted, or a process that dies before Close, leaves no object and leaves
	// a previous object of that name as it was.
	Create(ctx context.Context, name string) (Writer, error)

	// RemoveAll removes prefix and every object below it. Removing what does not exist is not
	// an error.
	RemoveAll(ctx context.Context, prefix string) error

	// Location returns name as a user should read it in a message: an absolute path or a URL.
	Location(name string) string
}

// Writer writes one object; see Store.Create.
type Writer interface {
	io.Writer
	// Close makes the object visible, durably.
	Close() error
	// Abort discards what was written. It is safe to call after Close, and then does nothing.
	Abort() error
}

// Mover is implemented by stores that can move an object or a whole prefix without copying it.
// On a local disk a move of a folder is one atomic rename.
type Mover interface {
	// Move renames from (an object or a prefix) to to. To must not exist.
	Move(ctx context.Context, from, to string) error
}

// Syncer is implemented by stores whose writes are durable only once synced. Writers' Close makes
// an object visible; Sync makes everything written so far survive a crash. Commit calls it once
// before the commit marker, which is cheaper than a sync per object.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Copier is implemented by stores that copy an object without moving its bytes through this
// machine (S3's server-side copy).
type Copier interface {
	CopyObject(ctx context.Context, from, to string) error
}

// Parallel is implemented by stores that are best used with many requests in flight: remote
// stores, where each request waits on the network.
type Parallel interface {
	Concurrency() int
}

// Concurrency returns how many objects of s are best read at once, given the CPU-bound default.
func Concurrency(s Store, def int) int {
	if p, ok := s.(Parallel); ok && p.Concurrency() > def {
		return p.Concurrency()
	}
	return def
}

// ErrReadOnly is returned by writes to a store that cannot be written.
var ErrReadOnly = errors.New("storage is read-only")

// Move moves an object or prefix, with the store's own Move when it has one, else by copying every
// object and then removing the source. The fallback is not atomic, but it is idempotent: a move
// interrupted part-way can be run again.
func Move(ctx context.Context, s Store, from, to string) error {
	if m, ok := s.(Mover); ok {
		return m.Move(ctx, from, to)
	}
	if _, err := CopyPrefix(ctx, s, from, to); err != nil {
		return err
	}
	// The source goes only once every copy is done, so a move interrupted anywhere can be run
	// again and a source that is gone was moved in full.
	return s.RemoveAll(ctx, from)
}

// CopyPrefix copies every object below from to the same name below to, several at a time,
// server-side where the store can, and returns the names it wrote.
func CopyPrefix(ctx context.Context, s Store, from, to string) ([]string, error) {
	var objs []Object
	if err := s.List(ctx, from, func(o Object) error { objs = append(objs, o); return nil }); err != nil {
		return nil, err
	}
	names := make([]string, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency(s, 4))
	for i, o := range objs {
		dst := to + o.Name[len(from):]
		names[i] = dst
		g.Go(func() error {
			if c, ok := s.(Copier); ok {
				return c.CopyObject(gctx, o.Name, dst)
			}
			return Copy(gctx, s, o.Name, s, dst)
		})
	}
	return names, g.Wait()
}

// Copy copies one object, possibly between stores.
func Copy(ctx context.Context, src Store, from string, dst Store, to string) (err error) {
	r, err := src.Open(ctx, from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := dst.Create(ctx, to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// Exists reports whether name is an object or a non-empty prefix.
func Exists(ctx context.Context, s Store, name string) (bool, error) {
	found := errors.New("found")
	err := s.List(ctx, name, func(Object) error { return found })
	if errors.Is(err, found) {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// WriteFile writes a whole object.
func WriteFile(ctx context.Context, s Store, name string, data []byte) error {
	w, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// ReadFile reads a whole object.
func ReadFile(ctx context.Context, s Store, name string) ([]byte, error) {
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
