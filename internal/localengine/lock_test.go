package localengine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/storage"
)

// pausingStore stalls the whole run that uses it, lock renewals included, at the first object
// trigger picks, until release is closed: a run that is only slow (a paused VM, a stopped
// process) as another run sees it.
type pausingStore struct {
	storage.Store
	trigger  func(name string) bool
	reached  chan struct{}
	release  chan struct{}
	once     sync.Once
	stalling atomic.Bool
}

func newPausingStore(inner storage.Store, trigger func(string) bool) *pausingStore {
	return &pausingStore{Store: inner, trigger: trigger, reached: make(chan struct{}), release: make(chan struct{})}
}

func (p *pausingStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	if p.trigger(name) {
		p.once.Do(func() {
			p.stalling.Store(true)
			close(p.reached)
			<-p.release
		})
	}
	return p.Store.Create(ctx, name)
}

func (p *pausingStore) Features() storage.Features {
	f := p.Store.Features()
	f.CreateDirect = nil // writes go through Create, which pauses
	if f.Conditional != nil {
		f.Conditional = pausingConditional{p, f.Conditional}
	}
	return f
}

type pausingConditional struct {
	p *pausingStore
	storage.Conditional
}

func (c pausingConditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	if c.p.stalling.Load() {
		<-c.p.release
	}
	return c.Conditional.ReplaceIfMatch(ctx, name, data, version)
}

// TestSlowRunLosesItsLock: a run that stalls longer than its lease is taken over by the next run,
// which publishes; when the slow run wakes up it fails with ErrLockLost, publishes nothing and
// leaves the new tables alone.
func TestSlowRunLosesItsLock(t *testing.T) {
	ref := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", ref, nil); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	slow := newPausingStore(mustLocal(t, out), func(name string) bool { return strings.Contains(name, "/songs/") })
	errc := make(chan error, 1)
	go func() {
		_, err := runLocal(t, "testdata/songs", "testdata/logs", out, func(o *Options) {
			o.Lease = 2 * time.Second // long enough that a loaded machine does not expire it early
			o.Output = slow
		})
		errc <- err
	}()
	<-slow.reached
	// While it holds a live lease, the slow run keeps the output.
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", out, nil); !errors.Is(err, run.ErrLocked) {
		t.Fatalf("run during the slow run's lease: got %v, want ErrLocked", err)
	}
	time.Sleep(2500 * time.Millisecond) // past the lease: nobody renewed it
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", out, nil); err != nil {
		t.Fatalf("run after the slow run's lease ran out: %v", err)
	}
	published := snapshot(t, out, true)
	sameSnapshot(t, published, snapshot(t, ref, true))

	close(slow.release)
	select {
	case err := <-errc:
		if !errors.Is(err, run.ErrLockLost) {
			t.Fatalf("slow run: got %v, want ErrLockLost", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the slow run did not end")
	}
	sameSnapshot(t, snapshot(t, out, true), published)
	if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !os.IsNotExist(err) {
		t.Errorf("staging left behind by the slow run: %v", err)
	}
	if _, held, err := run.Inspect(context.Background(), mustLocal(t, out)); err != nil || held {
		t.Errorf("lock after both runs: held=%v err=%v, want released", held, err)
	}
}

func mustLocal(t *testing.T, dir string) storage.Store {
	t.Helper()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
