package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"

	"github.com/sparkify/lake/internal/storage"
)

// racers is how many goroutines race for one conditional write.
const racers = 16

// runConditional checks Features().Conditional, when the store has it.
func runConditional(t *testing.T, newStore func(t *testing.T) storage.Store) {
	ctx := context.Background()
	cond := func(t *testing.T) (storage.Store, storage.Conditional) {
		t.Helper()
		st := newStore(t)
		c := st.Features().Conditional
		if c == nil {
			t.Skip("the store has no conditional writes")
		}
		return st, c
	}
	read := func(t *testing.T, c storage.Conditional, name string) (string, string) {
		t.Helper()
		data, v, err := c.ReadVersioned(ctx, name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return string(data), v
	}

	t.Run("create if absent twice", func(t *testing.T) {
		st, c := cond(t)
		if _, _, err := c.ReadVersioned(ctx, "d/lock"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read before create: got %v, want fs.ErrNotExist", err)
		}
		v1, err := c.CreateIfAbsent(ctx, "d/lock", []byte("first"))
		if err != nil || v1 == "" {
			t.Fatalf("first create: %q, %v", v1, err)
		}
		_, err = c.CreateIfAbsent(ctx, "d/lock", []byte("second"))
		if !errors.Is(err, storage.ErrPrecondition) {
			t.Fatalf("second create: got %v, want ErrPrecondition", err)
		}
		if data, v := read(t, c, "d/lock"); data != "first" || v != v1 {
			t.Errorf("after both: got %q version %q, want first version %q", data, v, v1)
		}
		// A conditional object is an object like any other.
		if got, err := storage.ReadFile(ctx, st, "d/lock"); err != nil || string(got) != "first" {
			t.Errorf("plain read: got %q, %v", got, err)
		}
	})
	t.Run("replace if match", func(t *testing.T) {
		_, c := cond(t)
		v1, err := c.CreateIfAbsent(ctx, "lock", []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		v2, err := c.ReplaceIfMatch(ctx, "lock", []byte("two"), v1)
		if err != nil {
			t.Fatalf("replace with the current version: %v", err)
		}
		if v2 == v1 {
			t.Errorf("the version did not change: %q", v2)
		}
		if _, err := c.ReplaceIfMatch(ctx, "lock", []byte("three"), v1); !errors.Is(err, storage.ErrPrecondition) {
			t.Errorf("replace with a stale version: got %v, want ErrPrecondition", err)
		}
		if data, v := read(t, c, "lock"); data != "two" || v != v2 {
			t.Errorf("got %q version %q, want two version %q", data, v, v2)
		}
		_, err = c.ReplaceIfMatch(ctx, "absent", []byte("x"), v2)
		if !errors.Is(err, storage.ErrPrecondition) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("replace of a missing object: got %v, want ErrPrecondition and fs.ErrNotExist", err)
		}
		if _, _, err := c.ReadVersioned(ctx, "absent"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed replace created the object: %v", err)
		}
	})
	t.Run("racing creates: exactly one wins", func(t *testing.T) {
		_, c := cond(t)
		won := race(t, func(i int) error {
			_, err := c.CreateIfAbsent(ctx, "lock", fmt.Appendf(nil, "racer %d", i))
			return err
		})
		if data, _ := read(t, c, "lock"); data != fmt.Sprintf("racer %d", won) {
			t.Errorf("got %q, want the winner's, racer %d", data, won)
		}
	})
	t.Run("racing replaces of one version: exactly one wins", func(t *testing.T) {
		_, c := cond(t)
		if _, err := c.CreateIfAbsent(ctx, "lock", []byte("initial")); err != nil {
			t.Fatal(err)
		}
		_, v0 := read(t, c, "lock")
		versions := make([]string, racers)
		won := race(t, func(i int) error {
			var err error
			versions[i], err = c.ReplaceIfMatch(ctx, "lock", fmt.Appendf(nil, "racer %d", i), v0)
			return err
		})
		if data, v := read(t, c, "lock"); data != fmt.Sprintf("racer %d", won) || v != versions[won] {
			t.Errorf("got %q version %q, want the winner's, racer %d, version %q", data, v, won, versions[won])
		}
	})
}

// race runs try(0) … try(racers-1) at once and checks that exactly one succeeds and that the
// others fail with ErrPrecondition. It returns the winner.
func race(t *testing.T, try func(i int) error) int {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = try(i)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("racers %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, storage.ErrPrecondition):
			t.Errorf("racer %d: got %v, want ErrPrecondition", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no racer won")
	}
	return won
}
