package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/ddl"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/storage"
)

// Options configure a run's life cycle.
type Options struct {
	ID      string           // "" makes one from the start time (NewID)
	Command string           // what runs, for the lock's holder ("etl", "recover")
	Lease   time.Duration    // the lock's lease; <= 0 means DefaultLease
	Now     func() time.Time // nil means time.Now
	Logger  *slog.Logger     // nil discards
}

// Run is one run on an output, from its lock to its publish.
type Run struct {
	ID        string
	Start     time.Time
	Store     storage.Store
	Recovered commit.Recovered // what Begin found left by earlier runs

	lock      *Lock
	log       *slog.Logger
	now       func() time.Time
	committed bool
	ended     bool
}

// Begin starts a run on the output st: before anything else it takes the output's lock (failing
// at once with a *LockedError when another run holds it), then finishes publishing an earlier
// run that had passed its commit point and removes the staging of those that had not.
//
// The returned context is ctx, cancelled with cause ErrLockLost if the lock is lost while the run
// goes on: the engine's work stops, and End does not publish. End must be called in every case.
func Begin(ctx context.Context, st storage.Store, o Options) (*Run, context.Context, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	start := o.Now()
	if o.ID == "" {
		o.ID = NewID(start)
	}
	log := o.Logger.With("run", o.ID)
	lock, err := Acquire(ctx, st, o.ID, LockOptions{Command: o.Command, Lease: o.Lease, Now: o.Now, Logger: log})
	if err != nil {
		return nil, ctx, err
	}
	r := &Run{ID: o.ID, Start: start, Store: st, lock: lock, log: log, now: o.Now}
	rctx := lock.Keep(ctx)
	rec, err := commit.Recover(rctx, st)
	if err != nil {
		r.End(rctx, err)
		return nil, ctx, err
	}
	for _, id := range rec.RolledForward {
		log.Warn("finished publishing an interrupted earlier run", "earlier_run", id)
	}
	for _, id := range rec.Discarded {
		log.Info("removed the staging of a failed earlier run", "earlier_run", id)
	}
	r.Recovered = rec
	return r, rctx, nil
}

// Staging is the folder, under the output root, that the run writes its tables below.
func (r *Run) Staging() string { return commit.Staging(r.ID) }

// Clock times a run's phases: each Lap appends the phase that just ended to the manifest and
// logs it. It starts at the run's start, so the first phase takes in the lock and the recovery.
type Clock struct {
	m            *report.Manifest
	log          *slog.Logger
	now          func() time.Time
	start, since time.Time
	// Update, when set, refreshes the figures that grow until the run's very end (the storage
	// requests, which the publish adds to) before each write of the manifest.
	Update func(*report.Manifest)
}

// Clock returns the run's phase clock, recording into m and logging to log.
func (r *Run) Clock(m *report.Manifest, log *slog.Logger) *Clock {
	return &Clock{m: m, log: log, now: r.now, start: r.Start, since: r.Start}
}

// Lap ends the current phase, named name.
func (c *Clock) Lap(name string) { c.LapAt(name, c.now()) }

// Now returns the time on the clock, for LapAt.
func (c *Clock) Now() time.Time { return c.now() }

// LapAt ends the current phase, named name, at a time taken earlier with Now (never before the
// phase's start): for a phase that ended while the run was already doing the next one.
func (c *Clock) LapAt(name string, at time.Time) {
	if at.Before(c.since) {
		at = c.since
	}
	p := c.m.Lap(name, &c.since, at)
	c.log.Info("phase done", "phase", p.Name, "seconds", p.Seconds)
}

// End ends the last phase, named name, and with it the run: the manifest's end and elapsed
// time are the phase's end.
func (c *Clock) End(name string) {
	c.Lap(name)
	c.stamp(c.since)
}

func (c *Clock) update() {
	if c.Update != nil {
		c.Update(c.m)
	}
}

// stamp sets the manifest's end to t.
func (c *Clock) stamp(t time.Time) {
	c.m.FinishedAt, c.m.Seconds = t.UTC(), t.Sub(c.start).Seconds()
}

// PublishRun publishes the staged dirs (Publish) with c's manifest, and sets its end, its elapsed
// time and its "publish" phase. The manifest goes in with the
// commit, so that a run rolled forward by a later one has it too; it cannot know how long the
// publish will take, so once the publish is done it is written again with the whole run's time,
// which is what a user should read: under S3 latency the publish can be most of a run. If that
// second write fails the run is still published, with the first manifest; a warning says so.
func (r *Run) PublishRun(ctx context.Context, dirs []commit.Dir, c *Clock) error {
	c.stamp(c.now())
	c.update()
	data, err := encodeManifest(c.m)
	if err != nil {
		return err
	}
	if err := r.Publish(ctx, dirs, data); err != nil {
		return err
	}
	c.End("publish")
	c.update()
	if data, err = encodeManifest(c.m); err == nil {
		err = storage.WriteFile(ctx, r.Store, commit.ManifestFile, data)
	}
	if err != nil {
		r.log.Warn("the run is published, but its manifest could not be updated with the publish's time", "error", err)
	}
	return nil
}

func encodeManifest(m *report.Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Publish makes the staged folders the output's tables. It first confirms that the lock is still
// the run's (renewing the lease, so the commit point has a whole lease to be written in), then
// commits (see commit.Publish). An error before the commit point leaves the previous tables as
// they were.
func (r *Run) Publish(ctx context.Context, dirs []commit.Dir, manifest []byte) error {
	// The DuckDB views of the lake go beside the manifest: duckdb -init <output>/_views.sql.
	var views bytes.Buffer
	if err := ddl.Write(&views, "duckdb", r.Store.Location("")); err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, r.Store, r.Staging()+"/"+commit.ViewsFile, views.Bytes()); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := r.lock.Confirm(ctx); err != nil {
		return err
	}
	committed, err := commit.Publish(ctx, r.Store, r.ID, dirs, manifest)
	r.committed = committed
	return err
}

// End finishes the run: unless it published, it removes the staging (after a failure, unless
// keepStaging says the user needs what it holds); then it releases the lock. It
// returns err, or the cause of the failure when the lock was lost first.
func (r *Run) End(ctx context.Context, err error) error {
	if r.ended {
		return err
	}
	r.ended = true
	if err != nil && errors.Is(context.Cause(ctx), ErrLockLost) {
		err = context.Cause(ctx)
	}
	bg := context.WithoutCancel(ctx)
	// The staging folder is the run's own, even when it lost the lock: removing it cannot touch
	// another run's files, and writes that were under way when the lock was lost are cleaned up.
	// A run that ends without publishing and without error (an incremental run with nothing new
	// to load) has nothing to keep either.
	if !r.committed && (err == nil || !keepStaging(err)) {
		if derr := commit.Discard(bg, r.Store, r.ID); derr != nil {
			r.log.Warn("could not remove the staging; the next run removes it", "err", derr)
		}
	}
	if rerr := r.lock.Release(bg); rerr != nil {
		if err == nil && errors.Is(rerr, ErrLockLost) {
			// Published, but someone broke the lock meanwhile: the tables are this run's.
			r.log.Warn("the lock was taken over after this run published", "err", rerr)
		} else if err == nil {
			r.log.Warn("could not release the output's lock; its lease runs out in a minute", "err", rerr)
		}
	}
	return err
}

// keepStaging tells the failures after which the staging is kept for the user to read: too many
// rejected records, whose rejected file the error message points to. The next run removes it.
func keepStaging(err error) bool { return errors.Is(err, ErrTooManyRejected) }
