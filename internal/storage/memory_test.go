package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"syscall"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

func TestMemory(t *testing.T) {
	for _, objectStore := range []bool{false, true} {
		name := "disk"
		if objectStore {
			name = "object store"
		}
		t.Run(name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				return storage.NewMemory(storage.MemoryOptions{Name: t.Name(), ObjectStore: objectStore})
			})
		})
	}
}

func TestMemoryFeatures(t *testing.T) {
	disk := storage.NewMemory(storage.MemoryOptions{}).Features()
	if disk.Move == nil || disk.Sync == nil || disk.CopyObject != nil || disk.Conditional == nil {
		t.Errorf("disk: got %+v, want Move, Sync and Conditional", disk)
	}
	obj := storage.NewMemory(storage.MemoryOptions{ObjectStore: true, Concurrency: 32}).Features()
	if obj.Move != nil || obj.Sync != nil || obj.CopyObject == nil || obj.Conditional == nil || obj.Concurrency != 32 {
		t.Errorf("object store: got %+v, want CopyObject, Conditional and Concurrency 32", obj)
	}
}

// TestMemoryDiskNames checks that the disk flavour refuses what a file system refuses, so that
// code tested on it does not fail on a real disk.
func TestMemoryDiskNames(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{Name: "t"})
	if err := storage.WriteFile(ctx, st, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteFile(ctx, st, "a", []byte("x")); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("an object named as a folder: got %v, want EISDIR", err)
	}
	if err := storage.WriteFile(ctx, st, "a/b/c", []byte("x")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("an object below an object: got %v, want ENOTDIR", err)
	}
	if err := storage.WriteFile(ctx, st, "c/d", []byte("y")); err != nil {
		t.Fatal(err)
	}
	move := st.Features().Move
	if err := move(ctx, "c", "a"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("move onto a folder: got %v, want fs.ErrExist", err)
	}
	if err := move(ctx, "nope", "z"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("move of nothing: got %v, want fs.ErrNotExist", err)
	}
	if err := move(ctx, "c", "c/e"); err == nil {
		t.Error("moved a folder into itself")
	}
	if err := st.RemoveAll(ctx, ""); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("remove everything: got %v, want fs.ErrPermission", err)
	}
	// The object-store flavour has no folders: both names can be objects.
	obj := storage.NewMemory(storage.MemoryOptions{ObjectStore: true})
	for _, n := range []string{"a/b", "a", "a/b/c"} {
		if err := storage.WriteFile(ctx, obj, n, []byte(n)); err != nil {
			t.Errorf("object store: %v", err)
		}
	}
	var names []string
	obj.List(ctx, "a", func(o storage.Object) error { names = append(names, o.Name); return nil })
	slices.Sort(names)
	if !slices.Equal(names, []string{"a", "a/b", "a/b/c"}) {
		t.Errorf("object store: list a: got %v", names)
	}
}

// TestVersionChangesWithSameContent: a version must change on every write, even one of the
// same bytes, or a writer holding an old version could replace a newer object. (S3's ETag, a
// hash of the content, does not: see storage.Conditional.)
func TestVersionChangesWithSameContent(t *testing.T) {
	ctx := context.Background()
	for name, st := range map[string]storage.Store{
		"local":  newLocal(t),
		"memory": storage.NewMemory(storage.MemoryOptions{}),
	} {
		t.Run(name, func(t *testing.T) {
			c := st.Features().Conditional
			if c == nil {
				t.Skip("no conditional writes on this system")
			}
			v, err := c.CreateIfAbsent(ctx, "_lock", []byte("same"))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{v: true}
			first := v
			for range 50 {
				if v, err = c.ReplaceIfMatch(ctx, "_lock", []byte("same"), v); err != nil {
					t.Fatal(err)
				}
				if seen[v] {
					t.Fatalf("version %q came back", v)
				}
				seen[v] = true
			}
			if _, err := c.ReplaceIfMatch(ctx, "_lock", []byte("same"), first); !errors.Is(err, storage.ErrPrecondition) {
				t.Errorf("replace with the first version: got %v, want ErrPrecondition", err)
			}
		})
	}
}

func newLocal(t *testing.T) *storage.Local {
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
