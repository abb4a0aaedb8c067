package beamengine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// The pipeline's functions are registered so that every runner can find them by name, in this
// process or in a worker started from this binary.
func init() {
	register.DoFn5x1[context.Context, source.File, func(record.Song), func(record.Reject), func(string, int64), error](&decodeSongsFn{})
	register.DoFn5x1[context.Context, source.File, func(record.Event), func(record.Reject), func(string, int64), error](&decodeEventsFn{})
	register.Emitter2[string, int64]()
	register.Emitter1[record.Song]()
	register.Emitter1[record.Event]()
	register.Emitter1[record.Reject]()

	register.Combiner1[record.Song](&firstSongFn{})
	register.Combiner1[record.Event](&earlierEventFn{})
	register.Combiner1[record.Event](&latestUserFn{})
	register.Combiner1[int64](&countFn{})

	register.Function1x2(songByID)
	register.Function1x2(songByArtist)
	register.Function2x0(playByKey)
	register.Function2x0(eventByUser)
	register.Function2x2(playByMatchKey)
	register.Function2x2(songByMatchKey)
	register.Emitter2[string, record.Event]()
	register.Emitter2[int64, record.Event]()
	register.DoFn6x0[context.Context, string, func(*record.Event) bool, func(*record.Song) bool, func(table.Songplay), func(string, int64)](&matchFn{})
	register.Emitter1[table.Songplay]()
	register.Iter1[record.Event]()
	register.Iter1[record.Song]()

	register.Function1x2(songplayID)
	register.Function1x2(startTimeOf)
	register.Function2x2(timeRow)
	register.Function1x2(songplayPartition)
	register.Function2x2(userRow)
	register.Function2x2(songRow)
	register.Function2x2(artistByNothing)
	register.Function1x2(rejectByNothing)
	register.DoFn3x1[context.Context, int64, func(*int64) bool, error](&uniqueIDFn{})
	register.Iter1[int64]()

	register.DoFn4x1[context.Context, string, func(*table.Songplay) bool, func(string, int64), error](&writeSongplaysFn{})
	register.DoFn4x1[context.Context, string, func(*table.User) bool, func(string, int64), error](&writeUsersFn{})
	register.DoFn4x1[context.Context, string, func(*table.Song) bool, func(string, int64), error](&writeSongsFn{})
	register.DoFn4x1[context.Context, string, func(*record.Song) bool, func(string, int64), error](&writeArtistsFn{})
	register.DoFn4x1[context.Context, string, func(*table.Time) bool, func(string, int64), error](&writeTimeFn{})
	register.DoFn4x1[context.Context, string, func(*record.Reject) bool, func(string, int64), error](&writeRejectsFn{})
	register.Iter1[table.Songplay]()
	register.Function2x2(statByNothing)
	register.DoFn3x1[context.Context, string, func(*stat) bool, error](&writeStatsFn{})
	register.Iter1[stat]()
	register.Emitter2[string, stat]()
	register.Iter1[table.User]()
	register.Iter1[table.Song]()
	register.Iter1[table.Time]()
	register.Iter1[record.Reject]()
}

// Statistic names. Every step that reads, rejects or writes emits (name, count) pairs; they are
// summed and written to the staging folder as one JSON file, which the launcher reads back for the
// manifest. Being pipeline output, unlike side effects or metrics, they count each record exactly
// once whatever the runner retried.
const (
	sPlaysSeen = "plays_seen" // song-play events, duplicates included
	sPlays     = "plays"      // distinct plays
	sMatched   = "matched"    // plays matched to a catalog song
)

func sRead(kind record.Kind) string  { return "read/" + string(kind) }
func sBytes(kind record.Kind) string { return "bytes/" + string(kind) }
func sRejected(kind record.Kind, r record.Reason) string {
	return "rejected/" + string(kind) + "/" + string(r)
}
func sTable(name, what string) string { return "table/" + name + "/" + what }
func sRepaired(kind record.Kind, field string) string {
	return "repaired/" + string(kind) + "/" + field
}

// statRepairs adds a decoder's text repairs to the statistics.
func statRepairs(stat func(string, int64), kind record.Kind, r *decode.Repairs) {
	for field, n := range r.Map() {
		stat(sRepaired(kind, field), n)
	}
}

// statsFile is where the pipeline leaves its statistics, in the run's staging folder.
const statsFile = "_stats.json"

// build adds the ETL to the pipeline: decode (rejects aside), the SPEC's choices as keyed combines,
// the song match as a join, then each table grouped by partition and staged by its writer.
func build(s beam.Scope, cfg Config, songFiles, logFiles []source.File) {
	sf := beam.Reshuffle(s, beam.CreateList(s, songFiles))
	songs, songRejects, songStats := beam.ParDo3(s, &decodeSongsFn{reader{Cfg: cfg}}, sf)
	lf := beam.Reshuffle(s, beam.CreateList(s, logFiles))
	events, eventRejects, eventStats := beam.ParDo3(s, &decodeEventsFn{reader{Cfg: cfg}}, lf)
	stats := []beam.PCollection{songStats, eventStats}

	// Dimensions from the catalog: the first record of each song and of each artist.
	firstSongs := beam.CombinePerKey(s, &firstSongFn{}, beam.ParDo(s, songByID, songs))
	firstArtists := beam.CombinePerKey(s, &firstSongFn{}, beam.ParDo(s, songByArtist, songs))

	// Plays, deduplicated; users, by their latest event.
	plays := beam.CombinePerKey(s, &earlierEventFn{}, beam.ParDo(s, playByKey, events))
	users := beam.CombinePerKey(s, &latestUserFn{}, beam.ParDo(s, eventByUser, events))

	// The song match is a join on (title, artist name): it scales with the catalog, where a side
	// input would have to fit each worker.
	joined := beam.CoGroupByKey(s, beam.ParDo(s, playByMatchKey, plays), beam.ParDo(s, songByMatchKey, firstSongs))
	songplays, matchStats := beam.ParDo2(s, &matchFn{}, joined)
	stats = append(stats, matchStats)

	// songplay_id must be unique: a hash collision fails the run (see transform.SongplayID).
	beam.ParDo0(s, &uniqueIDFn{}, beam.GroupByKey(s, beam.ParDo(s, songplayID, songplays)))

	starts := beam.CombinePerKey(s, &countFn{}, beam.ParDo(s, startTimeOf, songplays))

	stage := func(name string, fn any, keyed beam.PCollection) {
		stats = append(stats, beam.ParDo(s.Scope("stage "+name), fn, beam.GroupByKey(s, keyed)))
	}
	stage(table.NameSongplays, &writeSongplaysFn{Cfg: cfg}, beam.ParDo(s, songplayPartition, songplays))
	stage(table.NameUsers, &writeUsersFn{Cfg: cfg}, beam.ParDo(s, userRow, users))
	stage(table.NameSongs, &writeSongsFn{Cfg: cfg}, beam.ParDo(s, songRow, firstSongs))
	stage(table.NameArtists, &writeArtistsFn{Cfg: cfg}, beam.ParDo(s, artistByNothing, firstArtists))
	stage(table.NameTime, &writeTimeFn{Cfg: cfg}, beam.ParDo(s, timeRow, starts))
	stage(run.RejectedDir, &writeRejectsFn{Cfg: cfg}, beam.ParDo(s, rejectByNothing, beam.Flatten(s, songRejects, eventRejects)))

	totals := beam.CombinePerKey(s, &countFn{}, beam.Flatten(s, stats...))
	beam.ParDo0(s, &writeStatsFn{Cfg: cfg}, beam.GroupByKey(s, beam.ParDo(s, statByNothing, totals)))
}

// reader is what the decoding DoFns share: the run's Config, and the stores opened from it once
// per DoFn instance.
type reader struct {
	Cfg Config
	env *env
}

func (r *reader) Setup(ctx context.Context) (err error) {
	r.env, err = openEnv(ctx, r.Cfg)
	return err
}

// decodeSongsFn reads and decodes song files; each bad record becomes a reject with its reason.
type decodeSongsFn struct{ reader }

func (f *decodeSongsFn) ProcessElement(ctx context.Context, file source.File, emit func(record.Song), reject func(record.Reject), stat func(string, int64)) error {
	rej := func(r *record.Reject) { stat(sRejected(r.Kind, r.Reason), 1); reject(*r) }
	data, size, err := f.env.songs.SongFile(ctx, file, rej)
	if err != nil {
		return err
	}
	d := decode.Decoder{MaxTS: f.Cfg.MaxTS, NoRepair: f.Cfg.NoRepairText}
	var n int64
	d.SongFile(file.Path, data, func(s record.Song) { n++; emit(s) }, rej)
	statRepairs(stat, record.KindSong, &d.Repaired)
	stat(sRead(record.KindSong), n)
	stat(sBytes(record.KindSong), size)
	return nil
}

// decodeEventsFn reads and decodes log files.
type decodeEventsFn struct{ reader }

// The file is streamed a block of lines at a time (see source.EventLines).
func (f *decodeEventsFn) ProcessElement(ctx context.Context, file source.File, emit func(record.Event), reject func(record.Reject), stat func(string, int64)) error {
	d := decode.Decoder{MaxTS: f.Cfg.MaxTS, NoRepair: f.Cfg.NoRepairText}
	var n, plays int64
	ev := func(e record.Event) {
		n++
		if e.IsSongPlay() {
			plays++
		}
		emit(e)
	}
	rej := func(r *record.Reject) { stat(sRejected(r.Kind, r.Reason), 1); reject(*r) }
	size, err := f.env.logs.EventLines(ctx, file, func(b source.Block) {
		d.EventLines(file.Path, b.Data, b.FirstLine, b.Offset, ev, rej)
	}, rej)
	if err != nil {
		return err
	}
	statRepairs(stat, record.KindEvent, &d.Repaired)
	stat(sRead(record.KindEvent), n)
	stat(sBytes(record.KindEvent), size)
	stat(sPlaysSeen, plays)
	return nil
}

// The combines below are transform's choices, which are associative and commutative (transform's
// tests fold every permutation), so any runner may apply them in any order and grouping.

type firstSongFn struct{}

func (firstSongFn) MergeAccumulators(a, b record.Song) record.Song { return transform.FirstSong(a, b) }

type earlierEventFn struct{}

func (earlierEventFn) MergeAccumulators(a, b record.Event) record.Event {
	return transform.EarlierEvent(a, b)
}

type latestUserFn struct{}

func (latestUserFn) MergeAccumulators(a, b record.Event) record.Event {
	return transform.LatestUser(a, b)
}

type countFn struct{}

func (countFn) MergeAccumulators(a, b int64) int64 { return a + b }

func songByID(s record.Song) (string, record.Song)     { return s.SongID, s }
func songByArtist(s record.Song) (string, record.Song) { return s.ArtistID, s }

// eventKey is the deduplication key as a string, since keys travel encoded between workers.
func eventKey(k transform.EventKey) string {
	return strconv.FormatInt(k.UserID, 10) + "/" + strconv.FormatInt(k.SessionID, 10) + "/" + strconv.FormatInt(int64(k.ItemInSession), 10)
}

func playByKey(e record.Event, emit func(string, record.Event)) {
	if e.IsSongPlay() {
		emit(eventKey(transform.KeyOf(&e)), e)
	}
}

func eventByUser(e record.Event, emit func(int64, record.Event)) {
	if e.HasUser {
		emit(e.UserID, e)
	}
}

// matchKey is transform's match key as a string: title and artist name, NUL-separated (neither
// can hold a NUL that survives decoding as the same key on both sides).
func matchKey(k transform.MatchKey) string { return k.Title + "\x00" + k.Artist }

func playByMatchKey(_ string, e record.Event) (string, record.Event) {
	return matchKey(transform.EventMatchKey(&e)), e
}

func songByMatchKey(_ string, s record.Song) (string, record.Song) {
	return matchKey(transform.SongMatchKey(&s)), s
}

// matchFn turns the plays sharing a (title, artist) with their candidate songs into fact rows.
type matchFn struct{}

func (matchFn) ProcessElement(_ context.Context, _ string, plays func(*record.Event) bool, songs func(*record.Song) bool, emit func(table.Songplay), stat func(string, int64)) {
	var candidates []record.Song
	var s record.Song
	for songs(&s) {
		candidates = append(candidates, s)
	}
	var n, matched int64
	var e record.Event
	for plays(&e) {
		n++
		var match *record.Song
		if m, ok := transform.MatchSong(&e, candidates); ok {
			match = &m
			matched++
		}
		emit(transform.SongplayRow(&e, match))
	}
	stat(sPlays, n)
	stat(sMatched, matched)
}

func songplayID(r table.Songplay) (int64, int64) { return r.SongplayID, r.UserID }

// uniqueIDFn fails the run when two plays share a songplay_id.
type uniqueIDFn struct{}

func (uniqueIDFn) ProcessElement(_ context.Context, id int64, users func(*int64) bool) error {
	var n int
	var u int64
	for users(&u) {
		n++
	}
	if n > 1 {
		return fmt.Errorf("%w: %d is the id of %d plays", run.ErrDuplicateID, id, n)
	}
	return nil
}

func startTimeOf(r table.Songplay) (int64, int64) { return r.StartTime, 1 }

func timeRow(ms, _ int64) (string, table.Time) {
	r := transform.TimeRow(ms)
	return r.Partition(), r
}

func songplayPartition(r table.Songplay) (string, table.Songplay) { return r.Partition(), r }

func userRow(_ int64, e record.Event) (string, table.User) { return "", transform.UserRow(&e) }

func songRow(_ string, s record.Song) (string, table.Song) {
	r := transform.SongRow(&s)
	return r.Partition(), r
}

// Artists and rejects are unpartitioned: each is staged by one writer, as one group.
func artistByNothing(_ string, s record.Song) (string, record.Song) { return "", s }
func rejectByNothing(r record.Reject) (string, record.Reject)       { return "", r }

// stagePart writes one partition's rows (all rows of an unpartitioned table) under the run's
// staging, in the order every engine writes, and counts what it wrote.
func stagePart[T any](ctx context.Context, cfg Config, name string, rows []T, partition func(*T) string, order func(a, b *T) int, stat func(string, int64)) error {
	e, done, err := beginWrite(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	slices.SortFunc(rows, func(a, b T) int { return order(&a, &b) })
	res, err := sink.Table(ctx, e.out, stagingDir(cfg, name), rows, partition, cfg.Sink)
	if err != nil {
		return err
	}
	statResult(stat, name, res)
	return nil
}

// beginWrite returns the run's stores for a writer, registered so that a failed run waits for it
// (see env.fence); done must be called when the writer is finished.
func beginWrite(ctx context.Context, cfg Config) (*env, func(), error) {
	e, err := openEnv(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	done, err := e.begin()
	return e, done, err
}

// statResult emits what a writer wrote.
func statResult(stat func(string, int64), name string, res sink.Result) {
	stat(sTable(name, "rows"), res.Rows)
	stat(sTable(name, "files"), int64(res.Files))
	stat(sTable(name, "bytes"), res.Bytes)
	stat(sTable(name, "partitions"), int64(res.Partitions))
}

func collect[T any](next func(*T) bool) []T {
	var rows []T
	var r T
	for next(&r) {
		rows = append(rows, r)
	}
	return rows
}

type writeSongplaysFn struct{ Cfg Config }

func (f *writeSongplaysFn) ProcessElement(ctx context.Context, _ string, rows func(*table.Songplay) bool, stat func(string, int64)) error {
	return stagePart(ctx, f.Cfg, table.NameSongplays, collect(rows), (*table.Songplay).Partition, transform.CompareSongplays, stat)
}

type writeUsersFn struct{ Cfg Config }

func (f *writeUsersFn) ProcessElement(ctx context.Context, _ string, rows func(*table.User) bool, stat func(string, int64)) error {
	return stagePart(ctx, f.Cfg, table.NameUsers, collect(rows), (*table.User).Partition, transform.CompareUsers, stat)
}

type writeSongsFn struct{ Cfg Config }

func (f *writeSongsFn) ProcessElement(ctx context.Context, _ string, rows func(*table.Song) bool, stat func(string, int64)) error {
	return stagePart(ctx, f.Cfg, table.NameSongs, collect(rows), (*table.Song).Partition, transform.CompareSongs, stat)
}

// writeArtistsFn gets songs rather than rows: an artist row's optional coordinates are pointers,
// which are built here rather than carried between workers.
type writeArtistsFn struct{ Cfg Config }

func (f *writeArtistsFn) ProcessElement(ctx context.Context, _ string, songs func(*record.Song) bool, stat func(string, int64)) error {
	var rows []table.Artist
	for _, s := range collect(songs) {
		rows = append(rows, transform.ArtistRow(&s))
	}
	return stagePart(ctx, f.Cfg, table.NameArtists, rows, (*table.Artist).Partition, transform.CompareArtists, stat)
}

type writeTimeFn struct{ Cfg Config }

func (f *writeTimeFn) ProcessElement(ctx context.Context, _ string, rows func(*table.Time) bool, stat func(string, int64)) error {
	return stagePart(ctx, f.Cfg, table.NameTime, collect(rows), (*table.Time).Partition, transform.CompareTimes, stat)
}

// writeRejectsFn writes every reject to one file, in the local engine's order: songs before
// events, then by file and position.
type writeRejectsFn struct{ Cfg Config }

func (f *writeRejectsFn) ProcessElement(ctx context.Context, _ string, next func(*record.Reject) bool, stat func(string, int64)) error {
	e, done, err := beginWrite(ctx, f.Cfg)
	if err != nil {
		return err
	}
	defer done()
	rejects := collect(next)
	kindRank := func(k record.Kind) int {
		if k == record.KindSong {
			return 0
		}
		return 1
	}
	slices.SortFunc(rejects, func(a, b record.Reject) int {
		return cmp.Or(cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), cmp.Compare(a.Src.Path, b.Src.Path), cmp.Compare(a.Src.Offset, b.Src.Offset))
	})
	ptrs := make([]*record.Reject, len(rejects))
	for i := range rejects {
		ptrs[i] = &rejects[i]
	}
	res, err := sink.Rejects(ctx, e.out, stagingDir(f.Cfg, run.RejectedFile), ptrs)
	if err != nil {
		return err
	}
	statResult(stat, run.RejectedDir, res)
	return nil
}

// stat is one statistic's total.
type stat struct {
	Name string
	N    int64
}

func statByNothing(name string, n int64) (string, stat) { return "", stat{name, n} }

// writeStatsFn writes the run's statistics for the launcher.
type writeStatsFn struct{ Cfg Config }

func (f *writeStatsFn) ProcessElement(ctx context.Context, _ string, next func(*stat) bool) error {
	e, done, err := beginWrite(ctx, f.Cfg)
	if err != nil {
		return err
	}
	defer done()
	totals := map[string]int64{}
	for _, st := range collect(next) {
		totals[st.Name] = st.N
	}
	b, err := json.Marshal(totals)
	if err != nil {
		return err
	}
	return storage.WriteFile(ctx, e.out, commit.Staging(f.Cfg.RunID)+"/"+statsFile, b)
}
