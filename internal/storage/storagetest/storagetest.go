// Package storagetest is the conformance suite every writable storage.Store passes: the contract
// in storage.Store's comments, checked the same way for the local disk and S3.
package storagetest

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/storage"
)

// Run checks a writable store. newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	ctx := context.Background()
	names := func(t *testing.T, st storage.Store, prefix string) []string {
		t.Helper()
		var out []string
		if err := st.List(ctx, prefix, func(o storage.Object) error { out = append(out, o.Name); return nil }); err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		slices.Sort(out)
		return out
	}
	put := func(t *testing.T, st storage.Store, name, content string) {
		t.Helper()
		if err := storage.WriteFile(ctx, st, name, []byte(content)); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}

	t.Run("written object reads back", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "a/b/c.txt", "hello")
		got, err := storage.ReadFile(ctx, st, "a/b/c.txt")
		if err != nil || string(got) != "hello" {
			t.Fatalf("got %q, %v; want hello", got, err)
		}
		o, err := st.Stat(ctx, "a/b/c.txt")
		if err != nil || o.Size != 5 || o.Name != "a/b/c.txt" {
			t.Errorf("stat: got %+v, %v", o, err)
		}
	})
	t.Run("version tells a rewritten object from the one listed before", func(t *testing.T) {
		st := newStore(t)
		version := func() string {
			t.Helper()
			var listed string
			if err := st.List(ctx, "v", func(o storage.Object) error { listed = o.Version; return nil }); err != nil {
				t.Fatal(err)
			}
			o, err := st.Stat(ctx, "v/f")
			if err != nil {
				t.Fatal(err)
			}
			if listed == "" || listed != o.Version {
				t.Fatalf("list gives version %q, stat %q: want the same, not empty", listed, o.Version)
			}
			return listed
		}
		put(t, st, "v/f", "same size 1")
		first := version()
		if again := version(); again != first {
			t.Errorf("version changed without a write: %q then %q", first, again)
		}
		// A disk's modification times advance by the kernel's clock tick (a few milliseconds).
		time.Sleep(20 * time.Millisecond)
		put(t, st, "v/f", "same size 2")
		if second := version(); second == first {
			t.Errorf("an object rewritten with the same size keeps its version %q", first)
		}
	})
	t.Run("object is invisible until Close and Abort leaves the old one", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "x", "old")
		w, err := st.Create(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new"))
		if got, _ := storage.ReadFile(ctx, st, "x"); string(got) != "old" {
			t.Errorf("before Close: got %q, want old", got)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if got, _ := storage.ReadFile(ctx, st, "x"); string(got) != "old" {
			t.Errorf("after Abort: got %q, want old", got)
		}
		if got := names(t, st, ""); !slices.Equal(got, []string{"x"}) {
			t.Errorf("after Abort: got objects %v, want [x]", got)
		}
	})
	t.Run("direct create writes under the name, replaces, and aborts to nothing", func(t *testing.T) {
		st := newStore(t)
		create := st.Features().CreateDirect
		if create == nil {
			t.Skip("the store has no CreateDirect")
		}
		put(t, st, "d/x", "old")
		for _, name := range []string{"d/x", "d/new/y"} {
			w, err := create(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("new")); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := storage.ReadFile(ctx, st, name); err != nil || string(got) != "new" {
				t.Errorf("%s: got %q, %v; want new", name, got, err)
			}
		}
		w, err := create(ctx, "d/z")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("part"))
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if got := names(t, st, "d"); !slices.Equal(got, []string{"d/new/y", "d/x"}) {
			t.Errorf("after Abort: got objects %v, want [d/new/y d/x]: no temporary file, nothing aborted", got)
		}
	})
	t.Run("missing object is fs.ErrNotExist", func(t *testing.T) {
		st := newStore(t)
		if _, err := st.Open(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open: got %v", err)
		}
		if _, err := st.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat: got %v", err)
		}
	})
	t.Run("list takes whole path segments", func(t *testing.T) {
		st := newStore(t)
		for _, n := range []string{"t/a/1", "t/a/2", "t/ab/3", "t/b", "u"} {
			put(t, st, n, n)
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"t/a", []string{"t/a/1", "t/a/2"}},
			{"t", []string{"t/a/1", "t/a/2", "t/ab/3", "t/b"}},
			{"t/b", []string{"t/b"}},
			{"", []string{"t/a/1", "t/a/2", "t/ab/3", "t/b", "u"}},
			{"none", nil},
		} {
			if got := names(t, st, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("list %q: got %v, want %v", c.prefix, got, c.want)
			}
		}
	})
	t.Run("remove all takes a prefix and tolerates nothing", func(t *testing.T) {
		st := newStore(t)
		for _, n := range []string{"t/a/1", "t/ab/2", "t/b"} {
			put(t, st, n, n)
		}
		if err := st.RemoveAll(ctx, "t/a"); err != nil {
			t.Fatal(err)
		}
		if got := names(t, st, ""); !slices.Equal(got, []string{"t/ab/2", "t/b"}) {
			t.Errorf("got %v", got)
		}
		if err := st.RemoveAll(ctx, "nothing/here"); err != nil {
			t.Errorf("removing nothing: %v", err)
		}
	})
	t.Run("move a prefix", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "stage/tbl/p=1/f", "1")
		put(t, st, "stage/tbl/g", "2")
		if err := storage.Move(ctx, st, "stage/tbl", "tbl"); err != nil {
			t.Fatal(err)
		}
		if got := names(t, st, ""); !slices.Equal(got, []string{"tbl/g", "tbl/p=1/f"}) {
			t.Errorf("got %v", got)
		}
		if got, _ := storage.ReadFile(ctx, st, "tbl/p=1/f"); string(got) != "1" {
			t.Errorf("moved content: got %q", got)
		}
	})
	t.Run("conditional", func(t *testing.T) { runConditional(t, newStore) })
	t.Run("exists", func(t *testing.T) {
		st := newStore(t)
		put(t, st, "d/f", "x")
		for name, want := range map[string]bool{"d": true, "d/f": true, "e": false, "d/f/g": false} {
			if got, err := storage.Exists(ctx, st, name); err != nil || got != want {
				t.Errorf("exists %q: got %v, %v; want %v", name, got, err, want)
			}
		}
	})
}
