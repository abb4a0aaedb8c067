// Package localengine runs the whole pipeline on one machine: read and decode the inputs with
// bounded concurrency, apply the SPEC's rules (package transform), write the tables to staging
// (package sink) and publish them (package commit).
//
// It only orchestrates: every rule it applies lives in transform, so the distributed engine,
// which calls the same functions, produces the same tables.
package localengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

// RejectedDir is the folder, under the output root, of the rejected records, and RejectedFile
// the file in it. Every engine writes them there.
const (
	RejectedDir  = "_rejected"
	RejectedFile = RejectedDir + "/rejected.jsonl"
)

// PublishedDirs are the folders a run owns under the output root: every table, and the rejected
// records even when a run rejected nothing, so that an old one is removed.
func PublishedDirs() []string { return append(slices.Clone(table.All), RejectedDir) }

// CheckRejected fails, with ErrTooManyRejected, when the rejected share of the songs or of the
// events exceeds maxRatio; where says where the rejected records are.
func CheckRejected(inputs map[string]report.Input, maxRatio float64, where string) error {
	for _, name := range []string{"songs", "events"} {
		st := inputs[name]
		if st.Read > 0 && float64(st.Rejected)/float64(st.Read) > maxRatio {
			return fmt.Errorf("%w: %d of %d %s rejected (%.2f%%, the limit is %.2f%%, see --max-rejected-ratio); the tables were left as they were; the rejected records are in %s",
				ErrTooManyRejected, st.Rejected, st.Read, name,
				100*float64(st.Rejected)/float64(st.Read), 100*maxRatio, where)
		}
	}
	return nil
}

// Options configure a run.
type Options struct {
	Songs, Logs      *source.Root
	Output           storage.Store
	Workers          int     // concurrent file reads and decodes; <= 0 means the number of CPUs
	MaxRejectedRatio float64 // fail when rejected / read exceeds it, for either input
	Sink             sink.Options
	Logger           *slog.Logger     // nil discards
	Progress         *report.Progress // nil: nobody watches
	RunID            string           // "" makes one from the time and a random suffix
	Now              func() time.Time // nil means time.Now
	Retries          func() int64     // requests retried by the storage clients, for the report
}

// ErrTooManyRejected is returned when the rejected share of an input exceeds the threshold.
var ErrTooManyRejected = errors.New("too many rejected records")

// ErrDuplicateID is returned in the (astronomically unlikely) case that two song plays hash to the
// same songplay_id: the run fails rather than write a table whose id is not unique.
var ErrDuplicateID = errors.New("songplay_id collision")

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
	start := o.Now()
	if o.RunID == "" {
		o.RunID = NewRunID(start)
	}
	m := &report.Manifest{
		RunID: o.RunID, Version: o.Sink.Version, Engine: "local", StartedAt: start.UTC(),
		Output: o.Output.Location(""), Compression: o.Sink.Compression, Workers: o.Workers,
		Tables: map[string]report.Table{},
	}
	if m.Compression == "" {
		m.Compression = "snappy"
	}
	log := o.Logger.With("run", o.RunID)

	rec, err := commit.Recover(ctx, o.Output)
	if err != nil {
		return nil, err
	}
	for _, id := range rec.RolledForward {
		log.Warn("finished publishing an interrupted earlier run", "earlier_run", id)
	}
	for _, id := range rec.Discarded {
		log.Info("removed the staging of a failed earlier run", "earlier_run", id)
	}
	m.Recovered = rec.RolledForward

	o.Progress.SetPhase("list")
	songFiles, logFiles, err := list(ctx, o, log)
	if err != nil {
		return nil, err
	}
	o.Progress.SetPhase("read")
	songRes, songStats, err := readFiles(ctx, o, log, o.Songs, songFiles, decodeSongs, nil)
	if err != nil {
		return nil, err
	}
	cat := buildCatalog(songRes)
	songStats.Duplicates = cat.duplicates
	log.Info("decoded songs", "records", songStats.Read, "rejected", songStats.Rejected, "songs", len(cat.songs), "artists", len(cat.artists))

	stg := commit.Staging(o.RunID)
	// The songs and artists tables need nothing from the events: they are staged while the events
	// are decoded, so that their thousands of partition files overlap with that work. writes must
	// be waited for before anything else touches the staging.
	writes, wctx := errgroup.WithContext(ctx)
	results := make([]sink.Result, len(table.All))
	stage(wctx, writes, o, stg, table.NameSongs, cat.songs, (*table.Song).Partition, &results[2])
	stage(wctx, writes, o, stg, table.NameArtists, cat.artists, (*table.Artist).Partition, &results[3])
	// Until Publish starts, a failure discards the staging; from then on the staging may hold a
	// commit marker, and the next run's Recover decides (roll forward or discard).
	publishing := false
	defer func() {
		if err == nil {
			return
		}
		_ = writes.Wait()
		if !publishing && !errors.Is(err, ErrTooManyRejected) {
			// Best effort: the next run's Recover removes whatever this leaves.
			if derr := commit.Discard(context.WithoutCancel(ctx), o.Output, o.RunID); derr != nil {
				log.Warn("could not remove staging", "err", derr)
			}
		}
	}()

	fold := newFolder()
	logRes, eventStats, err := readFiles(wctx, o, log, o.Logs, logFiles, decodeEvents, func(r *fileResult) { fold.add(r.events) })
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			err = writes.Wait() // a staging write failed first: that is the cause
		}
		return nil, err
	}
	m.Inputs = map[string]report.Input{"songs": songStats, "events": eventStats}
	var rejects []*record.Reject
	for _, r := range slices.Concat(songRes, logRes) {
		rejects = append(rejects, r.rejects...)
	}

	o.Progress.SetPhase("write")
	rej, err := sink.Rejects(ctx, o.Output, stg+"/"+RejectedFile, rejects)
	if err != nil {
		return nil, err
	}
	m.Rejected = report.Table{Rows: rej.Rows, Files: rej.Files, Bytes: rej.Bytes}
	if err = CheckRejected(m.Inputs, o.MaxRejectedRatio, o.Output.Location(stg+"/"+RejectedDir)); err != nil {
		return nil, err
	}

	o.Progress.SetPhase("transform")
	facts, err := buildFacts(ctx, fold, cat, o.Workers)
	if err != nil {
		return nil, err
	}
	m.Plays, m.Matched = int64(len(facts.songplays)), facts.matched
	if m.Plays > 0 {
		m.MatchRate = float64(m.Matched) / float64(m.Plays)
	}
	ev := m.Inputs["events"]
	ev.Duplicates = facts.duplicatePlays
	m.Inputs["events"] = ev
	log.Info("transformed", "songplays", len(facts.songplays), "matched", facts.matched,
		"users", len(facts.users), "songs", len(cat.songs), "artists", len(cat.artists), "time", len(facts.times))

	o.Progress.SetPhase("write")
	stage(wctx, writes, o, stg, table.NameSongplays, facts.songplays, (*table.Songplay).Partition, &results[0])
	stage(wctx, writes, o, stg, table.NameUsers, facts.users, (*table.User).Partition, &results[1])
	stage(wctx, writes, o, stg, table.NameTime, facts.times, (*table.Time).Partition, &results[4])
	if err = writes.Wait(); err != nil {
		return nil, err
	}
	for _, r := range results {
		m.Tables[r.Table] = report.Table{Rows: r.Rows, Files: r.Files, Bytes: r.Bytes, Partitions: r.Partitions}
		log.Info("staged table", "table", r.Table, "rows", r.Rows, "files", r.Files, "bytes", r.Bytes)
	}

	o.Progress.SetPhase("commit")
	if o.Retries != nil {
		m.Retries = o.Retries()
	}
	end := o.Now()
	m.FinishedAt = end.UTC()
	m.Seconds = end.Sub(start).Seconds()
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	publishing = true
	if err = commit.Publish(ctx, o.Output, o.RunID, PublishedDirs(), append(manifest, '\n')); err != nil {
		return nil, err
	}
	log.Info("published", "output", m.Output)
	return m, nil
}

// NewRunID names a run: its start time, sortable, and a random suffix, so that two runs started
// in the same second do not share a staging folder.
func NewRunID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// stage writes one table under the staging folder, in g.
func stage[T any](ctx context.Context, g *errgroup.Group, o Options, stg, name string, rows []T, partition func(*T) string, res *sink.Result) {
	g.Go(func() (err error) {
		*res, err = sink.Table(ctx, o.Output, stg+"/"+name, rows, partition, o.Sink)
		res.Table = name
		return err
	})
}
