package storagetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

func memory(objectStore bool) *storage.Memory {
	return storage.NewMemory(storage.MemoryOptions{Name: "t", ObjectStore: objectStore, Concurrency: 8})
}

// TestFaultyConformance: with no fault to inject, the wrapper is a store like the one it wraps.
func TestFaultyConformance(t *testing.T) {
	for _, objectStore := range []bool{false, true} {
		t.Run(fmt.Sprint("object store ", objectStore), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				return storagetest.NewFaulty(memory(objectStore), 0)
			})
		})
	}
}

func TestFaultyCountsAndFails(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts []storagetest.FaultyOption
		// after the 3rd call fails: whether the 4th does, and whether the failed write took effect
		laterFail, effect bool
	}{
		{"sticky", nil, true, false},
		{"once", []storagetest.FaultyOption{storagetest.FailOnce()}, false, false},
		{"after effect", []storagetest.FaultyOption{storagetest.FailAfterEffect()}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := memory(false)
			f := storagetest.NewFaulty(mem, 4, c.opts...)
			// Calls 1 and 2: the Create and Close of a.
			if err := storage.WriteFile(ctx, f, "a", []byte("a")); err != nil {
				t.Fatal(err)
			}
			// Reads are not counted.
			if _, err := storage.ReadFile(ctx, f, "a"); err != nil {
				t.Fatal(err)
			}
			// Calls 3 and 4: the Create and Close of b; the Close fails.
			err := storage.WriteFile(ctx, f, "b", []byte("b"))
			if !errors.Is(err, storagetest.ErrInjected) {
				t.Fatalf("4th call: got %v, want ErrInjected", err)
			}
			if !strings.Contains(err.Error(), "mem://t/b") {
				t.Errorf("the error does not name the object: %v", err)
			}
			if _, err := mem.Stat(ctx, "b"); (err == nil) != c.effect {
				t.Errorf("the failed write took effect: %v, want %v", err == nil, c.effect)
			}
			err = f.RemoveAll(ctx, "a")
			if errors.Is(err, storagetest.ErrInjected) != c.laterFail {
				t.Errorf("5th call: got %v, want a fault: %v", err, c.laterFail)
			}
			wantInjected := 1
			if c.laterFail {
				wantInjected = 2
			}
			if f.Calls() != 5 || f.Injected() != wantInjected {
				t.Errorf("got %d calls, %d injected; want 5, %d", f.Calls(), f.Injected(), wantInjected)
			}
			if log := f.Log(); len(log) != 5 || log[0] != "create a" || log[3] != "close b (failed)" {
				t.Errorf("log: %q", log)
			}
		})
	}
}

// TestFaultyForwardsFeatures: a wrapper must not hide what the store can do, and what it can do
// goes through the fault injection too.
func TestFaultyForwardsFeatures(t *testing.T) {
	ctx := context.Background()
	disk := storagetest.NewFaulty(memory(false), 0).Features()
	if disk.Move == nil || disk.Sync == nil || disk.CopyObject != nil || disk.Conditional == nil || disk.Concurrency != 8 {
		t.Errorf("disk: got %+v", disk)
	}
	obj := storagetest.NewFaulty(memory(true), 0).Features()
	if obj.Move != nil || obj.Sync != nil || obj.CopyObject == nil || obj.Conditional == nil || obj.Concurrency != 8 {
		t.Errorf("object store: got %+v", obj)
	}
	for i, call := range []func(storage.Features) error{
		func(f storage.Features) error { return f.Sync(ctx) },
		func(f storage.Features) error { return f.Move(ctx, "a", "b") },
		func(f storage.Features) error { _, err := f.Conditional.CreateIfAbsent(ctx, "l", nil); return err },
		func(f storage.Features) error {
			_, v, err := f.Conditional.ReadVersioned(ctx, "l") // not counted
			if err != nil {
				return err
			}
			_, err = f.Conditional.ReplaceIfMatch(ctx, "l", []byte("x"), v)
			return err
		},
	} {
		mem := memory(false)
		storage.WriteFile(ctx, mem, "a", nil)
		storage.WriteFile(ctx, mem, "l", nil)
		f := storagetest.NewFaulty(mem, 1)
		if err := call(f.Features()); !errors.Is(err, storagetest.ErrInjected) || f.Calls() != 1 {
			t.Errorf("feature %d: got %v after %d calls, want ErrInjected after 1", i, err, f.Calls())
		}
	}
	mem := memory(true)
	storage.WriteFile(ctx, mem, "a", nil)
	f := storagetest.NewFaulty(mem, 1)
	if err := f.Features().CopyObject(ctx, "a", "b"); !errors.Is(err, storagetest.ErrInjected) {
		t.Errorf("copy: got %v", err)
	}
}

// TestMoveAtEveryFault moves a staged folder with a fault at each mutating call in turn, the
// way a test of an operation that must survive interruption loops over n. A move on a disk is
// one rename, atomic; on an object store it copies server-side then removes, and running it again
// finishes it.
func TestMoveAtEveryFault(t *testing.T) {
	ctx := context.Background()
	files := []string{"stage/t/p=1/a", "stage/t/p=1/b", "stage/t/c"}
	for _, objectStore := range []bool{false, true} {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("object store %v, after effect %v", objectStore, after), func(t *testing.T) {
				for n := 1; ; n++ {
					mem := memory(objectStore)
					for _, name := range files {
						if err := storage.WriteFile(ctx, mem, name, []byte(name)); err != nil {
							t.Fatal(err)
						}
					}
					var opts []storagetest.FaultyOption
					if after {
						opts = append(opts, storagetest.FailAfterEffect())
					}
					f := storagetest.NewFaulty(mem, n, opts...)
					err := storage.Move(ctx, f, "stage/t", "t")
					if f.Injected() == 0 {
						if err != nil {
							t.Fatalf("n=%d: no fault, yet %v", n, err)
						}
						if want := map[bool]int{false: 1, true: len(files) + 1}[objectStore]; n-1 != want {
							t.Errorf("the move made %d mutating calls, want %d: %q", n-1, want, f.Log())
						}
						checkMoved(t, mem, files)
						break
					}
					if !errors.Is(err, storagetest.ErrInjected) {
						t.Fatalf("n=%d: got %v, want ErrInjected", n, err)
					}
					if !objectStore {
						// Atomic: all at the source, or (after effect) all at the destination.
						if got := names(t, mem, "stage"); after != (len(got) == 0) {
							t.Fatalf("n=%d: a rename was half done: %v left at the source", n, got)
						}
						continue
					}
					// Idempotent: running the move again on a sound store finishes it.
					if err := storage.Move(ctx, mem, "stage/t", "t"); err != nil {
						t.Fatalf("n=%d: rerun: %v", n, err)
					}
					checkMoved(t, mem, files)
				}
			})
		}
	}
}

func names(t *testing.T, st storage.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), prefix, func(o storage.Object) error { out = append(out, o.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func checkMoved(t *testing.T, st storage.Store, files []string) {
	t.Helper()
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimPrefix(f, "stage/"))
	}
	slices.Sort(want)
	if got := names(t, st, ""); !slices.Equal(got, want) {
		t.Fatalf("after the move: got %v, want %v", got, want)
	}
	for _, w := range want {
		if got, _ := storage.ReadFile(context.Background(), st, w); string(got) != "stage/"+w {
			t.Errorf("%s holds %q", w, got)
		}
	}
}
