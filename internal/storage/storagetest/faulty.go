package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/sparkify/lake/internal/storage"
)

// ErrInjected is the cause of every error a Faulty store injects.
var ErrInjected = errors.New("injected fault")

// Faulty is a Store that fails on purpose: it counts the mutating calls made through it — each
// Create, each writer's Close, RemoveAll, and Features' Move, CopyObject, Sync, CreateIfAbsent
// and ReplaceIfMatch — and fails the failAt-th (counting from 1) and, unless FailOnce is given,
// every later one, as a store that has gone away does. Reads are never counted nor failed.
//
// A test finds every point where an operation can be interrupted by running it once for each n:
//
//	for n := 1; ; n++ {
//		f := storagetest.NewFaulty(newStore(), n)
//		err := operation(f)
//		if f.Injected() == 0 { // the operation made fewer than n mutating calls
//			// err must be nil: the operation succeeded untouched
//			break
//		}
//		// err must wrap ErrInjected, and the store must be in a state the operation recovers from
//	}
//
// Features are forwarded with their functions wrapped, so the store's capabilities stay
// visible through the wrapper.
type Faulty struct {
	inner  storage.Store
	failAt int64
	once   bool
	after  bool

	calls    atomic.Int64
	injected atomic.Int64
	mu       sync.Mutex
	log      []string
}

var _ storage.Store = (*Faulty)(nil)

// FaultyOption changes how a Faulty store fails.
type FaultyOption func(*Faulty)

// FailOnce makes only the failAt-th mutating call fail; the calls after it succeed, as after a
// transient error.
func FailOnce() FaultyOption { return func(f *Faulty) { f.once = true } }

// FailAfterEffect makes a failing call take effect before it reports its error, as when the
// response to a request that succeeded is lost: the object is written, removed or moved, yet
// the caller sees ErrInjected. A failing Create has no effect to take.
func FailAfterEffect() FaultyOption { return func(f *Faulty) { f.after = true } }

// NewFaulty wraps inner so that its failAt-th mutating call fails; failAt <= 0 never fails, and
// only counts.
func NewFaulty(inner storage.Store, failAt int, opts ...FaultyOption) *Faulty {
	f := &Faulty{inner: inner, failAt: int64(failAt)}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Calls returns how many mutating calls were made so far, failed ones included.
func (f *Faulty) Calls() int { return int(f.calls.Load()) }

// Injected returns how many calls were failed so far: 0 means the store behaved as the inner one.
func (f *Faulty) Injected() int { return int(f.injected.Load()) }

// Log returns the mutating calls so far, in order, as "op name" (a move: "move from to"), with
// " (failed)" after those that were failed.
func (f *Faulty) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// do counts one mutating call and runs effect, unless the call is to fail.
func (f *Faulty) do(op, name string, effect func() error) error {
	n := f.calls.Add(1)
	fail := f.failAt > 0 && (n == f.failAt || (!f.once && n > f.failAt))
	entry := op + " " + name
	if fail {
		f.injected.Add(1)
		entry += " (failed)"
	}
	f.mu.Lock()
	f.log = append(f.log, entry)
	f.mu.Unlock()
	if !fail {
		return effect()
	}
	if f.after {
		if err := effect(); err != nil {
			return err
		}
	}
	return &fs.PathError{Op: op, Path: f.inner.Location(name), Err: fmt.Errorf("%w (mutating call %d)", ErrInjected, n)}
}

// Location implements storage.Store.
func (f *Faulty) Location(name string) string { return f.inner.Location(name) }

// List implements storage.Store.
func (f *Faulty) List(ctx context.Context, prefix string, fn func(storage.Object) error) error {
	return f.inner.List(ctx, prefix, fn)
}

// Stat implements storage.Store.
func (f *Faulty) Stat(ctx context.Context, name string) (storage.Object, error) {
	return f.inner.Stat(ctx, name)
}

// Open implements storage.Store.
func (f *Faulty) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return f.inner.Open(ctx, name)
}

// Create implements storage.Store; the call and the writer's Close are each counted.
func (f *Faulty) Create(ctx context.Context, name string) (storage.Writer, error) {
	var w storage.Writer
	err := f.do("create", name, func() error {
		var err error
		w, err = f.inner.Create(ctx, name)
		return err
	})
	if err != nil {
		if w != nil {
			w.Abort()
		}
		return nil, err
	}
	return &faultyWriter{w: w, f: f, name: name}, nil
}

type faultyWriter struct {
	w      storage.Writer
	f      *Faulty
	name   string
	closed bool
}

func (w *faultyWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *faultyWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.f.do("close", w.name, w.w.Close)
	if err != nil {
		w.w.Abort() // a failed Close leaves no object, unless FailAfterEffect
	}
	return err
}

func (w *faultyWriter) Abort() error {
	w.closed = true
	return w.w.Abort()
}

// RemoveAll implements storage.Store.
func (f *Faulty) RemoveAll(ctx context.Context, prefix string) error {
	return f.do("remove", prefix, func() error { return f.inner.RemoveAll(ctx, prefix) })
}

// Features implements storage.Store: the inner store's, each function counted and failed as the
// other mutating calls are.
func (f *Faulty) Features() storage.Features {
	in := f.inner.Features()
	out := storage.Features{Concurrency: in.Concurrency, ContentVersion: in.ContentVersion}
	if in.Move != nil {
		out.Move = func(ctx context.Context, from, to string) error {
			return f.do("move", from+" "+to, func() error { return in.Move(ctx, from, to) })
		}
	}
	if in.CopyObject != nil {
		out.CopyObject = func(ctx context.Context, from, to string) error {
			return f.do("copy", from+" "+to, func() error { return in.CopyObject(ctx, from, to) })
		}
	}
	if in.Sync != nil {
		out.Sync = func(ctx context.Context) error {
			return f.do("sync", "", func() error { return in.Sync(ctx) })
		}
	}
	if in.Conditional != nil {
		out.Conditional = faultyConditional{f: f, c: in.Conditional}
	}
	return out
}

type faultyConditional struct {
	f *Faulty
	c storage.Conditional
}

func (fc faultyConditional) ReadVersioned(ctx context.Context, name string) ([]byte, string, error) {
	return fc.c.ReadVersioned(ctx, name)
}

func (fc faultyConditional) CreateIfAbsent(ctx context.Context, name string, data []byte) (string, error) {
	var v string
	err := fc.f.do("create-if-absent", name, func() error {
		var err error
		v, err = fc.c.CreateIfAbsent(ctx, name, data)
		return err
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

func (fc faultyConditional) ReplaceIfMatch(ctx context.Context, name string, data []byte, version string) (string, error) {
	var v string
	err := fc.f.do("replace-if-match", name, func() error {
		var err error
		v, err = fc.c.ReplaceIfMatch(ctx, name, data, version)
		return err
	})
	if err != nil {
		return "", err
	}
	return v, nil
}
