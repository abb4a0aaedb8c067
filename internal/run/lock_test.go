package run

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/storage"
)

func newOutput(t *testing.T) storage.Store {
	t.Helper()
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSecondHolderFailsAtOnce(t *testing.T) {
	st := newOutput(t)
	ctx := context.Background()
	a, err := Acquire(ctx, st, "run-a", LockOptions{Command: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Acquire(ctx, st, "run-b", LockOptions{Command: "etl"})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Acquire took %v: it must fail at once", d)
	}
	host, _ := os.Hostname()
	for _, want := range []string{"run-a", "sparkify etl", host, "pid", "sparkify unlock --output"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message is not one line: %q", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(ctx, st, "run-b", LockOptions{})
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRacingAcquirersOneWins: of many runs starting at once, exactly one holds the lock.
func TestRacingAcquirersOneWins(t *testing.T) {
	st := newOutput(t)
	for round := range 3 {
		var won atomic.Int32
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []*Lock
		for i := range 8 {
			wg.Go(func() {
				l, err := Acquire(context.Background(), st, "run", LockOptions{})
				if err == nil {
					won.Add(1)
					mu.Lock()
					winners = append(winners, l)
					mu.Unlock()
				} else if !errors.Is(err, ErrLocked) {
					t.Errorf("round %d acquirer %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d acquirers won, want exactly 1", round, won.Load())
		}
		if err := winners[0].Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSlowHolderLosesExpiredLease: a holder that stalls past its lease is taken over, and finds
// out when it confirms before its commit point.
func TestSlowHolderLosesExpiredLease(t *testing.T) {
	st := newOutput(t)
	ctx := context.Background()
	// Leases of a second: long enough that a loaded CI machine does not expire one by accident.
	slow, err := Acquire(ctx, st, "slow", LockOptions{Lease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Not expired yet: refused, although the holder is this very (live) process.
	if _, err := Acquire(ctx, st, "early", LockOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire during the lease: got %v, want ErrLocked", err)
	}
	time.Sleep(1200 * time.Millisecond) // the slow holder does not renew: its lease runs out
	next, err := Acquire(ctx, st, "next", LockOptions{})
	if err != nil {
		t.Fatalf("Acquire after the lease ran out: %v", err)
	}
	if err := slow.Confirm(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("slow holder's Confirm: got %v, want ErrLockLost", err)
	}
	if err := slow.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("slow holder's Release: got %v, want ErrLockLost (it must not release another's lock)", err)
	}
	if err := next.Confirm(ctx); err != nil {
		t.Fatalf("new holder lost its lock to the slow one: %v", err)
	}
	if h, held, err := Inspect(ctx, st); err != nil || !held || h.RunID != "next" {
		t.Fatalf("Inspect: %+v held=%v err=%v, want run next", h, held, err)
	}
}

// TestKeepRenewsAndNoticesTakeover: a live holder keeps its lock past many leases, and its
// context is cancelled with ErrLockLost as soon as the lock is broken.
func TestKeepRenewsAndNoticesTakeover(t *testing.T) {
	st := newOutput(t)
	ctx := context.Background()
	l, err := Acquire(ctx, st, "live", LockOptions{Lease: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	kctx := l.Keep(ctx)
	time.Sleep(2500 * time.Millisecond) // more than two leases
	if _, err := Acquire(ctx, st, "other", LockOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire while the holder renews: got %v, want ErrLocked", err)
	}
	if kctx.Err() != nil {
		t.Fatalf("holder's context cancelled while it held the lock: %v", context.Cause(kctx))
	}
	if _, _, err := Break(ctx, st, false, time.Now()); !errors.Is(err, ErrLockLive) {
		t.Fatalf("Break without force of a live lock: got %v, want ErrLockLive", err)
	}
	if _, broke, err := Break(ctx, st, true, time.Now()); err != nil || !broke {
		t.Fatalf("Break --force: broke=%v err=%v", broke, err)
	}
	select {
	case <-kctx.Done():
		if !errors.Is(context.Cause(kctx), ErrLockLost) {
			t.Fatalf("cause %v, want ErrLockLost", context.Cause(kctx))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the holder did not notice that its lock was broken")
	}
	if err := l.Release(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Release after losing: got %v, want ErrLockLost", err)
	}
}

// TestDeadHolderOnThisHost: a lock whose holder is a process of this host that no longer exists
// is taken over at once, without waiting for its lease (a run killed with kill -9).
func TestDeadHolderOnThisHost(t *testing.T) {
	st := newOutput(t)
	ctx := context.Background()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot start a process to get a dead pid:", err)
	}
	dead := cmd.ProcessState.Pid()
	l, err := Acquire(ctx, st, "killed", LockOptions{Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Make the holder the dead process: rewrite the lock as the killed run left it.
	l.holder.PID = dead
	if err := l.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(ctx, st, "next", LockOptions{}); err != nil {
		t.Fatalf("Acquire over a dead holder's lock: %v", err)
	}
	// And unlock says so without --force.
	if h, held, _ := Inspect(ctx, st); !held || h.RunID != "next" {
		t.Fatalf("Inspect after takeover: %+v held=%v", h, held)
	}
}

func TestBreakUnlockedOutput(t *testing.T) {
	st := newOutput(t)
	if _, broke, err := Break(context.Background(), st, false, time.Now()); err != nil || broke {
		t.Fatalf("Break on an output never locked: broke=%v err=%v", broke, err)
	}
}

// lostResponses is a store whose conditional writes succeed but, while lose is positive, report
// ErrPrecondition: what a client sees when a write's response is lost and its retry finds the
// object already changed — by that very write.
type lostResponses struct {
	storage.Store
	lose atomic.Int32
}

func (s *lostResponses) Features() storage.Features {
	f := s.Store.Features()
	f.Conditional = lostConditional{f.Conditional, s}
	return f
}

type lostConditional struct {
	storage.Conditional
	s *lostResponses
}

func (c lostConditional) CreateIfAbsent(ctx context.Context, name string, data []byte) (string, error) {
	v, err := c.Conditional.CreateIfAbsent(ctx, name, data)
	if err == nil && c.s.lose.Add(-1) >= 0 {
		return "", storage.ErrPrecondition
	}
	return v, err
}

func (c lostConditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	v, err := c.Conditional.ReplaceIfMatch(ctx, name, data, version)
	if err == nil && c.s.lose.Add(-1) >= 0 {
		return "", storage.ErrPrecondition
	}
	return v, err
}

// TestLockSurvivesLostResponses: a lock write that took effect although it was reported refused
// is recognized as the run's own, when taking, renewing and releasing the lock; and the lock
// then goes on working (its version is the one written).
func TestLockSurvivesLostResponses(t *testing.T) {
	ctx := context.Background()
	for _, step := range []string{"create", "take over a released lock", "renew", "release"} {
		t.Run(step, func(t *testing.T) {
			st := &lostResponses{Store: storage.NewMemory(storage.MemoryOptions{})}
			if step == "take over a released lock" {
				old, err := Acquire(ctx, st, "old", LockOptions{Command: "etl"})
				if err != nil {
					t.Fatal(err)
				}
				if err := old.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if step == "create" || step == "take over a released lock" {
				st.lose.Store(1)
			}
			l, err := Acquire(ctx, st, "run", LockOptions{Command: "etl"})
			if err != nil {
				t.Fatalf("acquire: %v", err)
			}
			if step == "renew" {
				st.lose.Store(1)
			}
			if err := l.Confirm(ctx); err != nil {
				t.Fatalf("renew: %v", err)
			}
			if step == "release" {
				st.lose.Store(1)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			if h, held, err := Inspect(ctx, st); err != nil || held {
				t.Fatalf("after release: held %v by %v (%v)", held, h, err)
			}
			if st.lose.Load() > 0 {
				t.Fatal("no write was reported refused: the test tested nothing")
			}
		})
	}
}
