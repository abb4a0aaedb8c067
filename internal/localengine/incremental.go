package localengine

// An incremental run (Options.Incremental) loads only the input files the output has not loaded
// yet, and must publish exactly the tables — every row, every byte of every table file — that one
// full run over all the files loaded so far would. It keeps what the SPEC's rules need under
// _state/ (package state), written in the same commit as the tables:
//
//   - the catalog's first records (of each song_id and of each artist_id), which decide the
//     songs and artists tables and the song match;
//   - each user's latest event, which decides the users table;
//   - the deduplicated plays, one file per day (as songplays has), with the range of the days'
//     session ids, and the sorted songplay_ids of all plays, for the collision check;
//   - the rejected records, which _rejected/ lists in full;
//   - the files loaded, with their size and version, and what each table partition holds.
//
// Every rule is a fold (earliest play per key, latest event per user, first record per id) or a
// pure function of the folded values (the match, the rows), so folding the new records into the
// state gives the values a full run would compute. Only the partitions whose rows change are
// written again; as the Parquet writer is deterministic, an unchanged partition's files are the
// ones a full run would write, and they stay where they are.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/state"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// Errors of an incremental run that the user resolves with a full run.
var (
	// ErrInputChanged: a file an earlier run loaded has changed or is gone. It matches
	// source.ErrInput too.
	ErrInputChanged = errors.New("an input file loaded by an earlier run has changed")
	// ErrStateRoots: the state was loaded from other input locations.
	ErrStateRoots = errors.New("the lake was loaded from other inputs")
)

// inputChangedError is an ErrInputChanged about one file.
type inputChangedError struct {
	input, location, what string
}

func (e *inputChangedError) Error() string {
	return fmt.Sprintf("%s: %s was loaded by an earlier run and %s since; --incremental never mixes two versions of an input: run without --incremental to rebuild the lake from the inputs as they are",
		e.input, e.location, e.what)
}

func (e *inputChangedError) Is(target error) bool {
	return target == ErrInputChanged || target == source.ErrInput
}

// identity is what the state must have been written under for this run to build on it: anything
// that changes the tables' bytes.
func (o Options) identity() (version, rules string, settings, roots map[string]string) {
	compression := o.Sink.Compression
	if compression == "" {
		compression = "snappy"
	}
	settings = map[string]string{
		"compression":      strings.ToLower(compression),
		"target_file_size": strconv.FormatInt(o.Sink.TargetFileSize, 10),
		"row_group_rows":   strconv.Itoa(o.Sink.RowGroupRows),
		"repair_text":      strconv.FormatBool(!o.NoRepairText),
	}
	roots = map[string]string{"songs": rootID(o.Songs), "logs": rootID(o.Logs)}
	return o.Sink.Version, transform.RulesVersion, settings, roots
}

// rootID names an input root independently of how the user spelled it.
func rootID(r *source.Root) string {
	id := r.Store.Location(r.Prefix)
	if r.Pattern != "" {
		id += " (" + r.Pattern + ")"
	}
	return id
}

// prior is what earlier incremental runs left: nil meta means this run loads everything.
type prior struct {
	meta    *state.Meta
	songs   []record.Song
	users   []record.Event
	ids     []int64 // every songplay_id loaded, sorted
	rejects []*record.Reject
}

// loadMeta reads the state's description and tells whether this run can build on it; why says
// why not, for the summary. A state that is damaged, or that was loaded from other inputs, is an
// error: rebuilding silently would hide the damage, or replace the lake's history.
func loadMeta(ctx context.Context, o Options) (meta *state.Meta, why string, err error) {
	meta, err = state.ReadMeta(ctx, o.Output, state.Dir)
	switch {
	case errors.Is(err, state.ErrNoState):
		return nil, "no earlier incremental load in this output", nil
	case errors.Is(err, state.ErrIncompatible):
		return nil, fmt.Sprintf("rebuilt: %v", err), nil
	case err != nil:
		return nil, "", err
	}
	version, rules, settings, roots := o.identity()
	if !maps.Equal(meta.Roots, roots) {
		return nil, "", fmt.Errorf("%w: the state under %s was loaded from songs %s and logs %s; this run reads songs %s and logs %s: run without --incremental to rebuild the lake from these inputs",
			ErrStateRoots, o.Output.Location(state.Dir), meta.Roots["songs"], meta.Roots["logs"], roots["songs"], roots["logs"])
	}
	switch {
	case meta.Version != version:
		return nil, fmt.Sprintf("rebuilt: the lake was loaded by sparkify %s, this is %s", meta.Version, version), nil
	case meta.Rules != rules:
		return nil, fmt.Sprintf("rebuilt: the lake was loaded under rules %s, these are %s", meta.Rules, rules), nil
	case !maps.Equal(meta.Settings, settings):
		for _, k := range slices.Sorted(maps.Keys(settings)) {
			if meta.Settings[k] != settings[k] {
				return nil, fmt.Sprintf("rebuilt: the lake was loaded with %s %s, this run uses %s", k, meta.Settings[k], settings[k]), nil
			}
		}
		return nil, "rebuilt: the lake was loaded with other settings", nil
	}
	return meta, "", nil
}

// newFiles returns the files of l that meta has not loaded; a loaded file that changed or is
// gone is an error.
func newFiles(input string, root *source.Root, l source.Listing, meta *state.Meta) (source.Listing, int, error) {
	if meta == nil {
		return l, 0, nil
	}
	listed := map[string]source.File{}
	for _, f := range l.Files {
		listed[f.Path] = f
	}
	loaded := map[string]bool{}
	for _, ld := range meta.Loaded {
		if ld.Input != input {
			continue
		}
		loaded[ld.Path] = true
		f, ok := listed[ld.Path]
		switch {
		case !ok:
			return l, 0, &inputChangedError{input, root.Store.Location(root.Prefix) + "/" + ld.Path, "is gone"}
		case f.Size != ld.Size:
			return l, 0, &inputChangedError{input, root.Store.Location(f.Name), fmt.Sprintf("has changed (%d bytes then, %d now)", ld.Size, f.Size)}
		case f.Version != ld.ETag:
			return l, 0, &inputChangedError{input, root.Store.Location(f.Name), fmt.Sprintf("has changed (version %s then, %s now)", ld.ETag, f.Version)}
		}
	}
	out := l
	out.Files = nil
	for _, f := range l.Files {
		if !loaded[f.Path] {
			out.Files = append(out.Files, f)
		}
	}
	return out, len(l.Files) - len(out.Files), nil
}

// readPrior reads the state's data other than the plays, which are read per partition.
func readPrior(ctx context.Context, o Options, meta *state.Meta) (*prior, error) {
	p := &prior{meta: meta}
	if meta == nil {
		return p, nil
	}
	st := o.Output
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { p.songs, err = state.ReadSongs(gctx, st, state.Dir, meta); return err })
	g.Go(func() (err error) { p.users, err = state.ReadUsers(gctx, st, state.Dir, meta); return err })
	g.Go(func() (err error) { p.ids, err = state.ReadIDs(gctx, st, state.Dir, meta); return err })
	g.Go(func() (err error) { p.rejects, err = state.ReadRejects(gctx, st, state.Dir, meta); return err })
	return p, g.Wait()
}

// firsts is the catalog's first records: by song_id and by artist_id.
type firsts struct {
	songs, artists map[string]*record.Song
}

func foldFirsts(f firsts, recs []record.Song) {
	for i := range recs {
		s := &recs[i]
		if prev, ok := f.songs[s.SongID]; ok {
			f.songs[s.SongID] = transform.FirstSongOf(prev, s)
		} else {
			f.songs[s.SongID] = s
		}
		if prev, ok := f.artists[s.ArtistID]; ok {
			f.artists[s.ArtistID] = transform.FirstSongOf(prev, s)
		} else {
			f.artists[s.ArtistID] = s
		}
	}
}

func (f firsts) clone() firsts {
	return firsts{songs: maps.Clone(f.songs), artists: maps.Clone(f.artists)}
}

// records returns the distinct records that are first for a song or an artist, in source order:
// what the state keeps of the catalog.
func (f firsts) records() []record.Song {
	seen := map[*record.Song]bool{}
	var out []record.Song
	for _, m := range []map[string]*record.Song{f.songs, f.artists} {
		for _, s := range m {
			if !seen[s] {
				seen[s] = true
				out = append(out, *s)
			}
		}
	}
	slices.SortFunc(out, func(a, b record.Song) int { return compareSource(a.Src, b.Src) })
	return out
}

func compareSource(a, b record.Source) int {
	return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Offset, b.Offset))
}

// candidates is the song match's lookup: the first record of each song_id, by title and artist.
func (f firsts) candidates() map[transform.MatchKey][]record.Song {
	c := map[transform.MatchKey][]record.Song{}
	for _, s := range f.songs {
		k := transform.SongMatchKey(s)
		c[k] = append(c[k], *s)
	}
	return c
}

func (f firsts) songRows() []table.Song {
	return rowsOf(f.songs, transform.SongRow, transform.CompareSongs)
}

func (f firsts) artistRows() []table.Artist {
	return rowsOf(f.artists, transform.ArtistRow, transform.CompareArtists)
}

// rowsOf builds a dimension's rows from its first records, in the table's order.
func rowsOf[T any](firsts map[string]*record.Song, row func(*record.Song) T, compare func(a, b *T) int) []T {
	rows := make([]T, 0, len(firsts))
	for _, s := range firsts {
		rows = append(rows, row(s))
	}
	slices.SortFunc(rows, func(a, b T) int { return compare(&a, &b) })
	return rows
}

// unit is where a play's row goes: a day (table.Grouped) of a songplays (and time) partition.
// An incremental run rewrites units, one file each, not whole months.
type unit struct{ part, day string }

func (u unit) key() string { return u.part + "/" + u.day }

func compareUnits(a, b unit) int {
	return cmp.Or(strings.Compare(a.part, b.part), strings.Compare(a.day, b.day))
}

func playUnit(e *record.Event) unit {
	r := transform.SongplayRow(e, nil)
	return unit{r.Partition(), r.FileGroup()}
}

// comparePlays orders a partition's plays as their rows are ordered (transform.CompareSongplays).
func comparePlays(a, b *record.Event) int {
	return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.UserID, b.UserID),
		cmp.Compare(a.SessionID, b.SessionID), cmp.Compare(a.ItemInSession, b.ItemInSession))
}

// diffRows groups rows by partition and returns the rows of the partitions whose rows differ
// between old and new, in order, and the partitions that only old has.
func diffRows[T any](old, new []T, part func(*T) string, eq func(a, b *T) bool) (changed []T, gone []string) {
	group := func(rows []T) map[string][]T {
		g := map[string][]T{}
		for i := range rows {
			p := part(&rows[i])
			g[p] = append(g[p], rows[i])
		}
		return g
	}
	og, ng := group(old), group(new)
	var touched []string
	for p, rows := range ng {
		if !slices.EqualFunc(og[p], rows, func(a, b T) bool { return eq(&a, &b) }) {
			touched = append(touched, p)
		}
	}
	for p := range og {
		if _, ok := ng[p]; !ok {
			gone = append(gone, p)
		}
	}
	slices.Sort(touched)
	slices.Sort(gone)
	for _, p := range touched {
		changed = append(changed, ng[p]...)
	}
	return changed, gone
}

func eqComparable[T comparable](a, b *T) bool { return *a == *b }

func eqArtist(a, b *table.Artist) bool {
	return a.ArtistID == b.ArtistID && a.Name == b.Name && a.Location == b.Location &&
		eqFloatPtr(a.Latitude, b.Latitude) && eqFloatPtr(a.Longitude, b.Longitude)
}

func eqSongplay(a, b *table.Songplay) bool {
	x, y := *a, *b
	x.SongLength, y.SongLength = nil, nil
	return x == y && eqFloatPtr(a.SongLength, b.SongLength)
}

func eqFloatPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// playsPlan is what an incremental run changes on the songplays side: the days whose plays
// change (written again: songplays, time and the state's plays) and those left with none.
type playsPlan struct {
	write      map[unit][]record.Event // unit -> its plays after this run, in row order
	rows       []table.Songplay        // the rows of the units in write, in order
	times      []table.Time            // their time rows
	matched    map[string]int64        // matched plays per unit key in write
	spans      []state.Span            // every plays file after this run
	gone       []unit                  // units left without plays
	ids        []int64                 // every songplay_id after this run; nil when unchanged
	duplicates int64                   // new plays that lost to an equal play, old or new
}

// planPlays folds the new plays (deduplicated among themselves by fold) into the loaded ones.
// Only the days that a new play goes to, and those whose range of session ids holds a new play's
// session (where a play with its key may be), are read from the state — all of them when rematch
// says the catalog's songs changed, since any old play may then match another song. Sessions
// follow time, so a daily load reads the day it adds and the day before, whose sessions ran past
// midnight; a backfill reads the days around it.
func planPlays(ctx context.Context, o Options, p *prior, fold *folder, oldCand, newCand map[transform.MatchKey][]record.Song, rematch bool) (*playsPlan, error) {
	var seen int64
	var news []*record.Event
	for s := range fold.shards {
		seen += fold.shards[s].seen
		for _, e := range fold.shards[s].plays {
			news = append(news, e)
		}
	}
	slices.SortFunc(news, comparePlays) // for a deterministic error message

	var spans []state.Span
	if p.meta != nil {
		spans = p.meta.Plays
	}
	loaded := make(map[unit]state.Span, len(spans))
	for _, sp := range spans {
		loaded[unit{sp.Partition, sp.Day}] = sp
	}
	// The days to read: those a new play goes to, and those that may hold a play with its key.
	read := map[unit]bool{}
	newUnits := make([]unit, len(news))
	sessions := make([]int64, 0, len(news))
	for i, e := range news {
		newUnits[i] = playUnit(e)
		if loaded[newUnits[i]].Rows > 0 {
			read[newUnits[i]] = true
		}
		sessions = append(sessions, e.SessionID)
	}
	slices.Sort(sessions)
	for _, sp := range spans {
		i, _ := slices.BinarySearch(sessions, sp.MinSession)
		if rematch || (i < len(sessions) && sessions[i] <= sp.MaxSession) {
			read[unit{sp.Partition, sp.Day}] = true
		}
	}
	old := map[unit][]record.Event{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storage.Concurrency(o.Output, o.Workers))
	for u := range read {
		g.Go(func() error {
			plays, err := state.ReadPlays(gctx, o.Output, state.Dir, p.meta, u.part, u.day)
			mu.Lock()
			old[u] = plays
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Fold: a new play replaces a loaded one with its key when the SPEC's rule prefers it.
	type at struct {
		u unit
		i int
	}
	index := map[transform.EventKey]at{}
	for u, plays := range old {
		for i := range plays {
			index[transform.KeyOf(&plays[i])] = at{u, i}
		}
	}
	removed := map[at]bool{}
	added := map[unit][]record.Event{}
	changed := map[unit]bool{}
	var winners []*record.Event // plays with a key not loaded before
	for i, e := range news {
		u := newUnits[i]
		if loc, ok := index[transform.KeyOf(e)]; ok {
			w := &old[loc.u][loc.i]
			if transform.EarlierEventOf(w, e) == w {
				continue // the loaded play stays
			}
			removed[loc] = true
			changed[loc.u] = true
		} else {
			winners = append(winners, e)
		}
		added[u] = append(added[u], *e)
		changed[u] = true
	}
	plan := &playsPlan{write: map[unit][]record.Event{}, matched: map[string]int64{}, duplicates: seen - int64(len(winners))}

	units := slices.Collect(maps.Keys(read))
	for u := range added {
		if !read[u] {
			units = append(units, u)
		}
	}
	slices.SortFunc(units, compareUnits)
	after := maps.Clone(loaded)
	for _, u := range units {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		var plays []record.Event
		for i := range old[u] {
			if !removed[at{u, i}] {
				plays = append(plays, old[u][i])
			}
		}
		plays = append(plays, added[u]...)
		if len(plays) == 0 {
			if read[u] {
				plan.gone = append(plan.gone, u)
				delete(after, u)
			}
			continue
		}
		if !changed[u] && !rematch {
			continue // read to look for duplicates of new plays, and none was there
		}
		slices.SortFunc(plays, func(a, b record.Event) int { return comparePlays(&a, &b) })
		rows, matched := playRows(plays, newCand)
		if !changed[u] {
			// Read because the catalog changed: written again only if a match changed.
			before, _ := playRows(plays, oldCand)
			if slices.EqualFunc(before, rows, func(a, b table.Songplay) bool { return eqSongplay(&a, &b) }) {
				continue
			}
		}
		plan.write[u] = plays
		plan.matched[u.key()] = matched
		plan.rows = append(plan.rows, rows...)
		var err error
		if plan.times, err = appendTimes(ctx, plan.times, rows); err != nil {
			return nil, err
		}
		sp := state.Span{Partition: u.part, Day: u.day, Rows: int64(len(plays)), MinSession: plays[0].SessionID, MaxSession: plays[0].SessionID}
		for i := range plays {
			sp.MinSession = min(sp.MinSession, plays[i].SessionID)
			sp.MaxSession = max(sp.MaxSession, plays[i].SessionID)
		}
		after[u] = sp
	}
	plan.spans = slices.SortedFunc(maps.Values(after), func(a, b state.Span) int {
		return compareUnits(unit{a.Partition, a.Day}, unit{b.Partition, b.Day})
	})

	// The id index gains the new keys' ids. A play with a loaded key is in a day read above, so
	// a new key whose id is already in the index is a collision, as a full run would find it.
	if len(winners) > 0 || p.meta == nil {
		if err := checkUniqueIDs(winners, eventID, eventKey); err != nil {
			return nil, err
		}
		fresh := make([]int64, len(winners))
		for i, e := range winners {
			fresh[i] = eventID(&e)
		}
		slices.Sort(fresh)
		ids := make([]int64, 0, len(p.ids)+len(fresh))
		i := 0
		for _, id := range p.ids {
			for i < len(fresh) && fresh[i] < id {
				ids = append(ids, fresh[i])
				i++
			}
			if i < len(fresh) && fresh[i] == id {
				for _, e := range winners {
					if eventID(&e) == id {
						return nil, fmt.Errorf("%w: %d for (user %d, session %d, item %d) and a play loaded before",
							run.ErrDuplicateID, id, e.UserID, e.SessionID, e.ItemInSession)
					}
				}
			}
			ids = append(ids, id)
		}
		plan.ids = append(ids, fresh[i:]...)
	}
	return plan, nil
}

func eventKey(e **record.Event) transform.EventKey { return transform.KeyOf(*e) }

func eventID(e **record.Event) int64 { return transform.SongplayID(transform.KeyOf(*e)) }

// playRows builds a partition's rows from its plays, in order, matching them against cand.
func playRows(plays []record.Event, cand map[transform.MatchKey][]record.Song) ([]table.Songplay, int64) {
	rows := make([]table.Songplay, len(plays))
	var matched int64
	for i := range plays {
		e := &plays[i]
		var match *record.Song
		if s, ok := transform.MatchSong(e, cand[transform.EventMatchKey(e)]); ok {
			match = &s
			matched++
		}
		rows[i] = transform.SongplayRow(e, match)
	}
	return rows, matched
}

// mergeRejects adds a run's rejected records to those loaded before, in the order a full run
// lists them: the songs' before the events', each input's by file path; a file's records keep
// their order.
func mergeRejects(old, new []*record.Reject) []*record.Reject {
	all := slices.Concat(old, new)
	rank := func(k record.Kind) int {
		if k == record.KindSong {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(all, func(a, b *record.Reject) int {
		return cmp.Or(cmp.Compare(rank(a.Kind), rank(b.Kind)), strings.Compare(a.Src.Path, b.Src.Path))
	})
	return all
}

// publishSet is what an incremental run stages, and how each part is published: whole folders on
// a full load (whatever the output held is replaced), otherwise partition folders, and single
// files for the days of songplays and time.
type publishSet struct {
	full  bool
	dirs  []commit.Dir
	inc   *report.Incremental
	parts map[string]map[string]state.Part // every table's partitions (or days) after this run
}

// add records a table's partitions or days written (res, staged under stg) and removed (gone,
// as keys of parts[name]).
func (s *publishSet) add(stg, name string, res sink.Result, gone []string, matched map[string]int64) {
	old := s.parts[name]
	if s.full {
		s.dirs = append(s.dirs, commit.Dir{Name: name, Files: res.Files, Bytes: res.Bytes})
		old = nil
	}
	s.parts[name] = maps.Clone(old)
	if s.parts[name] == nil {
		s.parts[name] = map[string]state.Part{}
	}
	for _, p := range res.Parts {
		key := p.Name
		part := state.Part{Rows: p.Rows, Files: p.Files, Bytes: p.Bytes, Matched: matched[p.Name]}
		if p.Group != "" {
			key = joinPart(p.Name, p.Group)
			part.Partition, part.Group, part.Matched = p.Name, p.Group, matched[key]
			for _, n := range p.Names {
				part.Names = append(part.Names, strings.TrimPrefix(n, stg+"/"+name+"/"))
			}
			if !s.full {
				// A day is its files: each is published on its own, and those of the day's
				// earlier version that this run did not write again go.
				for i, n := range part.Names {
					s.dirs = append(s.dirs, commit.Dir{Name: name + "/" + n, Files: 1, Bytes: p.Sizes[i]})
				}
				for _, n := range old[key].Names {
					if !slices.Contains(part.Names, n) {
						s.dirs = append(s.dirs, commit.Dir{Name: name + "/" + n})
					}
				}
			}
		} else if !s.full {
			s.dirs = append(s.dirs, commit.Dir{Name: joinPart(name, p.Name), Files: p.Files, Bytes: p.Bytes})
		}
		s.parts[name][key] = part
		s.inc.Rewritten[name] = append(s.inc.Rewritten[name], key)
	}
	for _, key := range gone {
		if !s.full {
			if op, ok := old[key]; ok && op.Group != "" {
				for _, n := range op.Names {
					s.dirs = append(s.dirs, commit.Dir{Name: name + "/" + n})
				}
			} else {
				s.dirs = append(s.dirs, commit.Dir{Name: joinPart(name, key)})
			}
		}
		delete(s.parts[name], key)
		s.inc.Removed[name] = append(s.inc.Removed[name], key)
	}
}

func joinPart(dir, part string) string {
	if part == "" {
		return dir
	}
	return dir + "/" + part
}

// runIncremental is Run for Options.Incremental, once the lock is taken.
func runIncremental(ctx context.Context, o Options, r *run.Run, m *report.Manifest, clock *run.Clock, log *slog.Logger) (*report.Manifest, error) {
	st := o.Output
	inc := &report.Incremental{NewFiles: map[string]int{}, LoadedBefore: map[string]int{},
		Rewritten: map[string][]string{}, Removed: map[string][]string{}}
	m.Incremental = inc

	o.Progress.SetPhase("listing")
	// The state's description is read while the inputs are listed: both wait on the store.
	var (
		meta    *state.Meta
		why     string
		metaErr error
		loaded  = make(chan struct{})
	)
	go func() {
		defer close(loaded)
		meta, why, metaErr = loadMeta(ctx, o)
	}()
	songList, logList, err := list(ctx, o, log)
	<-loaded
	if metaErr != nil {
		return nil, metaErr
	}
	if err != nil {
		return nil, err
	}
	inc.Full, inc.Why = meta == nil, why
	newSongs, oldSongs, err := newFiles("songs", o.Songs, songList, meta)
	if err != nil {
		return nil, err
	}
	newLogs, oldLogs, err := newFiles("events", o.Logs, logList, meta)
	if err != nil {
		return nil, err
	}
	inc.NewFiles["songs"], inc.NewFiles["events"] = len(newSongs.Files), len(newLogs.Files)
	inc.LoadedBefore["songs"], inc.LoadedBefore["events"] = oldSongs, oldLogs
	o.Progress.FilesTotal.Store(int64(len(newSongs.Files) + len(newLogs.Files)))
	o.Progress.BytesTotal.Store(sumSizes(newSongs.Files) + sumSizes(newLogs.Files))
	log.Info("incremental", "full", inc.Full, "why", why, "new_song_files", len(newSongs.Files), "new_log_files", len(newLogs.Files),
		"loaded_song_files", oldSongs, "loaded_log_files", oldLogs)

	if meta != nil && len(newSongs.Files) == 0 && len(newLogs.Files) == 0 {
		// Nothing to load: the lake already is what a full run over these files would write.
		m.Inputs = map[string]report.Input{
			"songs":  {Root: o.Songs.Display, Skipped: songList.SkippedBy(), RejectedBy: map[string]int64{}},
			"events": {Root: o.Logs.Display, Skipped: logList.SkippedBy(), RejectedBy: map[string]int64{}},
		}
		totals(m, meta.Tables)
		clock.End("list")
		return m, nil
	}
	clock.Lap("list")
	p, err := readPrior(ctx, o, meta)
	if err != nil {
		return nil, err
	}
	clock.Lap("read state")

	o.Progress.SetPhase("reading")
	songRes, songStats, err := readFiles(ctx, o, log, o.Songs, newSongs, decodeSongs)
	if err != nil {
		return nil, err
	}
	fold := newFolder()
	logRes, eventStats, err := readFiles(ctx, o, log, o.Logs, newLogs, foldEvents(fold))
	if err != nil {
		return nil, err
	}
	songStats.Skipped, eventStats.Skipped = songList.SkippedBy(), logList.SkippedBy()
	m.Inputs = map[string]report.Input{"songs": songStats, "events": eventStats}
	stg := r.Staging()
	var newRejects []*record.Reject
	for _, fr := range slices.Concat(songRes, logRes) {
		newRejects = append(newRejects, fr.rejects...)
	}
	if err := run.CheckRejected(m.Inputs, o.MaxRejectedRatio, "the records rejected from this run's files"); err != nil {
		return nil, err
	}

	clock.Lap("read")
	o.Progress.SetPhase("transforming")
	// The catalog: the first records of each song and artist, old and new.
	oldCat := firsts{songs: map[string]*record.Song{}, artists: map[string]*record.Song{}}
	foldFirsts(oldCat, p.songs)
	cat := oldCat.clone()
	var songRecords int64
	for i := range songRes {
		foldFirsts(cat, songRes[i].songs)
		songRecords += int64(len(songRes[i].songs))
	}
	songsChanged := !maps.Equal(oldCat.songs, cat.songs)
	artistsChanged := !maps.Equal(oldCat.artists, cat.artists)
	ss := m.Inputs["songs"]
	ss.Duplicates = songRecords - int64(len(cat.songs)-len(oldCat.songs))
	m.Inputs["songs"] = ss

	// Users: each user's latest event, old and new.
	oldUsers := map[int64]*record.Event{}
	for i := range p.users {
		oldUsers[p.users[i].UserID] = &p.users[i]
	}
	users := maps.Clone(oldUsers)
	for id, e := range fold.users {
		if prev, ok := users[id]; ok {
			users[id] = transform.LatestUserOf(prev, e)
		} else {
			users[id] = e
		}
	}
	usersChanged := !maps.Equal(oldUsers, users)

	// Plays.
	// The old match is only compared with the new one when the songs changed (rematch).
	var oldCand map[transform.MatchKey][]record.Song
	if songsChanged {
		oldCand = oldCat.candidates()
	}
	cand := cat.candidates()
	plan, err := planPlays(ctx, o, p, fold, oldCand, cand, songsChanged)
	if err != nil {
		return nil, err
	}
	clock.Lap("fold")
	ev := m.Inputs["events"]
	ev.Duplicates = plan.duplicates
	m.Inputs["events"] = ev

	// Stage what changed: tables, then the state, whose description is written last.
	o.Progress.SetPhase("writing")
	full := meta == nil
	out := &publishSet{full: full, inc: inc, parts: map[string]map[string]state.Part{}}
	if meta != nil {
		for t, parts := range meta.Tables {
			out.parts[t] = maps.Clone(parts)
		}
	}
	type tableWrite struct {
		name    string
		res     sink.Result
		gone    []string
		matched map[string]int64
	}
	var writes []*tableWrite
	g, gctx := errgroup.WithContext(ctx)
	stageTable := func(name string, gone []string, matched map[string]int64, write func(ctx context.Context, dir string) (sink.Result, error)) {
		w := &tableWrite{name: name, gone: gone, matched: matched}
		writes = append(writes, w)
		g.Go(func() (err error) {
			w.res, err = write(gctx, stg+"/"+name)
			return err
		})
	}
	if full || songsChanged || artistsChanged {
		rows, gone := diffRows(oldCat.songRows(), cat.songRows(), (*table.Song).Partition, eqComparable[table.Song])
		stageTable(table.NameSongs, gone, nil, func(ctx context.Context, dir string) (sink.Result, error) {
			return sink.Table(ctx, st, dir, rows, (*table.Song).Partition, o.Sink)
		})
		if arows := cat.artistRows(); full || !slices.EqualFunc(oldCat.artistRows(), arows, func(a, b table.Artist) bool { return eqArtist(&a, &b) }) {
			stageTable(table.NameArtists, nil, nil, func(ctx context.Context, dir string) (sink.Result, error) {
				return sink.Table(ctx, st, dir, arows, (*table.Artist).Partition, o.Sink)
			})
		}
	}
	var userEvents []record.Event
	if full || usersChanged {
		rows := make([]table.User, 0, len(users))
		userEvents = make([]record.Event, 0, len(users))
		for _, e := range users {
			rows = append(rows, transform.UserRow(e))
			userEvents = append(userEvents, *e)
		}
		slices.SortFunc(rows, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })
		slices.SortFunc(userEvents, func(a, b record.Event) int { return cmp.Compare(a.UserID, b.UserID) })
		oldRows := make([]table.User, 0, len(oldUsers))
		for _, e := range oldUsers {
			oldRows = append(oldRows, transform.UserRow(e))
		}
		slices.SortFunc(oldRows, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })
		if full || !slices.Equal(oldRows, rows) {
			stageTable(table.NameUsers, nil, nil, func(ctx context.Context, dir string) (sink.Result, error) {
				return sink.Table(ctx, st, dir, rows, (*table.User).Partition, o.Sink)
			})
		}
	}
	if full || len(plan.write) > 0 || len(plan.gone) > 0 {
		var gone []string
		for _, u := range plan.gone {
			gone = append(gone, u.key())
		}
		stageTable(table.NameSongplays, gone, plan.matched, func(ctx context.Context, dir string) (sink.Result, error) {
			return sink.Table(ctx, st, dir, plan.rows, (*table.Songplay).Partition, o.Sink)
		})
		stageTable(table.NameTime, gone, nil, func(ctx context.Context, dir string) (sink.Result, error) {
			return sink.Table(ctx, st, dir, plan.times, (*table.Time).Partition, o.Sink)
		})
	}
	var rejects []*record.Reject
	writeRejects := full || len(newRejects) > 0
	if writeRejects {
		rejects = mergeRejects(p.rejects, newRejects)
		stageTable(run.RejectedDir, nil, nil, func(ctx context.Context, dir string) (sink.Result, error) {
			return sink.Rejects(ctx, st, stg+"/"+run.RejectedFile, rejects)
		})
	}

	// The state: each part written again goes to the staging; the others stay. A part is a
	// folder, or a day's plays file.
	stateDir := stg + "/" + state.Dir
	files := map[string]state.File{}
	if meta != nil {
		for _, f := range meta.Files {
			files[f.Name] = f
		}
	}
	var stateParts []string // below state.Dir, written by this run
	var fileMu sync.Mutex
	stageState := func(sub string, write func(ctx context.Context) (state.File, error)) {
		stateParts = append(stateParts, sub)
		fileMu.Lock() // earlier writes add their files as they finish
		for name := range files {
			if name == sub || strings.HasPrefix(name, sub+"/") {
				delete(files, name)
			}
		}
		fileMu.Unlock()
		g.Go(func() error {
			f, err := write(gctx)
			fileMu.Lock()
			files[f.Name] = f
			fileMu.Unlock()
			return err
		})
	}
	if full || songsChanged || artistsChanged {
		recs := cat.records()
		stageState("catalog", func(ctx context.Context) (state.File, error) { return state.WriteSongs(ctx, st, stateDir, recs) })
	}
	if userEvents != nil {
		stageState("users", func(ctx context.Context) (state.File, error) { return state.WriteUsers(ctx, st, stateDir, userEvents) })
	}
	if plan.ids != nil {
		stageState("ids", func(ctx context.Context) (state.File, error) { return state.WriteIDs(ctx, st, stateDir, plan.ids) })
	}
	if writeRejects {
		stageState("rejects", func(ctx context.Context) (state.File, error) { return state.WriteRejects(ctx, st, stateDir, rejects) })
	}
	for _, u := range slices.SortedFunc(maps.Keys(plan.write), compareUnits) {
		plays := plan.write[u]
		stageState(state.PlaysFile(u.part, u.day), func(ctx context.Context) (state.File, error) {
			return state.WritePlays(ctx, st, stateDir, u.part, u.day, plays)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var goneState []string
	for _, u := range plan.gone {
		name := state.PlaysFile(u.part, u.day)
		goneState = append(goneState, name)
		delete(files, name)
	}
	for _, w := range writes {
		out.add(stg, w.name, w.res, w.gone, w.matched)
	}

	next := &state.Meta{Format: state.Format, Counters: map[string]int64{}, Tables: out.parts, Plays: plan.spans}
	next.Version, next.Rules, next.Settings, next.Roots = o.identity()
	if meta != nil {
		next.Loaded = slices.Clone(meta.Loaded)
	}
	for _, in := range []struct {
		name string
		l    source.Listing
	}{{"songs", newSongs}, {"events", newLogs}} {
		for _, f := range in.l.Files {
			next.Loaded = append(next.Loaded, state.Loaded{Input: in.name, Path: f.Path, Size: f.Size, ETag: f.Version})
		}
	}
	slices.SortFunc(next.Loaded, func(a, b state.Loaded) int {
		return cmp.Or(strings.Compare(a.Input, b.Input), strings.Compare(a.Path, b.Path))
	})
	next.Files = slices.SortedFunc(maps.Values(files), func(a, b state.File) int { return strings.Compare(a.Name, b.Name) })
	if _, err := state.WriteMeta(ctx, st, stateDir, next); err != nil {
		return nil, err
	}
	subs := []string{""} // a full load replaces the whole state
	if !full {
		subs = append([]string{"meta"}, stateParts...)
	}
	for _, sub := range subs {
		d, err := stagedDir(ctx, st, joinPart(state.Dir, sub), joinPart(stateDir, sub))
		if err != nil {
			return nil, err
		}
		out.dirs = append(out.dirs, d)
	}
	for _, sub := range goneState {
		out.dirs = append(out.dirs, commit.Dir{Name: state.Dir + "/" + sub})
	}
	totals(m, out.parts)
	clock.Lap("stage")
	return publish(ctx, o, r, m, out.dirs, clock, log)
}

// totals sets the manifest's table figures from the partitions' figures.
func totals(m *report.Manifest, parts map[string]map[string]state.Part) {
	for _, t := range table.All {
		var tt report.Table
		folders := map[string]bool{}
		for name, p := range parts[t] {
			tt.Rows += p.Rows
			tt.Files += p.Files
			tt.Bytes += p.Bytes
			if p.Group != "" {
				name = p.Partition
			}
			if name != "" && !folders[name] {
				folders[name] = true
				tt.Partitions++
			}
			if t == table.NameSongplays {
				m.Matched += p.Matched
			}
		}
		m.Tables[t] = tt
	}
	m.Plays = m.Tables[table.NameSongplays].Rows
	if m.Plays > 0 {
		m.MatchRate = float64(m.Matched) / float64(m.Plays)
	}
	if rj, ok := parts[run.RejectedDir][""]; ok {
		m.Rejected = report.Table{Rows: rj.Rows, Files: rj.Files, Bytes: rj.Bytes}
	}
}

// stagedDir is the commit.Dir of a staged folder, with the files and bytes the staging holds.
func stagedDir(ctx context.Context, st storage.Store, name, staged string) (commit.Dir, error) {
	d := commit.Dir{Name: name}
	err := st.List(ctx, staged, func(o storage.Object) error {
		d.Files++
		d.Bytes += o.Size
		return nil
	})
	return d, err
}
