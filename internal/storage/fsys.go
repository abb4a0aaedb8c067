package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
)

// FS is a read-only Store over an fs.FS: a .zip archive (archive/zip's Reader is an fs.FS) or
// the built-in sample embedded in the binary.
type FS struct {
	fsys fs.FS
	name string // how to show the root to a user, e.g. "song-data.zip"
}

var _ Store = (*FS)(nil)

// NewFS returns a read-only Store over fsys; name is shown in messages in front of object names.
func NewFS(fsys fs.FS, name string) *FS { return &FS{fsys: fsys, name: name} }

// Location implements Store.
func (f *FS) Location(name string) string {
	if name == "" {
		return f.name
	}
	return f.name + "/" + name
}

func (f *FS) fsName(name string) string {
	if name == "" {
		return "."
	}
	return name
}

// List implements Store.
func (f *FS) List(ctx context.Context, prefix string, fn func(Object) error) error {
	root := f.fsName(prefix)
	if !fs.ValidPath(root) {
		return &fs.PathError{Op: "list", Path: f.Location(prefix), Err: fs.ErrInvalid}
	}
	err := fs.WalkDir(f.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			// A zip can hold symlinks and other special entries: they are not read, but
			// counted, as in a folder.
			return fn(Object{Name: path.Clean(p), Skip: SkipNotRegular})
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(Object{Name: path.Clean(p), Size: info.Size(), Version: modVersion(info)})
	})
	return err
}

// Stat implements Store.
func (f *FS) Stat(_ context.Context, name string) (Object, error) {
	info, err := fs.Stat(f.fsys, f.fsName(name))
	if err != nil {
		return Object{}, err
	}
	if info.IsDir() {
		return Object{}, &fs.PathError{Op: "stat", Path: f.Location(name), Err: fs.ErrNotExist}
	}
	return Object{Name: name, Size: info.Size(), Version: modVersion(info)}, nil
}

// Open implements Store.
func (f *FS) Open(_ context.Context, name string) (io.ReadCloser, error) {
	return f.fsys.Open(f.fsName(name))
}

// Create implements Store: an FS cannot be written.
func (f *FS) Create(context.Context, string) (Writer, error) { return nil, ErrReadOnly }

// RemoveAll implements Store: an FS cannot be written.
func (f *FS) RemoveAll(context.Context, string) error { return ErrReadOnly }

// Features implements Store: an FS can do nothing more.
func (f *FS) Features() Features { return Features{} }
