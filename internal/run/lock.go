package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sparkify/lake/internal/storage"
)

// LockFile is the output's lock, under the output root. It stays after a run, marked released,
// so that taking it is always one compare-and-swap on one object (see Lock).
const LockFile = "_lock"

// DefaultLease is how long a lock holds without being renewed. A holder renews it every quarter
// of that; a lock whose lease has run out belongs to a run that died (or stalled for that long)
// and may be taken over.
const DefaultLease = time.Minute

// Holder is what the lock says about the run that holds it.
type Holder struct {
	RunID     string    `json:"run_id"`
	Command   string    `json:"command"` // "etl", "recover"
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	RenewedAt time.Time `json:"renewed_at"`
	Expires   time.Time `json:"expires_at"`
	Released  bool      `json:"released,omitempty"`
}

func (h Holder) String() string {
	return fmt.Sprintf("run %s (sparkify %s, pid %d on %s, started %s)",
		h.RunID, h.Command, h.PID, h.Host, h.StartedAt.UTC().Format(time.RFC3339))
}

// ErrLocked matches a *LockedError with errors.Is.
var ErrLocked = errors.New("the output is locked by another run")

// ErrLockLost is the cause of a run's failure when its lock was taken over (after its lease ran
// out, or by sparkify unlock): it must not publish, since another run may now be writing.
var ErrLockLost = errors.New("lost the output's lock")

// LockedError tells who holds an output's lock.
type LockedError struct {
	Output string // where the lock is, as a user reads it
	Holder Holder
	Now    time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by %s, lease renewed %s ago, expires in %s; wait for it to finish, or if it is dead: sparkify unlock --output %s",
		e.Output, e.Holder, e.Now.Sub(e.Holder.RenewedAt).Round(time.Second), e.Holder.Expires.Sub(e.Now).Round(time.Second), e.Output)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// LockOptions configure a lock.
type LockOptions struct {
	Command string           // what the holder runs, for the message a waiting user reads
	Lease   time.Duration    // <= 0 means DefaultLease
	Now     func() time.Time // nil means time.Now
	Logger  *slog.Logger     // nil discards
}

// Lock is a lease on an output: one writer at a time.
//
// Taking, renewing and releasing it are each one conditional write of LockFile (create if absent,
// or replace if unchanged since read), so that of two runs racing for it exactly one wins, on a
// local disk (flock) and on S3 (If-None-Match / If-Match) alike. A holder renews its lease in the
// background; a lease that ran out, or whose holder is a dead process on this host, may be taken
// over. The holder finds out at its next renewal, and at the latest when it confirms the lock
// just before its commit point, and then fails without publishing: a run that is only slow can
// lose its lock but never publish over another's.
type Lock struct {
	st     storage.Store
	c      storage.Conditional
	o      LockOptions
	output string

	mu      sync.Mutex // serializes renewals, so version is the one last written
	holder  Holder
	version string

	stop context.CancelFunc
	done chan struct{}
}

// Acquire takes the lock of the output in st for the run id. It fails at once, with a
// *LockedError, when another run holds it.
func Acquire(ctx context.Context, st storage.Store, id string, o LockOptions) (*Lock, error) {
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := st.Features().Conditional
	if c == nil {
		return nil, fmt.Errorf("%s: this storage cannot hold a lock (no conditional writes): %w", st.Location(""), storage.ErrReadOnly)
	}
	host, _ := os.Hostname()
	now := o.Now()
	l := &Lock{st: st, c: c, o: o, output: st.Location("")}
	l.holder = Holder{RunID: id, Command: o.Command, Host: host, PID: os.Getpid(), StartedAt: now.UTC()}
	// A few rounds at most: each lost race means another run just took or released the lock.
	var attempt []byte // the content of this run's last conditional write
	for range 5 {
		data, version, err := c.ReadVersioned(ctx, LockFile)
		if err == nil && attempt != nil && bytes.Equal(data, attempt) {
			// The last write was refused, but the lock holds what it wrote: its response was lost
			// and a retry of it found the object already changed — by itself (Conditional).
			l.version = version
			return l, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			attempt = l.content(o.Now())
			if l.version, err = c.CreateIfAbsent(ctx, LockFile, attempt); err == nil {
				return l, nil
			}
			if errors.Is(err, storage.ErrPrecondition) {
				continue
			}
			return nil, fmt.Errorf("lock the output: %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("lock the output: %w", err)
		}
		var h Holder
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, fmt.Errorf("lock %s is not a sparkify lock (%v): remove it if nothing else uses it, or run sparkify unlock", st.Location(LockFile), err)
		}
		now := o.Now()
		if !h.Released && !stale(h, now, host) {
			return nil, &LockedError{Output: l.output, Holder: h, Now: now}
		}
		attempt = l.content(now)
		l.version, err = c.ReplaceIfMatch(ctx, LockFile, attempt, version)
		if errors.Is(err, storage.ErrPrecondition) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lock the output: %w", err)
		}
		if !h.Released {
			o.Logger.Warn("took over the lock of a run that is gone", "holder", h.String(), "lease_expired", h.Expires)
		}
		return l, nil
	}
	return nil, fmt.Errorf("lock %s: too many runs are racing for it", st.Location(LockFile))
}

// stale reports whether h's holder is gone: its lease ran out, or it was a process of this host
// that no longer exists.
func stale(h Holder, now time.Time, host string) bool {
	if now.After(h.Expires) {
		return true
	}
	return h.Host == host && h.PID > 0 && !processAlive(h.PID)
}

// processAlive reports whether a process of this host has the pid. A pid reused by another
// process reads as alive: the lease then decides, later but safely.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// content is the lock's content with a lease from now; the caller holds mu or owns l alone.
func (l *Lock) content(now time.Time) []byte {
	l.holder.RenewedAt = now.UTC()
	l.holder.Expires = now.Add(l.o.Lease).UTC()
	return l.holder.encode()
}

// encode is the lock's content when h holds it.
func (h Holder) encode() []byte {
	b, _ := json.MarshalIndent(h, "", "  ")
	return append(b, '\n')
}

// releasedAt is h, released at now: a lock anyone may take.
func (h Holder) releasedAt(now time.Time) Holder {
	h.Released, h.RenewedAt, h.Expires = true, now.UTC(), now.UTC()
	return h
}

// Holder returns what the lock says of its holder.
func (l *Lock) Holder() Holder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// Keep renews the lease in the background until Release. The returned context is ctx, cancelled
// with cause ErrLockLost (see context.Cause) as soon as the lock is found taken over or the lease
// could not be renewed before it ran out.
func (l *Lock) Keep(ctx context.Context) context.Context {
	kctx, lose := context.WithCancelCause(ctx)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done = stop, make(chan struct{})
	go func() {
		defer close(l.done)
		every := l.o.Lease / 4
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
			}
			err := l.renew(bg)
			switch {
			case err == nil:
				t.Reset(every)
			case errors.Is(err, ErrLockLost):
				l.o.Logger.Error("lost the output's lock", "err", err)
				lose(err)
				return
			case bg.Err() != nil:
				return
			default:
				// A passing failure (the network): try again soon, while the lease lasts.
				l.o.Logger.Warn("could not renew the output's lock; retrying", "err", err)
				t.Reset(min(every, time.Second))
			}
		}
	}()
	return kctx
}

// Confirm renews the lease now, proving the lock is still this run's; a run calls it just before
// its commit point, which then has a whole lease to be written in.
func (l *Lock) Confirm(ctx context.Context) error {
	return l.renew(ctx)
}

// renew extends the lease with one conditional write; ErrLockLost when the lock is no longer
// this run's, or when the lease ran out before it could be renewed.
func (l *Lock) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.holder
	now := l.o.Now()
	attempt := l.content(now)
	version, err := l.c.ReplaceIfMatch(ctx, LockFile, attempt, l.version)
	if err == nil {
		l.version = version
		return nil
	}
	if errors.Is(err, storage.ErrPrecondition) {
		who := "another run"
		if data, version, rerr := l.c.ReadVersioned(ctx, LockFile); rerr == nil {
			if bytes.Equal(data, attempt) {
				// Renewed after all: the write's response was lost and its retry found the
				// lock already changed — by this very write (see storage.Conditional).
				l.version = version
				return nil
			}
			var h Holder
			if json.Unmarshal(data, &h) == nil {
				who = h.String()
				if h.Released {
					who = "sparkify unlock"
				}
			}
		}
		l.holder = prev
		return fmt.Errorf("%w: %s took it over (this run's lease ran out at %s, or it was unlocked by hand); this run publishes nothing",
			ErrLockLost, who, prev.Expires.Format(time.RFC3339))
	}
	l.holder = prev
	if now.After(prev.Expires) {
		return fmt.Errorf("%w: its lease ran out at %s before it could be renewed: %w", ErrLockLost, prev.Expires.Format(time.RFC3339), err)
	}
	return fmt.Errorf("renew lock %s: %w", l.st.Location(LockFile), err)
}

// Release stops the renewals and marks the lock released, if it is still this run's.
func (l *Lock) Release(ctx context.Context) error {
	if l.stop != nil {
		l.stop()
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	released := l.holder.releasedAt(l.o.Now()).encode()
	_, err := l.c.ReplaceIfMatch(context.WithoutCancel(ctx), LockFile, released, l.version)
	if errors.Is(err, storage.ErrPrecondition) {
		if data, _, rerr := l.c.ReadVersioned(context.WithoutCancel(ctx), LockFile); rerr == nil && bytes.Equal(data, released) {
			return nil // released after all: the write's response was lost (see renew)
		}
		return fmt.Errorf("release lock %s: %w", l.st.Location(LockFile), ErrLockLost)
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.st.Location(LockFile), err)
	}
	return nil
}

// Inspect returns who holds the output's lock; ok is false when nobody does.
func Inspect(ctx context.Context, st storage.Store) (h Holder, ok bool, err error) {
	c := st.Features().Conditional
	if c == nil {
		return h, false, nil
	}
	data, _, err := c.ReadVersioned(ctx, LockFile)
	if errors.Is(err, fs.ErrNotExist) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, false, fmt.Errorf("%s: %w", st.Location(LockFile), err)
	}
	return h, !h.Released, nil
}

// ErrLockLive is returned by Break for a lock whose holder looks alive.
var ErrLockLive = errors.New("the lock's holder looks alive")

// Break releases the output's lock whoever holds it, for a holder that died where its lease
// cannot tell (or that the user knows is stuck). Unless force is set, it refuses a lock whose
// lease is current and whose holder is not known dead. Breaking a live holder's lock is safe for
// the tables: the holder fails at its next renewal or, at the latest, before its commit point.
func Break(ctx context.Context, st storage.Store, force bool, now time.Time) (Holder, bool, error) {
	c := st.Features().Conditional
	if c == nil {
		return Holder{}, false, fmt.Errorf("%s: this storage holds no lock", st.Location(""))
	}
	for range 5 {
		data, version, err := c.ReadVersioned(ctx, LockFile)
		if errors.Is(err, fs.ErrNotExist) {
			return Holder{}, false, nil
		}
		if err != nil {
			return Holder{}, false, err
		}
		var h Holder
		if json.Unmarshal(data, &h) == nil && h.Released {
			return h, false, nil
		}
		host, _ := os.Hostname()
		if !force && !stale(h, now, host) {
			return h, false, fmt.Errorf("%w: %s renewed its lease %s ago; if it is stuck or dead, sparkify unlock --force (it will then fail before publishing)",
				ErrLockLive, h, now.Sub(h.RenewedAt).Round(time.Second))
		}
		if _, err := c.ReplaceIfMatch(ctx, LockFile, h.releasedAt(now).encode(), version); errors.Is(err, storage.ErrPrecondition) {
			continue
		} else if err != nil {
			return h, false, err
		}
		return h, true, nil
	}
	return Holder{}, false, fmt.Errorf("unlock %s: the lock keeps changing: a run is active", st.Location(LockFile))
}
