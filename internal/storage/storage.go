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
	// Version tells one content of the object from another, as far as the store can without
	// reading it: the ETag on S3, the modification time in nanoseconds on a disk or in a zip, a
	// write counter in memory. An incremental run compares it with what it loaded before, so that
	// a file rewritten in place is not taken for the one already loaded.
	Version string
	// Skip is non-empty for an entry that exists but is not a readable object: one of the Skip*
	// reasons. List passes such entries so that nothing below a prefix goes unseen; readers
	// count them and move on, and whoever removes or tests for objects treats them as existing.
	Skip string
}

// Why List passes an entry with Object.Skip set (local folders have them; object stores do not).
const (
	SkipSymlinkToFolder = "symlink_to_folder" // not followed: links could make a loop
	SkipBrokenSymlink   = "broken_symlink"    // its target is missing, or a loop of links
	SkipNotRegular      = "not_regular_file"  // a fifo, socket or device
)

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

	// Features tells what the store can do beyond the methods above. Wrappers of a store (a
	// fault injector, a counter) forward it, wrapping the functions they want to see, so that
	// wrapping a store never hides what it can do.
	Features() Features
}

// Features are a store's optional capabilities, as data (rclone's Features, restic's
// Properties): a nil function or a zero field means the store lacks it, and callers fall back.
type Features struct {
	// Move renames from (an object or a prefix) to to, which must not exist, atomically: on a
	// local disk a move of a folder is one rename, durable once Sync returns. Nil if the store
	// cannot; storage.Move then copies and removes.
	Move func(ctx context.Context, from, to string) error

	// Sync makes everything written so far survive a crash. Writers' Close makes an object
	// visible; where that is not yet durable, commit calls Sync once before its marker, which is
	// cheaper than a sync per object. Nil if writes are durable at Close.
	Sync func(ctx context.Context) error

	// CreateDirect is Create without the temporary name: the object is written under its name
	// from the start, so while it is written a reader sees it incomplete, and a process that dies
	// leaves part of it. It is for a folder that no reader looks at until every object in it is
	// complete: a run's staging, which the commit checks before it publishes it. On a local disk
	// it saves a rename (and the stat before it) per object, a few percent of a run that writes
	// the songs table's thousands of files. Nil where Create is as cheap (an object store's PUT
	// appears whole). Wrappers that watch Create must wrap it, or set it to nil.
	CreateDirect func(ctx context.Context, name string) (Writer, error)

	// CopyObject copies one object without moving its bytes through this machine (S3's
	// server-side copy). Nil if the store has none; storage.Copy then reads and writes.
	CopyObject func(ctx context.Context, from, to string) error

	// Concurrency is how many requests are best kept in flight: remote stores, where each
	// request waits on the network, want many. 0 means no preference.
	Concurrency int

	// Conditional writes one object only if it is unchanged since it was read (compare and
	// swap); nil if the store cannot.
	Conditional Conditional

	// ContentVersion tells that an Object's Version is a hash of its bytes (S3's ETag: the MD5
	// of an object written in one part, a hash of the parts' MD5s otherwise, or, under SSE-KMS,
	// a value unique to the object): two objects with the same Version and Size hold the same
	// bytes, so one need not be copied over the other.
	ContentVersion bool
}

// Conditional writes one object only if it is absent or unchanged since it was read.
//
// Of writers racing with the same expectation exactly one succeeds, also across processes (and,
// on S3, across machines). Plain Create, RemoveAll and Move do not take part: an object written
// conditionally should only be written conditionally.
//
// A version is opaque and only compared for equality. On S3 it is the ETag, a hash of the
// content: a writer that may write the same bytes twice should put something unique in them
// (a run id, a time) so that a replace cannot be mistaken for no change. A request whose
// response was lost may have succeeded even though it reports ErrPrecondition when retried:
// after ErrPrecondition, read the object again to see who won.
//
// On a local folder each object written conditionally gets a lock file beside it, its name
// followed by ".flock", which stays and which List shows: give such objects hidden names
// ("_lock") so that readers skip both.
type Conditional interface {
	// ReadVersioned returns an object's content and an opaque version (an ETag). Missing: an error wrapping fs.ErrNotExist.
	ReadVersioned(ctx context.Context, name string) (data []byte, version string, err error)
	// CreateIfAbsent writes name only if no object has that name, else an error wrapping ErrPrecondition.
	CreateIfAbsent(ctx context.Context, name string, data []byte) (version string, err error)
	// ReplaceIfMatch replaces name only if its current version is version, else (also when it is missing) an error wrapping ErrPrecondition.
	ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (newVersion string, err error)
}

// ErrPrecondition is the cause of a conditional write refused because the object is not as the
// writer expected: it exists (CreateIfAbsent), or changed or vanished (ReplaceIfMatch; a
// vanished object's error also wraps fs.ErrNotExist).
var ErrPrecondition = errors.New("precondition failed")

// Writer writes one object; see Store.Create.
type Writer interface {
	io.Writer
	// Close makes the object visible, durably.
	Close() error
	// Abort discards what was written. It is safe to call after Close, and then does nothing.
	Abort() error
}

// Concurrency returns how many objects of s are best read at once, given the CPU-bound default.
func Concurrency(s Store, def int) int {
	if c := s.Features().Concurrency; c > def {
		return c
	}
	return def
}

// ErrReadOnly is returned by writes to a store that cannot be written.
var ErrReadOnly = errors.New("storage is read-only")

// Move moves an object or prefix, with the store's own Move when it has one, else by copying every
// object and then removing the source. The fallback is not atomic, but it is idempotent: a move
// interrupted part-way can be run again.
func Move(ctx context.Context, s Store, from, to string) error {
	if move := s.Features().Move; move != nil {
		return move(ctx, from, to)
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
	return CopyPrefixChanged(ctx, s, from, to, nil)
}

// CopyPrefixChanged is CopyPrefix that leaves alone the targets that already hold the source's
// bytes: those in have (the objects below to, by name) with the source's Size and Version, on a
// store whose versions hash the content (Features.ContentVersion). It returns every target
// name, copied or not.
func CopyPrefixChanged(ctx context.Context, s Store, from, to string, have map[string]Object) ([]string, error) {
	var objs []Object
	if err := s.List(ctx, from, func(o Object) error { objs = append(objs, o); return nil }); err != nil {
		return nil, err
	}
	names := make([]string, len(objs))
	f := s.Features()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(f.Concurrency, 4))
	for i, o := range objs {
		dst := to + o.Name[len(from):]
		names[i] = dst
		if h, ok := have[dst]; ok && f.ContentVersion && o.Version != "" && h.Version == o.Version && h.Size == o.Size {
			continue
		}
		g.Go(func() error {
			if f.CopyObject != nil {
				return f.CopyObject(gctx, o.Name, dst)
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
