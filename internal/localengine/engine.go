// Package localengine runs the whole pipeline on one machine: read and decode the inputs with
// bounded concurrency, apply the SPEC's rules (package transform), write the tables to staging
// (package sink) and publish them (package commit).
//
// It only orchestrates: every rule it applies lives in transform, so the distributed engine,
// which calls the same functions, produces the same tables.
package localengine

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/state"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

// Options configure a run.
type Options struct {
	Songs, Logs      *source.Root
	Output           storage.Store
	Workers          int     // concurrent file reads and decodes; <= 0 means the number of CPUs
	MaxRejectedRatio float64 // fail when rejected / read exceeds it, for either input
	Sink             sink.Options
	Logger           *slog.Logger            // nil discards
	Progress         *report.Progress        // nil: nobody watches
	RunID            string                  // "" makes one from the time and a random suffix
	Now              func() time.Time        // nil means time.Now
	Lease            time.Duration           // the output lock's lease; <= 0 means run.DefaultLease
	Retries          func() int64            // requests retried by the storage clients, for the report
	Requests         func() map[string]int64 // requests made by the storage clients, by operation
	NoRepairText     bool                    // keep mojibake as it is (see decode.Decoder.NoRepair)
	// Incremental loads only the input files that the output's state (package state) has not
	// loaded yet, and publishes the tables a full run over all of them would (incremental.go).
	Incremental bool
	// MemoryLimit is the memory the run may use, in bytes; <= 0 means no limit. A full run whose
	// plays would not fit spills them to TempDir and merges them back (spill.go).
	MemoryLimit int64
	// TempDir holds a run's spill files; "" means os.TempDir(). They are removed when the run ends.
	TempDir string

	maxTS int64 // the latest ts an event may have (decode.MaxTSAt the run's start)
}

// Run runs the pipeline and returns its manifest. On error the previously published tables are
// left as they were.
func Run(ctx context.Context, o Options) (_ *report.Manifest, err error) {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = &report.Progress{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// This process is the only writer of its staging (it holds the output's lock): its files
	// need no temporary names.
	o.Sink.Direct = true
	r, ctx, err := run.Begin(ctx, o.Output, run.Options{ID: o.RunID, Command: "etl", Lease: o.Lease, Now: o.Now, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	// The staging is written, and the songs read, by goroutines of writes: a failed run stops
	// them (stopWrites cancels their context), and waits for them before End removes the staging.
	var writes *errgroup.Group
	wparent, stopWrites := context.WithCancelCause(ctx)
	defer func() {
		if err != nil && writes != nil {
			stopWrites(err)
			_ = writes.Wait()
		}
		stopWrites(nil)
		err = r.End(ctx, err)
	}()
	start := r.Start
	o.maxTS = decode.MaxTSAt(start)
	m := &report.Manifest{
		RunID: r.ID, Version: o.Sink.Version, Engine: "local", StartedAt: start.UTC(),
		Output: o.Output.Location(""), Compression: o.Sink.Compression, Workers: o.Workers, MemoryLimit: max(o.MemoryLimit, 0),
		Tables: map[string]report.Table{}, Recovered: r.Recovered.RolledForward,
	}
	if m.Compression == "" {
		m.Compression = "snappy"
	}
	log := o.Logger.With("run", r.ID)
	clock := r.Clock(m, log)
	if o.Incremental {
		return runIncremental(ctx, o, r, m, clock, log)
	}

	o.Progress.SetPhase("listing")
	songFiles, logFiles, err := list(ctx, o, log)
	if err != nil {
		return nil, err
	}
	clock.Lap("list")
	o.Progress.SetPhase("reading")
	stg := r.Staging()
	// The songs and the events are read at once: the events need nothing from the catalog until
	// the transform, and the catalog is thousands of small files whose reading waits on the
	// disk, cold, while the events keep the processors busy (at S, 2 s of 11 on a cold cache).
	// The songs and artists tables need nothing from the events: they are staged as soon as the
	// catalog is read, so that their thousands of partition files overlap with the events too.
	var wctx context.Context
	writes, wctx = errgroup.WithContext(wparent)
	var staged stagedTables
	var (
		cat       *catalog
		songRes   []fileResult
		songStats report.Input
		songsRead time.Time
		catReady  = make(chan struct{}) // closed when the four above are set
	)
	writes.Go(func() (err error) {
		songRes, songStats, err = readFiles(wctx, o, log, o.Songs, songFiles, decodeSongs)
		if err != nil {
			return err
		}
		cat = buildCatalog(songRes)
		songsRead = clock.Now()
		songStats.Duplicates = cat.duplicates
		log.Info("decoded songs", "records", songStats.Read, "rejected", songStats.Rejected, "songs", len(cat.songs), "artists", len(cat.artists))
		stage(wctx, writes, o, stg, table.NameSongs, cat.songs, (*table.Song).Partition, &staged.songs)
		stage(wctx, writes, o, stg, table.NameArtists, cat.artists, (*table.Artist).Partition, &staged.artists)
		close(catReady)
		return nil
	})

	fold := newFolder()
	fold.budget = &spillBudget{limit: o.MemoryLimit, tempDir: o.TempDir, parts: spillParts(logFiles.Files, o.MemoryLimit),
		started: func(dir string) {
			log.Info("spilling plays to disk", "folder", dir, "memory_limit", o.MemoryLimit)
			o.Progress.SetPhase("reading, spilling")
		}}
	// Every worker that may spill has returned when Run does: the spill folder is removed last.
	defer func() {
		if sp := fold.spill.Load(); sp != nil {
			sp.remove()
		}
	}()
	if spillsAtOnce(logFiles.Files) {
		if err := fold.startSpill(); err != nil {
			return nil, err
		}
	}
	logRes, eventStats, err := readFiles(wctx, o, log, o.Logs, logFiles, foldEvents(fold))
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			err = writesErr(wctx, writes) // reading the songs or a staging write failed first: that is the cause
		}
		return nil, err
	}
	// The catalog is needed from here on: wait for it, not for its tables.
	select {
	case <-catReady:
	case <-wctx.Done():
	}
	if wctx.Err() != nil { // both may be ready: a failure wins
		return nil, writesErr(wctx, writes)
	}
	clock.LapAt("read songs", songsRead)
	m.Inputs = map[string]report.Input{"songs": songStats, "events": eventStats}
	var rejects []*record.Reject
	for _, r := range slices.Concat(songRes, logRes) {
		rejects = append(rejects, r.rejects...)
	}

	o.Progress.SetPhase("writing")
	rej, err := sink.Rejects(ctx, o.Output, stg+"/"+run.RejectedFile, rejects)
	if err != nil {
		return nil, err
	}
	m.Rejected = report.Table{Rows: rej.Rows, Files: rej.Files, Bytes: rej.Bytes}
	if err = run.CheckRejected(m.Inputs, o.MaxRejectedRatio, o.Output.Location(stg+"/"+run.RejectedDir)); err != nil {
		return nil, err
	}
	clock.Lap("read events")

	o.Progress.SetPhase("transforming")
	var facts *facts
	spilled := fold.spill.Load() != nil
	if spilled {
		facts, err = spilledFacts(ctx, o, fold, cat, stg, &staged)
	} else {
		facts, err = buildFacts(ctx, fold, cat, o.Workers)
	}
	if err != nil {
		return nil, err
	}
	m.Plays, m.Matched, m.Spilled = facts.plays, facts.matched, spilled
	if m.Plays > 0 {
		m.MatchRate = float64(m.Matched) / float64(m.Plays)
	}
	ev := m.Inputs["events"]
	ev.Duplicates = facts.duplicatePlays
	m.Inputs["events"] = ev
	log.Info("transformed", "songplays", facts.plays, "matched", facts.matched, "spilled", spilled,
		"users", len(facts.users), "songs", len(cat.songs), "artists", len(cat.artists), "time", len(facts.times))
	clock.Lap("transform")

	o.Progress.SetPhase("writing")
	if !spilled {
		stage(wctx, writes, o, stg, table.NameSongplays, facts.songplays, (*table.Songplay).Partition, &staged.songplays)
		stage(wctx, writes, o, stg, table.NameTime, facts.times, (*table.Time).Partition, &staged.time)
	} else { // written day by day by spilledFacts
		staged.songplays.Table, staged.time.Table = table.NameSongplays, table.NameTime
	}
	stage(wctx, writes, o, stg, table.NameUsers, facts.users, (*table.User).Partition, &staged.users)
	if err = writes.Wait(); err != nil {
		return nil, err
	}
	dirs := []commit.Dir{{Name: run.RejectedDir, Files: rej.Files, Bytes: rej.Bytes}}
	for _, t := range staged.all() {
		m.Tables[t.Table] = report.Table{Rows: t.Rows, Files: t.Files, Bytes: t.Bytes, Partitions: t.Partitions}
		dirs = append(dirs, commit.Dir{Name: t.Table, Files: t.Files, Bytes: t.Bytes})
		log.Info("staged table", "table", t.Table, "rows", t.Rows, "files", t.Files, "bytes", t.Bytes)
	}

	// A full run leaves no incremental state behind: it would describe other tables.
	dirs = append(dirs, commit.Dir{Name: state.Dir})
	clock.Lap("stage")
	return publish(ctx, o, r, m, dirs, clock, log)
}

// writesErr returns why the goroutines of writes stopped: the first one's error, or the cause of
// wctx, their context, when they all returned nil (a cancelled run).
func writesErr(wctx context.Context, writes *errgroup.Group) error {
	if err := writes.Wait(); err != nil {
		return err
	}
	return context.Cause(wctx)
}

// publish writes the manifest and publishes the staged dirs.
func publish(ctx context.Context, o Options, r *run.Run, m *report.Manifest, dirs []commit.Dir, clock *run.Clock, log *slog.Logger) (*report.Manifest, error) {
	o.Progress.SetPhase("publishing")
	clock.Update = func(m *report.Manifest) {
		if o.Retries != nil {
			m.Retries = o.Retries()
		}
		if o.Requests != nil {
			if n := o.Requests(); len(n) > 0 {
				m.Requests = n
			}
		}
	}
	if err := r.PublishRun(ctx, dirs, clock); err != nil {
		return nil, err
	}
	log.Info("published", "output", m.Output)
	return m, nil
}

// stagedTables are the results of writing each table to the staging.
type stagedTables struct {
	songplays, users, songs, artists, time sink.Result
}

// all returns the results in table.All order.
func (s *stagedTables) all() []sink.Result {
	return []sink.Result{s.songplays, s.users, s.songs, s.artists, s.time}
}

// stage writes one table under the staging folder, in g.
func stage[T any](ctx context.Context, g *errgroup.Group, o Options, stg, name string, rows []T, partition func(*T) string, res *sink.Result) {
	g.Go(func() (err error) {
		*res, err = sink.Table(ctx, o.Output, stg+"/"+name, rows, partition, o.Sink)
		res.Table = name
		return err
	})
}
