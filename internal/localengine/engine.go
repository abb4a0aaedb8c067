// Package localengine runs the whole pipeline on one machine: read and decode the inputs with
// bounded concurrency, apply the SPEC's rules (package transform), write the tables to staging
// (package sink) and publish them (package commit).
//
// It only orchestrates: every rule it applies lives in transform, so the distributed engine,
// which calls the same functions, produces the same tables.
package localengine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// RejectedDir is the folder, under the output root, of the rejected records.
const RejectedDir = "_rejected"

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
		o.RunID = newRunID(start)
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
	in, err := read(ctx, o, log)
	if err != nil {
		return nil, err
	}
	m.Inputs = map[string]report.Input{"songs": in.songStats, "events": in.eventStats}

	stg := commit.Staging(o.RunID)
	// Until Publish starts, a failure discards the staging; from then on the staging may hold a
	// commit marker, and the next run's Recover decides (roll forward or discard).
	publishing := false
	defer func() {
		if err != nil && !publishing && !errors.Is(err, ErrTooManyRejected) {
			// Best effort: the next run's Recover removes whatever this leaves.
			if derr := commit.Discard(context.WithoutCancel(ctx), o.Output, o.RunID); derr != nil {
				log.Warn("could not remove staging", "err", derr)
			}
		}
	}()

	o.Progress.SetPhase("write")
	rej, err := sink.Rejects(ctx, o.Output, stg+"/"+RejectedDir+"/rejected.jsonl", in.rejects)
	if err != nil {
		return nil, err
	}
	m.Rejected = report.Table{Rows: rej.Rows, Files: rej.Files, Bytes: rej.Bytes}
	for name, st := range m.Inputs {
		if st.Read > 0 && float64(st.Rejected)/float64(st.Read) > o.MaxRejectedRatio {
			err = fmt.Errorf("%w: %d of %d %s rejected (%.2f%%, the limit is %.2f%%, see --max-rejected-ratio); the tables were left as they were; the rejected records are in %s",
				ErrTooManyRejected, st.Rejected, st.Read, name,
				100*float64(st.Rejected)/float64(st.Read), 100*o.MaxRejectedRatio,
				o.Output.Location(stg+"/"+RejectedDir))
			return nil, err
		}
	}

	o.Progress.SetPhase("transform")
	tables, err := build(in)
	if err != nil {
		return nil, err
	}
	m.Plays, m.Matched = int64(len(tables.songplays)), tables.matched
	if m.Plays > 0 {
		m.MatchRate = float64(m.Matched) / float64(m.Plays)
	}
	ev := m.Inputs["events"]
	ev.Duplicates = tables.duplicatePlays
	m.Inputs["events"] = ev
	sg := m.Inputs["songs"]
	sg.Duplicates = tables.duplicateSongs
	m.Inputs["songs"] = sg
	log.Info("transformed", "songplays", len(tables.songplays), "matched", tables.matched,
		"users", len(tables.users), "songs", len(tables.songs), "artists", len(tables.artists), "time", len(tables.times))

	o.Progress.SetPhase("write")
	results, err := write(ctx, o, stg, tables)
	if err != nil {
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
	if err = commit.Publish(ctx, o.Output, o.RunID, append(slices.Clone(table.All), RejectedDir), append(manifest, '\n')); err != nil {
		return nil, err
	}
	log.Info("published", "output", m.Output)
	return m, nil
}

func newRunID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// inputs is everything decoded, in (file path, position) order: one slice per file, so that
// millions of events are not copied again into one.
type inputs struct {
	songs      [][]record.Song
	events     [][]record.Event
	rejects    []*record.Reject
	songStats  report.Input
	eventStats report.Input
}

// fileResult is what decoding one file produced.
type fileResult struct {
	songs   []record.Song
	events  []record.Event
	rejects []*record.Reject
}

var decoders = sync.Pool{New: func() any { return new(decode.Decoder) }}

// read lists both inputs and decodes every file, at most o.Workers files at a time. Results are
// kept per file and concatenated in file order, so the outcome does not depend on scheduling.
func read(ctx context.Context, o Options, log *slog.Logger) (*inputs, error) {
	var songFiles, logFiles []source.File
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		songFiles, err = o.Songs.List(gctx)
		if err != nil {
			return fmt.Errorf("songs: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		logFiles, err = o.Logs.List(gctx)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var total int64
	for _, f := range slices.Concat(songFiles, logFiles) {
		total += f.Size
	}
	o.Progress.FilesTotal.Store(int64(len(songFiles) + len(logFiles)))
	o.Progress.BytesTotal.Store(total)
	log.Info("listed inputs", "song_files", len(songFiles), "log_files", len(logFiles), "bytes", total)
	o.Progress.SetPhase("read")

	songRes := make([]fileResult, len(songFiles))
	logRes := make([]fileResult, len(logFiles))
	var songBytes, logBytes atomic.Int64
	g, gctx = errgroup.WithContext(ctx)
	// Remote stores are read with many requests in flight: there the wait is the network's.
	g.SetLimit(max(storage.Concurrency(o.Songs.Store, o.Workers), storage.Concurrency(o.Logs.Store, o.Workers)))
	do := func(root *source.Root, f source.File, res *fileResult, nbytes *atomic.Int64, isSong bool) {
		g.Go(func() error {
			data, err := root.ReadAll(gctx, f)
			if err != nil {
				return err
			}
			d := decoders.Get().(*decode.Decoder)
			defer decoders.Put(d)
			rej := func(r *record.Reject) { res.rejects = append(res.rejects, r) }
			if isSong {
				d.SongFile(f.Path, data, func(s record.Song) { res.songs = append(res.songs, s) }, rej)
			} else {
				// One event per line at most: sizing the slice once saves copying a growing
				// slice of large structs again and again.
				res.events = make([]record.Event, 0, bytes.Count(data, []byte{'\n'})+1)
				d.EventLines(f.Path, data, 1, 0, func(e record.Event) { res.events = append(res.events, e) }, rej)
			}
			nbytes.Add(int64(len(data)))
			o.Progress.FilesDone.Add(1)
			o.Progress.BytesDone.Add(f.Size)
			log.Debug("decoded", "file", root.Store.Location(f.Name), "bytes", len(data),
				"records", len(res.songs)+len(res.events), "rejected", len(res.rejects))
			return nil
		})
	}
	for i, f := range songFiles {
		do(o.Songs, f, &songRes[i], &songBytes, true)
	}
	for i, f := range logFiles {
		do(o.Logs, f, &logRes[i], &logBytes, false)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	in := &inputs{
		songStats:  report.Input{Root: o.Songs.Display, Files: len(songFiles), Bytes: songBytes.Load(), RejectedBy: map[string]int64{}},
		eventStats: report.Input{Root: o.Logs.Display, Files: len(logFiles), Bytes: logBytes.Load(), RejectedBy: map[string]int64{}},
	}
	tally := func(st *report.Input, r fileResult, kept int) {
		st.Kept += int64(kept)
		st.Rejected += int64(len(r.rejects))
		for _, rj := range r.rejects {
			st.RejectedBy[string(rj.Reason)]++
		}
		st.Read = st.Kept + st.Rejected
		in.rejects = append(in.rejects, r.rejects...)
	}
	for _, r := range songRes {
		in.songs = append(in.songs, r.songs)
		tally(&in.songStats, r, len(r.songs))
	}
	for _, r := range logRes {
		in.events = append(in.events, r.events)
		tally(&in.eventStats, r, len(r.events))
	}
	return in, nil
}

// tables holds the rows of the five tables, sorted.
type tables struct {
	songplays      []table.Songplay
	users          []table.User
	songs          []table.Song
	artists        []table.Artist
	times          []table.Time
	matched        int64
	duplicatePlays int64
	duplicateSongs int64
}

// build applies the SPEC's rules by folding transform's choices over maps. Records arrive in
// order, but the choices do not rely on it.
func build(in *inputs) (*tables, error) {
	songs := map[string]*record.Song{}
	artists := map[string]*record.Song{}
	var songRecords int
	for _, file := range in.songs {
		for i := range file {
			s := &file[i]
			songRecords++
			if prev, ok := songs[s.SongID]; ok {
				songs[s.SongID] = transform.FirstSongOf(prev, s)
			} else {
				songs[s.SongID] = s
			}
			if prev, ok := artists[s.ArtistID]; ok {
				artists[s.ArtistID] = transform.FirstSongOf(prev, s)
			} else {
				artists[s.ArtistID] = s
			}
		}
	}
	candidates := map[transform.MatchKey][]record.Song{}
	for _, s := range songs {
		k := transform.SongMatchKey(s)
		candidates[k] = append(candidates[k], *s)
	}

	plays := map[transform.EventKey]*record.Event{}
	users := map[int64]*record.Event{}
	var nextSongs int64
	for _, file := range in.events {
		for i := range file {
			e := &file[i]
			if e.HasUser {
				if prev, ok := users[e.UserID]; ok {
					users[e.UserID] = transform.LatestUserOf(prev, e)
				} else {
					users[e.UserID] = e
				}
			}
			if !e.IsSongPlay() {
				continue
			}
			nextSongs++
			k := transform.KeyOf(e)
			if prev, ok := plays[k]; ok {
				plays[k] = transform.EarlierEventOf(prev, e)
			} else {
				plays[k] = e
			}
		}
	}

	t := &tables{
		duplicatePlays: nextSongs - int64(len(plays)),
		duplicateSongs: int64(songRecords - len(songs)),
	}
	ids := make(map[int64]transform.EventKey, len(plays))
	starts := map[int64]struct{}{}
	t.songplays = make([]table.Songplay, 0, len(plays))
	for k, e := range plays {
		var match *record.Song
		if s, ok := transform.MatchSong(e, candidates[transform.EventMatchKey(e)]); ok {
			match = &s
			t.matched++
		}
		row := transform.SongplayRow(e, match)
		if other, dup := ids[row.SongplayID]; dup {
			return nil, fmt.Errorf("%w: %d for %+v and %+v", ErrDuplicateID, row.SongplayID, other, k)
		}
		ids[row.SongplayID] = k
		starts[row.StartTime] = struct{}{}
		t.songplays = append(t.songplays, row)
	}
	for _, e := range users {
		t.users = append(t.users, transform.UserRow(e))
	}
	for _, s := range songs {
		t.songs = append(t.songs, transform.SongRow(s))
	}
	for _, s := range artists {
		t.artists = append(t.artists, transform.ArtistRow(s))
	}
	for ts := range starts {
		t.times = append(t.times, transform.TimeRow(ts))
	}
	slices.SortFunc(t.songplays, func(a, b table.Songplay) int { return transform.CompareSongplays(&a, &b) })
	slices.SortFunc(t.users, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })
	slices.SortFunc(t.songs, func(a, b table.Song) int { return transform.CompareSongs(&a, &b) })
	slices.SortFunc(t.artists, func(a, b table.Artist) int { return transform.CompareArtists(&a, &b) })
	slices.SortFunc(t.times, func(a, b table.Time) int { return transform.CompareTimes(&a, &b) })
	return t, nil
}

// write stages the five tables, in parallel.
func write(ctx context.Context, o Options, stg string, t *tables) ([]sink.Result, error) {
	results := make([]sink.Result, len(table.All))
	g, gctx := errgroup.WithContext(ctx)
	dir := func(name string) string { return stg + "/" + name }
	g.Go(func() (err error) {
		results[0], err = sink.Table(gctx, o.Output, dir(table.NameSongplays), t.songplays, (*table.Songplay).Partition, o.Sink)
		return err
	})
	g.Go(func() (err error) {
		results[1], err = sink.Table(gctx, o.Output, dir(table.NameUsers), t.users, (*table.User).Partition, o.Sink)
		return err
	})
	g.Go(func() (err error) {
		results[2], err = sink.Table(gctx, o.Output, dir(table.NameSongs), t.songs, (*table.Song).Partition, o.Sink)
		return err
	})
	g.Go(func() (err error) {
		results[3], err = sink.Table(gctx, o.Output, dir(table.NameArtists), t.artists, (*table.Artist).Partition, o.Sink)
		return err
	})
	g.Go(func() (err error) {
		results[4], err = sink.Table(gctx, o.Output, dir(table.NameTime), t.times, (*table.Time).Partition, o.Sink)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, name := range table.All {
		results[i].Table = name
	}
	return results, nil
}
