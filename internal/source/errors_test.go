package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// fakeStore is a local store whose List, Stat and Open may be replaced.
type fakeStore struct {
	storage.Store
	list func() error
	stat func() error
	open func() (io.ReadCloser, error)
}

func (s *fakeStore) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	if s.list != nil {
		return s.list()
	}
	return s.Store.List(ctx, prefix, fn)
}

func (s *fakeStore) Stat(ctx context.Context, name string) (storage.Object, error) {
	if s.stat != nil {
		return storage.Object{}, s.stat()
	}
	return s.Store.Stat(ctx, name)
}

func (s *fakeStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if s.open != nil {
		return s.open()
	}
	return s.Store.Open(ctx, name)
}

// failingReader returns some bytes, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestInputErrors: every error about an input matches ErrInput, whatever the step (resolving,
// listing, opening, reading, decompressing) and the store; errors about usage, the output or a
// cancellation do not.
func TestInputErrors(t *testing.T) {
	dir := tree(t, map[string]string{"empty/notes.txt": "x", "ok/a.json": `{}`, "ok/b.json.gz": `{}`})
	os.WriteFile(filepath.Join(dir, "bad.zip"), []byte("not a zip"), 0o644)
	os.MkdirAll(filepath.Join(dir, "gz"), 0o755)
	os.WriteFile(filepath.Join(dir, "gz", "corrupt.json.gz"), []byte("not gzip"), 0o644)
	os.WriteFile(filepath.Join(dir, "gz", "truncated.json.gz"), gz(bytes.Repeat([]byte("{}\n"), 1000))[:40], 0o644)
	local, _ := storage.NewLocal(filepath.Join(dir, "ok"))
	denied := &fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}
	noBucket := &fs.PathError{Op: "list", Path: "s3://nope/logs", Err: fs.ErrNotExist}
	reset := errors.New("connection reset by peer")
	remote := func(s storage.Store) Remote {
		return func(string) (storage.Store, error) { return s, nil }
	}
	ctx := context.Background()

	// resolve, then scan, then read every file as events and as songs: the first error counts.
	run := func(ctx context.Context, spec string, rm Remote) error {
		r, err := Resolve(ctx, spec, rm)
		if err != nil {
			return err
		}
		files, err := r.List(ctx)
		if err != nil {
			return err
		}
		for _, f := range files {
			if _, err := r.EventLines(ctx, f, func(Block) {}, func(*record.Reject) {}); err != nil {
				return err
			}
			if _, _, err := r.SongFile(ctx, f, func(*record.Reject) {}); err != nil {
				return err
			}
		}
		return nil
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	tests := []struct {
		name  string
		ctx   context.Context
		spec  string
		rm    Remote
		input bool // the error must match ErrInput; else it must not
		also  error
	}{
		{"missing folder", ctx, filepath.Join(dir, "nope"), nil, true, fs.ErrNotExist},
		{"missing folder of a glob", ctx, filepath.Join(dir, "nope/*.json"), nil, true, fs.ErrNotExist},
		{"missing file", ctx, filepath.Join(dir, "ok/nope.json"), nil, true, fs.ErrNotExist},
		{"corrupt zip", ctx, filepath.Join(dir, "bad.zip"), nil, true, nil},
		{"folder without input files", ctx, filepath.Join(dir, "empty"), nil, true, ErrNoInput},
		{"corrupt .gz", ctx, filepath.Join(dir, "gz/corrupt.json.gz"), nil, true, ErrUnreadable},
		{"truncated .gz", ctx, filepath.Join(dir, "gz/truncated.json.gz"), nil, true, ErrUnreadable},
		{"missing bucket", ctx, "s3://nope/logs", remote(&fakeStore{Store: local, list: func() error { return noBucket }}), true, fs.ErrNotExist},
		{"listing denied", ctx, "s3://b/logs", remote(&fakeStore{Store: local, list: func() error { return denied }}), true, fs.ErrPermission},
		{"listing broken", ctx, "s3://b/logs", remote(&fakeStore{Store: local, list: func() error { return reset }}), true, reset},
		{"stat of a key denied", ctx, "s3://b/logs/a.json", remote(&fakeStore{Store: local, stat: func() error { return denied }}), true, fs.ErrPermission},
		{"open denied", ctx, "s3://b/logs", remote(&fakeStore{Store: local, open: func() (io.ReadCloser, error) { return nil, denied }}), true, ErrUnreadable},
		{"read broken", ctx, "s3://b/logs", remote(&fakeStore{Store: local, open: func() (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{data: []byte("{}\n"), err: reset}), nil
		}}), true, reset},
		{"read fine", ctx, filepath.Join(dir, "ok"), nil, false, nil},
		{"a URL without a remote opener", ctx, "s3://bucket/song_data", nil, false, ErrUnsupported},
		{"a .zip URL", ctx, "s3://bucket/x.zip", remote(local), false, ErrUnsupported},
		{"a bad glob", ctx, filepath.Join(dir, "ok/[.json"), nil, false, nil},
		{"the remote opener fails", ctx, "s3://bucket/x", func(string) (storage.Store, error) { return nil, reset }, false, reset},
		{"cancelled while listing", cancelled, "s3://b/logs", remote(&fakeStore{Store: local, list: func() error { return context.Canceled }}), false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.ctx, tt.spec, tt.rm)
			if tt.input != errors.Is(err, ErrInput) || (tt.also != nil && !errors.Is(err, tt.also)) || (tt.name != "read fine" && err == nil) {
				t.Errorf("got %v; want an error that matches ErrInput: %v, and %v", err, tt.input, tt.also)
			}
		})
	}

	// Output errors are never input errors.
	if _, err := OpenOutput("gs://bucket/x", nil); err == nil || errors.Is(err, ErrInput) {
		t.Errorf("OpenOutput: got %v", err)
	}
}
