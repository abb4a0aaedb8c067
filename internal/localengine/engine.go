// Package localengine runs the whole pipeline on one machine: read and decode the inputs with
// bounded concurrency, apply the SPEC's rules (package transform), write the tables to staging
// (package sink) and publish them (package commit).
//
// It only orchestrates: every rule it applies lives in transform, so the distributed engine,
// which calls the same functions, produces the same tables.
package localengine

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"slices"
	"strings"
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

// fileResult is what decoding one file produced.
type fileResult struct {
	songs   []record.Song
	events  []record.Event
	rejects []*record.Reject
}

var decoders = sync.Pool{New: func() any { return new(decode.Decoder) }}

// list lists both inputs.
func list(ctx context.Context, o Options, log *slog.Logger) (songFiles, logFiles []source.File, err error) {
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
		return nil, nil, err
	}
	total := sumSizes(songFiles) + sumSizes(logFiles)
	o.Progress.FilesTotal.Store(int64(len(songFiles) + len(logFiles)))
	o.Progress.BytesTotal.Store(total)
	log.Info("listed inputs", "song_files", len(songFiles), "log_files", len(logFiles), "bytes", total)
	return songFiles, logFiles, nil
}

// readFiles reads and decodes files, at most o.Workers at a time (more on remote stores, where
// the wait is the network's). Results are kept per file, in file order, so the outcome does not
// depend on scheduling; done, if not nil, is called on each file's result as soon as it is
// decoded, from the worker that decoded it.
func readFiles(ctx context.Context, o Options, log *slog.Logger, root *source.Root, files []source.File,
	decodeFile func(d *decode.Decoder, f source.File, data []byte, res *fileResult), done func(*fileResult),
) (res []fileResult, st report.Input, err error) {
	res = make([]fileResult, len(files))
	var nbytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// Twice the workers: while some decode, the others wait for the disk (cold files) or network.
	g.SetLimit(storage.Concurrency(root.Store, 2*o.Workers))
	for i, f := range files {
		g.Go(func() error {
			data, err := root.ReadAll(gctx, f)
			if err != nil {
				return err
			}
			d := decoders.Get().(*decode.Decoder)
			decodeFile(d, f, data, &res[i])
			decoders.Put(d)
			if done != nil {
				done(&res[i])
			}
			nbytes.Add(int64(len(data)))
			o.Progress.FilesDone.Add(1)
			o.Progress.BytesDone.Add(f.Size)
			log.Debug("decoded", "file", root.Store.Location(f.Name), "bytes", len(data),
				"records", len(res[i].songs)+len(res[i].events), "rejected", len(res[i].rejects))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, st, err
	}
	st = report.Input{Root: root.Display, Files: len(files), Bytes: nbytes.Load(), RejectedBy: map[string]int64{}}
	for _, r := range res {
		st.Kept += int64(len(r.songs) + len(r.events))
		st.Rejected += int64(len(r.rejects))
		for _, rj := range r.rejects {
			st.RejectedBy[string(rj.Reason)]++
		}
	}
	st.Read = st.Kept + st.Rejected
	return res, st, nil
}

func sumSizes(files []source.File) (n int64) {
	for _, f := range files {
		n += f.Size
	}
	return n
}

func decodeSongs(d *decode.Decoder, f source.File, data []byte, res *fileResult) {
	d.SongFile(f.Path, data,
		func(s record.Song) { res.songs = append(res.songs, s) },
		func(r *record.Reject) { res.rejects = append(res.rejects, r) })
}

func decodeEvents(d *decode.Decoder, f source.File, data []byte, res *fileResult) {
	// One event per line at most: sizing the slice once saves copying a growing slice of large
	// structs again and again.
	res.events = make([]record.Event, 0, bytes.Count(data, []byte{'\n'})+1)
	d.EventLines(f.Path, data, 1, 0,
		func(e record.Event) { res.events = append(res.events, e) },
		func(r *record.Reject) { res.rejects = append(res.rejects, r) })
}

// catalog is what the song files give: the songs and artists tables and the songs that plays are
// matched against.
type catalog struct {
	songs      []table.Song
	artists    []table.Artist
	candidates map[transform.MatchKey][]record.Song
	duplicates int64
}

// buildCatalog applies the SPEC's first-record-wins rules to the songs, by folding transform's
// choices over maps. Records arrive in order, but the choices do not rely on it.
func buildCatalog(files []fileResult) *catalog {
	songs := map[string]*record.Song{}
	artists := map[string]*record.Song{}
	var records int
	for _, file := range files {
		for i := range file.songs {
			s := &file.songs[i]
			records++
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
	c := &catalog{
		candidates: map[transform.MatchKey][]record.Song{},
		duplicates: int64(records - len(songs)),
		songs:      make([]table.Song, 0, len(songs)),
		artists:    make([]table.Artist, 0, len(artists)),
	}
	for _, s := range songs {
		k := transform.SongMatchKey(s)
		c.candidates[k] = append(c.candidates[k], *s)
		c.songs = append(c.songs, transform.SongRow(s))
	}
	for _, s := range artists {
		c.artists = append(c.artists, transform.ArtistRow(s))
	}
	slices.SortFunc(c.songs, func(a, b table.Song) int { return transform.CompareSongs(&a, &b) })
	slices.SortFunc(c.artists, func(a, b table.Artist) int { return transform.CompareArtists(&a, &b) })
	return c
}

// foldShards is the number of independently locked parts of the play fold: enough that the
// workers folding decoded files rarely wait for each other.
const foldShards = 64

// folder deduplicates plays and picks each user's latest event while files are still being
// decoded, so that the work is spread over the decoding workers instead of following them. Plays
// are sharded by key; each file's plays are grouped by shard first, so each shard is locked once
// per file.
type folder struct {
	seed   maphash.Seed
	shards [foldShards]struct {
		mu    sync.Mutex
		plays map[transform.EventKey]*record.Event
		seen  int64 // plays folded, duplicates included
	}
	usersMu sync.Mutex
	users   map[int64]*record.Event
}

func newFolder() *folder {
	f := &folder{seed: maphash.MakeSeed(), users: map[int64]*record.Event{}}
	for i := range f.shards {
		f.shards[i].plays = map[transform.EventKey]*record.Event{}
	}
	return f
}

// add folds one file's events; the folder keeps pointers into events.
func (f *folder) add(events []record.Event) {
	var byShard [foldShards][]*record.Event
	users := map[int64]*record.Event{}
	for i := range events {
		e := &events[i]
		if e.HasUser {
			if prev, ok := users[e.UserID]; ok {
				users[e.UserID] = transform.LatestUserOf(prev, e)
			} else {
				users[e.UserID] = e
			}
		}
		if e.IsSongPlay() {
			s := maphash.Comparable(f.seed, transform.KeyOf(e)) % foldShards
			byShard[s] = append(byShard[s], e)
		}
	}
	for s, es := range byShard {
		if len(es) == 0 {
			continue
		}
		sh := &f.shards[s]
		sh.mu.Lock()
		for _, e := range es {
			k := transform.KeyOf(e)
			if prev, ok := sh.plays[k]; ok {
				sh.plays[k] = transform.EarlierEventOf(prev, e)
			} else {
				sh.plays[k] = e
			}
		}
		sh.seen += int64(len(es))
		sh.mu.Unlock()
	}
	f.usersMu.Lock()
	for id, e := range users {
		if prev, ok := f.users[id]; ok {
			f.users[id] = transform.LatestUserOf(prev, e)
		} else {
			f.users[id] = e
		}
	}
	f.usersMu.Unlock()
}

// facts holds the rows of the tables built from the events, sorted.
type facts struct {
	songplays      []table.Songplay
	users          []table.User
	times          []table.Time
	matched        int64
	duplicatePlays int64
}

// buildFacts turns the folded events into the songplays, users and time tables, matching each
// play against the catalog; the shards are turned into rows in parallel.
func buildFacts(ctx context.Context, f *folder, cat *catalog, workers int) (*facts, error) {
	t := &facts{users: make([]table.User, 0, len(f.users))}
	for _, e := range f.users {
		t.users = append(t.users, transform.UserRow(e))
	}
	f.users = nil
	slices.SortFunc(t.users, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })

	// Rows are built per shard in parallel into one slice, then sorted as workers runs in
	// parallel and merged: copying rows is what costs, so they are copied as few times as possible.
	var offsets [foldShards + 1]int
	var seen int64
	for s := range f.shards {
		offsets[s+1] = offsets[s] + len(f.shards[s].plays)
		seen += f.shards[s].seen
	}
	rows := make([]table.Songplay, offsets[foldShards])
	var matched [foldShards]int64
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for s := range f.shards {
		g.Go(func() error {
			out := rows[offsets[s]:offsets[s]:offsets[s+1]]
			for _, e := range f.shards[s].plays {
				var match *record.Song
				if m, ok := transform.MatchSong(e, cat.candidates[transform.EventMatchKey(e)]); ok {
					match = &m
					matched[s]++
				}
				out = append(out, transform.SongplayRow(e, match))
			}
			f.shards[s].plays = nil // the last reference to the events: let them go
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for s := range f.shards {
		t.matched += matched[s]
	}
	t.songplays = sortPlays(rows, workers)
	t.duplicatePlays = seen - int64(len(t.songplays))
	if err := checkUniqueIDs(t.songplays); err != nil {
		return nil, err
	}
	// The plays are in start-time order: the time table is their distinct start times.
	for i := range t.songplays {
		if ts := t.songplays[i].StartTime; i == 0 || ts != t.songplays[i-1].StartTime {
			t.times = append(t.times, transform.TimeRow(ts))
		}
	}
	return t, nil
}

// playOrder is a play's sort key (transform.CompareSongplays) and its index: sorting these small
// values, then moving each row once, costs far less than sorting the wide rows themselves.
type playOrder struct {
	startTime, userID, sessionID int64
	item                         int32
	idx                          int32
}

func comparePlayOrder(a, b playOrder) int {
	return cmp.Or(cmp.Compare(a.startTime, b.startTime), cmp.Compare(a.userID, b.userID),
		cmp.Compare(a.sessionID, b.sessionID), cmp.Compare(a.item, b.item))
}

// sortPlays sorts rows in transform.CompareSongplays order with up to workers goroutines: their
// keys are sorted in runs at once, the runs merged pairwise, then the rows moved into place.
func sortPlays(rows []table.Songplay, workers int) []table.Songplay {
	keys := make([]playOrder, len(rows))
	for i := range rows {
		r := &rows[i]
		keys[i] = playOrder{r.StartTime, r.UserID, r.SessionID, r.ItemInSession, int32(i)}
	}
	n := max(1, min(workers, len(keys)/4096)) // small inputs are not worth the goroutines
	runs := make([][]playOrder, n)
	var wg sync.WaitGroup
	for i := range n {
		runs[i] = keys[i*len(keys)/n : (i+1)*len(keys)/n]
		wg.Go(func() { slices.SortFunc(runs[i], comparePlayOrder) })
	}
	wg.Wait()
	for len(runs) > 1 {
		next := make([][]playOrder, (len(runs)+1)/2)
		for i := range next {
			if 2*i+1 == len(runs) {
				next[i] = runs[2*i]
				continue
			}
			wg.Go(func() { next[i] = mergeOrders(runs[2*i], runs[2*i+1]) })
		}
		wg.Wait()
		runs = next
	}
	// Put the rows in key order in place, cycle by cycle (rows are wide: a second copy of them
	// would be the largest allocation of the run). A moved row's index is set to -1.
	order := runs[0]
	for i := range order {
		if order[i].idx < 0 {
			continue
		}
		tmp := rows[i]
		j := i
		for {
			k := int(order[j].idx)
			order[j].idx = -1
			if k == i {
				rows[j] = tmp
				break
			}
			rows[j] = rows[k]
			j = k
		}
	}
	return rows
}

// mergeOrders merges two sorted slices into a new one.
func mergeOrders(a, b []playOrder) []playOrder {
	out := make([]playOrder, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if comparePlayOrder(b[j], a[i]) < 0 {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	return append(append(out, a[i:]...), b[j:]...)
}

// checkUniqueIDs fails if two plays share a songplay_id (see transform.SongplayID).
func checkUniqueIDs(plays []table.Songplay) error {
	ids := make([]int64, len(plays))
	for i := range plays {
		ids[i] = plays[i].SongplayID
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			var keys []string
			for _, p := range plays {
				if p.SongplayID == ids[i] {
					keys = append(keys, fmt.Sprintf("(user %d, session %d, item %d)", p.UserID, p.SessionID, p.ItemInSession))
				}
			}
			return fmt.Errorf("%w: %d for %s", ErrDuplicateID, ids[i], strings.Join(keys, " and "))
		}
	}
	return nil
}

// stage writes one table under the staging folder, in g.
func stage[T any](ctx context.Context, g *errgroup.Group, o Options, stg, name string, rows []T, partition func(*T) string, res *sink.Result) {
	g.Go(func() (err error) {
		*res, err = sink.Table(ctx, o.Output, stg+"/"+name, rows, partition, o.Sink)
		res.Table = name
		return err
	})
}
