package localengine

import (
	"context"
	"fmt"
	"maps"
	"math"
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

// spillParts chooses the number of partitions of a spilled run so that two of them, read back at
// once, take at most half the limit: a partition's plays take about 0.7 bytes of memory per byte
// of their input lines. Compressed log files count eight times their size.
func spillParts(logs []source.File, limit int64) int {
	var total float64
	for _, f := range logs {
		n := float64(f.Size)
		if source.IsCompressed(f) {
			n *= 8
		}
		total += n
	}
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
// partition is read as one block and its plays are decoded in place (spill.View): the index of
// the winners holds offsets, so nothing here is a pointer for the collector to trace.
func mergePart(ctx context.Context, part *spill.File, recordSize int, cat *catalog, days *dayFiles) (kept, matched int64, err error) {
	data, err := part.ReadAll()
	if err != nil {
		return 0, 0, err
	}
	_ = part.Remove() // read: its disk space is needed for the day files
	damaged := func(err error) error { return fmt.Errorf("%s: %w", part.Name(), err) }
	// Offset in data of the kept play; sized for the partition's plays, so that it is not
	// rehashed as it grows.
	winners := make(map[transform.EventKey]int, len(data)/max(recordSize, 1))
	var e, prev record.Event
	for off, n := 0, 0; off < len(data); n++ {
		if n%(1<<16) == 0 && ctx.Err() != nil {
			return 0, 0, context.Cause(ctx)
		}
		rec, rest, err := spill.Next(data[off:])
		if err != nil {
			return 0, 0, damaged(err)
		}
		if _, _, err := spill.View(rec, &e); err != nil {
			return 0, 0, damaged(err)
		}
		k := transform.KeyOf(&e)
		if at, ok := winners[k]; !ok {
			winners[k] = off
		} else {
			prevRec, _, _ := spill.Next(data[at:])
			_, _, _ = spill.View(prevRec, &prev) // it decoded before
			if transform.EarlierEventOf(&prev, &e) == &e {
				winners[k] = off
			}
		}
		off = len(data) - len(rest)
	}
	keys := slices.Collect(maps.Keys(winners))
	if err := checkUniqueIDs(keys, func(k *transform.EventKey) int64 { return transform.SongplayID(*k) },
		func(k *transform.EventKey) transform.EventKey { return *k }); err != nil {
		return 0, 0, err
	}
	// The winners in the order of the partition's bytes, not the map's: read in order, their
	// records come from the cache instead of memory. (The order of a day's plays does not matter:
	// writeDay sorts them.)
	offsets := slices.Sorted(maps.Values(winners))
	bufs := map[int64][]byte{}
	for _, at := range offsets {
		rec, _, _ := spill.Next(data[at:])
		_, _, _ = spill.View(rec, &e)
		var songID, artistID string
		if m, ok := transform.MatchSong(&e, cat.candidates[transform.EventMatchKey(&e)]); ok {
			songID, artistID = m.SongID, m.ArtistID
			matched++
		}
		day := dayOf(e.TS)
		bufs[day] = spill.AppendMatched(bufs[day], rec, songID, artistID)
		if len(bufs[day]) >= dayBufSize {
			if err := days.write(day, bufs[day]); err != nil {
				return 0, 0, err
			}
			bufs[day] = bufs[day][:0]
		}
	}
	for day, b := range bufs {
		if len(b) > 0 {
			if err := days.write(day, b); err != nil {
				return 0, 0, err
			}
		}
	}
	return int64(len(winners)), matched, nil
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
	timeRows, err := appendTimes(ctx, nil, rows)
	if err != nil {
		return plays, times, err
	}
	if plays, err = sink.Table(ctx, o.Output, stg+"/"+table.NameSongplays, rows, (*table.Songplay).Partition, o.Sink); err != nil {
		return plays, times, err
	}
	times, err = sink.Table(ctx, o.Output, stg+"/"+table.NameTime, timeRows, (*table.Time).Partition, o.Sink)
	return plays, times, err
}
