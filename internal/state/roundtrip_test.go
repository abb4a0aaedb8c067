package state

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// roundTrip writes rows with write, reads them back with read through the File's Meta entry,
// and fails unless they are identical.
func roundTrip[T any](t *testing.T, st storage.Store, rows []T,
	write func(context.Context, storage.Store, string, []T) (File, error),
	read func(context.Context, storage.Store, string, *Meta) ([]T, error)) {
	t.Helper()
	ctx := context.Background()
	f, err := write(ctx, st, "_staging/run/_state", rows)
	if err != nil {
		t.Fatal(err)
	}
	m := &Meta{}
	m.AddFile(f)
	got, err := read(ctx, st, "_staging/run/_state", m)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		if got != nil {
			t.Fatalf("zero rows read back as %#v, want nil", got)
		}
		return
	}
	if d := sameRows(got, rows); d != "" {
		t.Fatal(d)
	}
}

func writePlays(ctx context.Context, st storage.Store, dir string, plays []record.Event) (File, error) {
	return WritePlays(ctx, st, dir, "year=2018/month=11", plays)
}

func readPlays(ctx context.Context, st storage.Store, dir string, m *Meta) ([]record.Event, error) {
	return ReadPlays(ctx, st, dir, m, "year=2018/month=11")
}

var long = strings.Repeat("long text that does not fit a 1 MiB dictionary ", 30_000)

func TestEdgeValuesRoundTrip(t *testing.T) {
	t.Parallel()
	negZero := math.Copysign(0, -1)
	events := []record.Event{
		{}, // every field zero, every string empty
		{Src: record.Source{Path: "log_data/2018/11/2018-11-01-events.json", Line: 1, Offset: 0}, TS: 1541105830796,
			SessionID: 1, ItemInSession: 0, Page: "NextSong", UserID: 39, HasUser: true, Artist: "Des'ree",
			Song: "You Gotta Be", Length: 246.30812, HasLength: true, FirstName: "Kaylee", LastName: "Summers",
			Gender: "F", Level: "free", Location: "Phoenix-Mesa-Scottsdale, AZ", UserAgent: `"Mozilla/5.0"`},
		{Src: record.Source{Line: math.MaxInt, Offset: math.MaxInt64}, TS: math.MinInt64, SessionID: math.MaxInt64,
			ItemInSession: math.MinInt32, UserID: math.MinInt64, Length: negZero, HasLength: true},
		{Src: record.Source{Line: math.MinInt, Offset: math.MinInt64}, ItemInSession: math.MaxInt32, Length: 5e-324},
		{Length: math.MaxFloat64, HasUser: false, UserID: 12}, // a user id without HasUser stays
		{Length: -math.MaxFloat64}, {Length: math.Inf(1)}, {Length: math.Inf(-1)},
		{Length: math.Float64frombits(0x7ff8000000000bad)}, // a NaN with a payload keeps its bits
		{Artist: "\xff\xfe\x00", Song: "Beyoncé ♫", Page: " ", Level: "\u2028"},
		{UserAgent: long}, // a value past the dictionary's limit
	}
	songs := []record.Song{
		{},
		{Src: record.Source{Path: "song_data/A/A/A/TRAAAAW128F429D538.json", Line: 1}, SongID: "SOMZWCG12A8C13C480",
			Title: "I Didn't Mean To", ArtistID: "ARD7TVE1187B99BFB1", ArtistName: "Casual", Latitude: 0, HasLatitude: true,
			Longitude: negZero, HasLongitude: true, Duration: 218.93179, Year: 0},
		{Latitude: 5e-324, Longitude: math.MaxFloat64, Duration: math.NaN(), Year: math.MinInt32, ArtistLocation: "\xc3\x28"},
		{Year: math.MaxInt32, Title: long},
	}
	keys := []Key{{}, {UserID: math.MaxInt64, SessionID: math.MinInt64, ItemInSession: -1, Partition: "year=2018/month=11"}, {Partition: long}}
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	rejects := []*record.Reject{
		{}, // nil Raw
		{Raw: []byte{}, Kind: record.KindEvent, Reason: record.ReasonInvalidJSON},
		{Raw: all, Kind: record.KindSong, Reason: record.ReasonInvalidUTF8, Field: "title", Detail: "byte 3",
			Src: record.Source{Path: "p", Line: 7, Offset: 100}},
		{Raw: []byte("{\"ts\": 1"), Reason: record.ReasonTooLarge, FullSize: math.MaxInt64},
		{Raw: []byte(long), Reason: record.ReasonTooLarge, FullSize: -1},
	}
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("plays", func(t *testing.T) { roundTrip(t, st, events, writePlays, readPlays) })
			t.Run("users", func(t *testing.T) { roundTrip(t, st, events, WriteUsers, ReadUsers) })
			t.Run("songs", func(t *testing.T) { roundTrip(t, st, songs, WriteSongs, ReadSongs) })
			t.Run("keys", func(t *testing.T) { roundTrip(t, st, keys, WriteKeys, ReadKeys) })
			t.Run("rejects", func(t *testing.T) { roundTrip(t, st, rejects, WriteRejects, ReadRejects) })
			// The rule as the brief states it, for what DeepEqual can see.
			t.Run("deep equal", func(t *testing.T) {
				ctx := context.Background()
				f, err := WriteRejects(ctx, st, "d", rejects)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ReadRejects(ctx, st, "d", &Meta{Files: []File{f}})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, rejects) {
					t.Error("rejects differ")
				}
				if got[0].Raw != nil || got[1].Raw == nil {
					t.Errorf("got Raw %#v and %#v, want nil and empty", got[0].Raw, got[1].Raw)
				}
			})
		})
	}
}

func TestZeroRowsWriteAValidFile(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	roundTrip(t, st, []record.Event{}, writePlays, readPlays)
	roundTrip(t, st, nil, WriteUsers, ReadUsers)
	roundTrip(t, st, []record.Song{}, WriteSongs, ReadSongs)
	roundTrip(t, st, []Key{}, WriteKeys, ReadKeys)
	roundTrip(t, st, []*record.Reject{}, WriteRejects, ReadRejects)
	// An independent reader sees a Parquet file with no rows.
	data, err := storage.ReadFile(context.Background(), st, "_staging/run/_state/"+KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[keyRow](bytes.NewReader(data), int64(len(data)))
	if err != nil || len(rows) != 0 {
		t.Errorf("parquet-go read %d rows, %v", len(rows), err)
	}
}

// Random records, in random order, come back identical and in the same order: several seeds,
// sizes from 0 to more than a row group.
func TestRandomRecordsRoundTrip(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 2, 7, 8, 9, 100, 1000}
	for seed := range uint64(6) {
		g := newGen(seed)
		st := storage.NewMemory(storage.MemoryOptions{})
		for _, n := range sizes {
			roundTrip(t, st, many(n, g.event), writePlays, readPlays)
			roundTrip(t, st, many(n, g.event), WriteUsers, ReadUsers)
			roundTrip(t, st, many(n, g.song), WriteSongs, ReadSongs)
			roundTrip(t, st, many(n, g.key), WriteKeys, ReadKeys)
			roundTrip(t, st, many(n, g.reject), WriteRejects, ReadRejects)
		}
	}
}

// More rows than a row group, with more distinct strings than a dictionary holds, so that
// pages fall back to PLAIN in the middle of a column chunk.
func TestManyRowsRoundTrip(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 70,000 rows")
	}
	g := newGen(42)
	plays := realisticPlays(rowGroupRows + 4000)
	for i := range plays {
		if i%3 == 0 {
			plays[i].Song = g.str() // distinct values: the dictionary overflows
		}
	}
	roundTrip(t, storage.NewMemory(storage.MemoryOptions{}), plays, writePlays, readPlays)
}

// The state's files are plain Parquet: parquet.Read, without the package's guards and
// conversions, reads back the rows that were written.
func TestIndependentReaderAgrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGen(7)
	st := storage.NewMemory(storage.MemoryOptions{})
	events := many(500, g.event)
	f, err := WriteUsers(ctx, st, "", events)
	if err != nil {
		t.Fatal(err)
	}
	data, err := storage.ReadFile(ctx, st, f.Name)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[eventRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]eventRow, len(events))
	for i := range events {
		toEventRow(&events[i], &want[i])
	}
	if d := sameRows(rows, want); d != "" {
		t.Error(d)
	}

	rejects := many(500, g.reject)
	f, err = WriteRejects(ctx, st, "", rejects)
	if err != nil {
		t.Fatal(err)
	}
	data, err = storage.ReadFile(ctx, st, f.Name)
	if err != nil {
		t.Fatal(err)
	}
	rrows, err := parquet.Read[rejectRow](bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rejects {
		got := rrows[i]
		if got.RawNil != (r.Raw == nil) || !bytes.Equal(got.Raw, r.Raw) || got.SrcPath != r.Src.Path || got.FullSize != r.FullSize {
			t.Fatalf("row %d: got %+v, want %+v", i, got, r)
		}
	}
}

// The same rows give the same bytes, whichever folder or store they are written to: the files
// can be compared and their hashes mean something.
func TestSameRowsSameBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plays := realisticPlays(3000)
	var files []File
	var contents [][]byte
	for name, st := range stores(t) {
		for _, dir := range []string{"_state", "_staging/x/_state"} {
			f, err := WritePlays(ctx, st, dir, "year=2018/month=11", plays)
			if err != nil {
				t.Fatal(name, err)
			}
			data, err := storage.ReadFile(ctx, st, dir+"/"+f.Name)
			if err != nil {
				t.Fatal(err)
			}
			files, contents = append(files, f), append(contents, data)
		}
	}
	for i := range files {
		if files[i] != files[0] || !bytes.Equal(contents[i], contents[0]) {
			t.Errorf("write %d: %+v, want %+v", i, files[i], files[0])
		}
	}
	if files[0].Size != int64(len(contents[0])) {
		t.Errorf("File.Size %d, file has %d bytes", files[0].Size, len(contents[0]))
	}
}

func TestWritePlaysChecksThePartition(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	for _, p := range []string{"", ".", "..", "year=2018/../x", "year=2018//month=1", "/year=2018", "year=2018/", "year", "=2018", `year=2018\month=1`, "year=2018/./month=1"} {
		if _, err := WritePlays(context.Background(), st, "_state", p, nil); err == nil {
			t.Errorf("partition %q accepted", p)
		}
	}
	if ok, _ := storage.Exists(context.Background(), st, "_state"); ok {
		t.Error("a refused partition wrote something")
	}
	for _, p := range []string{"year=2018/month=11", "year=__HIVE_DEFAULT_PARTITION__", "a=b=c", "artist_id=AR%2F1"} {
		if err := ValidPartition(p); err != nil {
			t.Errorf("partition %q refused: %v", p, err)
		}
	}
}

func TestReadPlaysOfAnUnknownPartition(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	fx := writeState(t, st, Dir, 1, 5)
	_, err := ReadPlays(context.Background(), st, Dir, fx.meta, "year=1999/month=1")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		t.Errorf("got %v, want fs.ErrNotExist and not ErrCorrupt", err)
	}
}

func TestCancelledWriteLeavesNothing(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteUsers(ctx, st, Dir, realisticPlays(10)); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if ok, _ := storage.Exists(context.Background(), st, Dir); ok {
		t.Error("a cancelled write left an object")
	}
}

func TestWriteRejectsRefusesNil(t *testing.T) {
	t.Parallel()
	if _, err := WriteRejects(context.Background(), storage.NewMemory(storage.MemoryOptions{}), "", []*record.Reject{{}, nil}); err == nil {
		t.Error("nil reject accepted")
	}
}
