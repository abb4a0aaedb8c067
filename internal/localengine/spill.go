package localengine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/spill"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// A run whose plays do not fit in its memory limit spills them to local disk and builds the
// songplays and time tables in two more passes, each over a part of the plays that fits:
//
//  1. While the logs are read, each play is appended to one of P partition files, chosen by its
//     songplay_id (a hash of its deduplication key): every copy of a play, and every pair of
//     plays whose ids collide, land in the same partition. Users stay in memory: there is one
//     row per user, not per event.
//  2. Each partition is read back, deduplicated, checked for colliding ids, and its winners
//     matched against the catalog; each winner goes, with its match, to the file of its UTC day.
//  3. Each day's plays are read back, sorted, and written as that day's songplays and time files:
//     the files an in-memory run writes for the day, since each holds exactly the day's rows.
//
// The rules applied are transform's, as in memory, and each is a fold that does not depend on
// the order or grouping of the plays: a spilled run writes the same bytes as an in-memory one
// (TestSpilledRunIsIdentical). The plays of one day must fit in memory (about 400 bytes each):
// memory grows with the busiest day, not with the history.

// memoryPerInputByte is the peak memory of an in-memory run per byte of decoded event input,
// rounded up from what the benchmark measures (2.3 at M: 5.1 GiB for 2.2 GiB of logs).
const memoryPerInputByte = 3

// inMemoryInput is the event input whose plays a run holds in memory at most, whatever its
// limit. Past it, streaming the plays through the spill files costs no time and a fraction of
// the memory, since a spilled play is ~200 pointer-free bytes where a held one is ~1 KiB of
// structs and strings for the collector to trace. Measured 2026-12-01, each pair in one
// harness run: at S (warm), 16.5-20.2 s spilled from the first block against 16.9-21.5 s in
// memory, 290 MiB against 1.1 GiB; at M (cold), 85.0 s spilled against 97.5 s in memory,
// 1.0 GiB against 4.9 GiB. Small runs (the sample, tests, a daily file) stay in memory and
// need no temp folder.
const inMemoryInput = 256 << 20

// spillBudget decides when a run's plays stop being held in memory.
type spillBudget struct {
	limit   int64  // bytes of memory the run may use; <= 0: no limit
	tempDir string // where the spill folder goes ("" for the OS's)
	parts   int    // partition files (spillParts)
	started func(dir string)
}

// over reports whether held bytes of input are more than a run holds in memory: past
// inMemoryInput, or when holding their events would pass the limit.
func (b *spillBudget) over(held int64) bool {
	return held > inMemoryInput || b.limit > 0 && held > b.limit/memoryPerInputByte
}

// spillsAtOnce reports whether a run over logs streams its plays through the spill files from its
// first block: when the logs are more than any run holds in memory (inMemoryInput), holding
// their first part only to write it out at the threshold is work for nothing (at S, 60 % of the
// events folded into maps and held, then spilled). A wrong guess (logBytes) costs time, not
// bytes (TestSpilledRunIsIdentical).
func spillsAtOnce(logs []source.File) bool { return logBytes(logs) > inMemoryInput }

// logBytes estimates the bytes of event lines in logs: a compressed file counts eight times its
// size.
func logBytes(logs []source.File) int64 {
	var total int64
	for _, f := range logs {
		n := f.Size
		if source.IsCompressed(f) {
			n *= 8
		}
		total += n
	}
	return total
}

// spillParts chooses the number of partitions of a spilled run so that two of them, read back at
// once, take at most half the limit: a partition's plays take about 0.7 bytes of memory per byte
// of their input lines. Compressed log files count eight times their size.
func spillParts(logs []source.File, limit int64) int {
	total := float64(logBytes(logs))
	if limit <= 0 {
		limit = 4 << 30
	}
	return int(min(max(math.Ceil(4*total/float64(limit)), 4), 256))
}

// spiller holds the plays of a spilling run in partition files.
type spiller struct {
	dir     *spill.Dir
	parts   []*spill.File
	seen    atomic.Int64 // plays spilled as read (duplicates included)
	written atomic.Int64 // plays written to the partitions, the ones held before the spill too
	once    sync.Once
	bufs    sync.Pool // of *[][]byte, a buffer per partition, for write
}

func newSpiller(tempDir string, n int) (_ *spiller, err error) {
	d, err := spill.Create(tempDir)
	if err != nil {
		return nil, err
	}
	s := &spiller{dir: d}
	for i := range n {
		f, err := d.Create(fmt.Sprintf("plays-%04d", i))
		if err != nil {
			s.remove()
			return nil, err
		}
		s.parts = append(s.parts, f)
	}
	return s, nil
}

// remove deletes the spill folder; it may be called more than once.
func (s *spiller) remove() {
	s.once.Do(func() {
		for _, f := range s.parts {
			_ = f.Close()
		}
		_ = s.dir.Remove()
	})
}

// partOf returns the partition of a play: by its songplay_id, so that plays with the same key,
// and plays whose ids collide, meet.
func (s *spiller) partOf(e *record.Event) int {
	return int(uint64(transform.SongplayID(transform.KeyOf(e))) % uint64(len(s.parts)))
}

// write appends plays to their partitions, one write per partition. The partitions' buffers
// are reused from call to call: grown anew each time, they were a tenth of a run's allocations.
func (s *spiller) write(plays []*record.Event) error {
	bp, _ := s.bufs.Get().(*[][]byte)
	if bp == nil {
		b := make([][]byte, len(s.parts))
		bp = &b
	}
	bufs := *bp
	defer func() {
		for p := range bufs {
			bufs[p] = bufs[p][:0]
		}
		s.bufs.Put(bp)
	}()
	for _, e := range plays {
		p := s.partOf(e)
		bufs[p] = spill.AppendPlay(bufs[p], e, "", "")
	}
	s.written.Add(int64(len(plays)))
	for p, b := range bufs {
		if len(b) > 0 {
			if err := s.parts[p].Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// startSpill moves the plays folded so far to a new spiller, which takes every later play. The
// users' events are copied, so that no block of events is kept alive for one user.
func (f *folder) startSpill() error {
	f.mode.Lock()
	defer f.mode.Unlock()
	if f.spill.Load() != nil {
		return nil
	}
	sp, err := newSpiller(f.budget.tempDir, f.budget.parts)
	if err != nil {
		return err
	}
	f.spill.Store(sp) // from here on the run removes it, whatever happens
	if f.budget.started != nil {
		f.budget.started(sp.dir.Path())
	}
	var plays []*record.Event
	for s := range f.shards {
		sh := &f.shards[s]
		plays = slices.AppendSeq(plays[:0], maps.Values(sh.plays))
		if err := sp.write(plays); err != nil {
			return err
		}
		sh.plays = nil
	}
	for id, e := range f.users {
		c := *e
		f.users[id] = &c
	}
	return nil
}

// spillEvents folds events into a spilling folder: the plays go to disk, the users' latest
// events are kept as copies.
func (f *folder) spillEvents(sp *spiller, events []record.Event) error {
	users := map[int64]*record.Event{}
	var plays []*record.Event
	for i := range events {
		e := &events[i]
		foldUser(users, e)
		if e.IsSongPlay() {
			plays = append(plays, e)
		}
	}
	if err := sp.write(plays); err != nil {
		return err
	}
	sp.seen.Add(int64(len(plays)))
	f.usersMu.Lock()
	defer f.usersMu.Unlock()
	for id, e := range users {
		if prev, ok := f.users[id]; !ok || transform.LatestUserOf(prev, e) == e {
			c := *e
			f.users[id] = &c
		}
	}
	return nil
}

// seen returns the plays folded, duplicates included, spilled or not.
func (f *folder) seen() int64 {
	var n int64
	for s := range f.shards {
		n += f.shards[s].seen
	}
	if sp := f.spill.Load(); sp != nil {
		n += sp.seen.Load()
	}
	return n
}

// dayFiles are the spill files of pass 2, one per UTC day of the plays' start times.
type dayFiles struct {
	dir   *spill.Dir
	mu    sync.Mutex
	files map[int64]*spill.File
	free  []*[]byte // buffers for mergePart to gather a day's plays in (buf, done)
}

// buf returns an empty buffer: a partition's merge fills one per day, up to dayBufSize, and
// buffers grown anew by each merge were a tenth of a run's allocations. They grow with what
// they hold, so that a history of many small days does not take dayBufSize for each, and the
// free ones are kept until the merges end: no more than the merges running at once used.
// (A sync.Pool lost them to every collection.)
func (d *dayFiles) buf() *[]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		return b
	}
	return new([]byte)
}

// done gives back the buffers of a merge.
func (d *dayFiles) done(bufs map[int64]*[]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		*b = (*b)[:0]
		d.free = append(d.free, b)
	}
}

const msPerDay = 24 * 60 * 60 * 1000

// dayOf returns the UTC day of an epoch-milliseconds time, as days since the epoch.
func dayOf(ms int64) int64 {
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d--
	}
	return d
}

func (d *dayFiles) write(day int64, b []byte) error {
	d.mu.Lock()
	f, ok := d.files[day]
	if !ok {
		var err error
		if f, err = d.dir.Create(fmt.Sprintf("day-%d", day)); err != nil {
			d.mu.Unlock()
			return err
		}
		d.files[day] = f
	}
	d.mu.Unlock()
	return f.Write(b)
}

// spilledFacts runs passes 2 and 3 over a spilling folder: it writes the songplays and time
// tables under stg into staged, and returns the users' rows and the counts.
func spilledFacts(ctx context.Context, o Options, f *folder, cat *catalog, stg string, staged *stagedTables) (*facts, error) {
	sp := f.spill.Load()
	defer sp.remove()
	t := &facts{users: userRows(f)}
	days := &dayFiles{dir: sp.dir, files: map[int64]*spill.File{}}

	o.Progress.SetPhase("merging")
	var winners, matched atomic.Int64
	var spilled int64
	for _, p := range sp.parts {
		spilled += p.Size()
	}
	recordSize := int(spilled / max(sp.written.Load(), 1)) // mean bytes of a spilled play
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2) // spillParts sizes the partitions for two at once
	for p := range sp.parts {
		g.Go(func() error {
			w, m, err := mergePart(gctx, sp.parts[p], recordSize, cat, days)
			winners.Add(w)
			matched.Add(m)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	days.free = nil // the merges' buffers: the days are read back next

	o.Progress.SetPhase("writing")
	order := slices.Sorted(maps.Keys(days.files))
	plays := make([]sink.Result, len(order))
	times := make([]sink.Result, len(order))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, day := range order {
		g.Go(func() error {
			var err error
			plays[i], times[i], err = writeDay(gctx, o, days.files[day], recordSize, stg)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	staged.songplays = sink.Merge(plays...)
	staged.time = sink.Merge(times...)
	t.plays, t.matched = winners.Load(), matched.Load()
	t.duplicatePlays = f.seen() - t.plays
	return t, nil
}

// mergePart is pass 2 for one partition: it deduplicates the partition's plays, checks their ids,
// matches them and sends each to its day's file. It returns the plays kept and matched. The
// partition is read as one block; its plays are sorted as small entries (mergeEntry) that hold
// their offsets in it, so nothing here is a pointer for the collector to trace. Sorting replaced
// a map from key to winner: at M the map's lookups and its iteration cost more than the rest
// of the merge, where a sort of a partition's entries takes a fraction of a second.
func mergePart(ctx context.Context, part *spill.File, recordSize int, cat *catalog, days *dayFiles) (kept, matched int64, err error) {
	data, err := part.Map()
	if err != nil {
		return 0, 0, err
	}
	// Read: its name goes now, and its disk space when its data is released at the end.
	// Nothing that points into data outlives this function (the day files get copies), and only
	// this goroutine reads it: a page that the disk fails to read is an error, not a crash.
	_ = part.Remove()
	defer part.Release()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if err = part.Fault(r); err == nil {
				panic(r)
			}
		}
	}()
	damaged := func(err error) error { return fmt.Errorf("%s: %w", part.Name(), err) }
	entries := make([]mergeEntry, 0, len(data)/max(recordSize, 1)+1)
	for off, n := 0, 0; off < len(data); n++ {
		if n%(1<<16) == 0 && ctx.Err() != nil {
			return 0, 0, context.Cause(ctx)
		}
		rec, rest, err := spill.Next(data[off:])
		if err != nil {
			return 0, 0, damaged(err)
		}
		// The head is enough to choose the winners; each winner is decoded, and checked, in full
		// below. A loser whose head decodes but whose text is damaged is dropped unread, and it
		// never makes a row.
		h, err := spill.ViewHead(rec)
		if err != nil {
			return 0, 0, damaged(err)
		}
		k := transform.EventKey{UserID: h.UserID, SessionID: h.SessionID, ItemInSession: h.ItemInSession}
		entries = append(entries, mergeEntry{id: transform.SongplayID(k), key: k, ts: h.TS, off: off})
		off = len(data) - len(rest)
	}
	if ctx.Err() != nil {
		return 0, 0, context.Cause(ctx)
	}
	slices.SortFunc(entries, compareMergeEntries)

	// The copies of a play are side by side, the earliest first; copies with the same earliest
	// time are told apart by their source, which only their text holds.
	view := func(at int, e *record.Event) (rec []byte, err error) {
		rec, _, _ = spill.Next(data[at:]) // it split before
		if _, _, err := spill.View(rec, e); err != nil {
			return nil, damaged(err)
		}
		return rec, nil
	}
	var e, other record.Event
	winners := entries[:0] // in place: a group's winner goes at or before the group's start
	for i := 0; i < len(entries); {
		w := entries[i]
		j := i + 1
		for j < len(entries) && entries[j].key == w.key {
			j++
		}
		if j > i+1 && entries[i+1].ts == w.ts {
			if _, err := view(w.off, &e); err != nil {
				return 0, 0, err
			}
			for c := i + 1; c < j && entries[c].ts == w.ts; c++ {
				if _, err := view(entries[c].off, &other); err != nil {
					return 0, 0, err
				}
				if transform.EarlierEventOf(&e, &other) == &other {
					w, e = entries[c], other
				}
			}
		}
		winners = append(winners, w)
		i = j
	}
	// Plays of different keys with the same id are side by side too.
	for i := 1; i < len(winners); i++ {
		if id := winners[i].id; id == winners[i-1].id {
			var keys []transform.EventKey
			for _, w := range winners[i-1:] {
				if w.id != id {
					break
				}
				keys = append(keys, w.key)
			}
			return 0, 0, duplicateIDError(id, keys)
		}
	}
	// The winners in the order of the partition's bytes: read in order, their records come from
	// the cache instead of memory. (The order of a day's plays does not matter: writeDay sorts
	// them.)
	offsets := make([]int, len(winners))
	for i, w := range winners {
		offsets[i] = w.off
	}
	entries, winners = nil, nil
	slices.Sort(offsets)
	bufs := map[int64]*[]byte{}
	defer days.done(bufs)
	for n, at := range offsets {
		if n%(1<<16) == 0 && ctx.Err() != nil {
			return 0, 0, context.Cause(ctx)
		}
		rec, err := view(at, &e)
		if err != nil {
			return 0, 0, err
		}
		var songID, artistID string
		if m, ok := transform.MatchSong(&e, cat.candidates[transform.EventMatchKey(&e)]); ok {
			songID, artistID = m.SongID, m.ArtistID
			matched++
		}
		day := dayOf(e.TS)
		b := bufs[day]
		if b == nil {
			b = days.buf()
			bufs[day] = b
		}
		*b = spill.AppendMatched(*b, rec, songID, artistID)
		if len(*b) >= dayBufSize {
			if err := days.write(day, *b); err != nil {
				return 0, 0, err
			}
			*b = (*b)[:0]
		}
	}
	for day, b := range bufs {
		if len(*b) > 0 {
			if err := days.write(day, *b); err != nil {
				return 0, 0, err
			}
		}
	}
	return int64(len(offsets)), matched, nil
}

// mergeEntry is a spilled play as mergePart sorts it (compareMergeEntries): by songplay_id, so
// that plays whose ids collide meet, then by key, so that a play's copies meet, then by start
// time, the earliest first.
type mergeEntry struct {
	id  int64
	key transform.EventKey
	ts  int64
	off int // of the play's record in the partition's data
}

func compareMergeEntries(a, b mergeEntry) int {
	switch {
	case a.id != b.id:
		return cmp.Compare(a.id, b.id)
	case a.key.UserID != b.key.UserID:
		return cmp.Compare(a.key.UserID, b.key.UserID)
	case a.key.SessionID != b.key.SessionID:
		return cmp.Compare(a.key.SessionID, b.key.SessionID)
	case a.key.ItemInSession != b.key.ItemInSession:
		return cmp.Compare(a.key.ItemInSession, b.key.ItemInSession)
	case a.ts != b.ts:
		return cmp.Compare(a.ts, b.ts)
	}
	return cmp.Compare(a.off, b.off)
}

// dayBufSize is how much of a day's plays mergePart gathers before it writes them to the day's
// file.
const dayBufSize = 1 << 20

// writeDay is pass 3 for one day: it sorts the day's plays and writes its songplays and time
// files. The rows' text points into the day's data, read as one block.
func writeDay(ctx context.Context, o Options, f *spill.File, recordSize int, stg string) (plays, times sink.Result, err error) {
	data, err := f.ReadAll()
	if err != nil {
		return plays, times, err
	}
	_ = f.Remove()
	// About the day's plays: a matched play's record is a little longer than the mean spilled one.
	rows := make([]table.Songplay, 0, len(data)/max(recordSize, 1)+1)
	var e record.Event
	for rest := data; len(rest) > 0; {
		var rec []byte
		if rec, rest, err = spill.Next(rest); err != nil {
			return plays, times, fmt.Errorf("%s: %w", f.Name(), err)
		}
		songID, artistID, err := spill.View(rec, &e)
		if err != nil {
			return plays, times, fmt.Errorf("%s: %w", f.Name(), err)
		}
		var match *record.Song
		if songID != "" {
			match = &record.Song{SongID: songID, ArtistID: artistID}
		}
		rows = append(rows, transform.SongplayRow(&e, match))
	}
	if rows, err = sortPlays(ctx, rows, 1); err != nil {
		return plays, times, err
	}
	// At most a time per play, and about as many: sized once.
	timeRows, err := appendTimes(ctx, make([]table.Time, 0, len(rows)), rows)
	if err != nil {
		return plays, times, err
	}
	if plays, err = sink.Table(ctx, o.Output, stg+"/"+table.NameSongplays, rows, (*table.Songplay).Partition, o.Sink); err != nil {
		return plays, times, err
	}
	times, err = sink.Table(ctx, o.Output, stg+"/"+table.NameTime, timeRows, (*table.Time).Partition, o.Sink)
	return plays, times, err
}
