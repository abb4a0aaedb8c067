package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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
	return WritePlays(ctx, st, dir, "year=2018/month=11", "2018-11-30", plays)
}

func readPlays(ctx context.Context, st storage.Store, dir string, m *Meta) ([]record.Event, error) {
	return ReadPlays(ctx, st, dir, m, "year=2018/month=11", "2018-11-30")
}

// idsRoundTrip writes ids, reads them back through the File's Meta entry, and fails unless they
// are identical (nil for none). It returns the file's bytes.
func idsRoundTrip(t *testing.T, st storage.Store, ids []int64) []byte {
	t.Helper()
	ctx := context.Background()
	f, err := WriteIDs(ctx, st, "_staging/run/_state", ids)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != IDsFile || f.Size != 8*int64(len(ids)) {
		t.Errorf("entry %+v for %d ids", f, len(ids))
	}
	m := &Meta{}
	m.AddFile(f)
	got, err := ReadIDs(ctx, st, "_staging/run/_state", m)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 && got != nil {
		t.Fatalf("no ids read back as %#v, want nil", got)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("got %d ids, want %d; first difference at %d", len(got), len(ids), firstDiff(got, ids))
	}
	data, err := storage.ReadFile(ctx, st, "_staging/run/_state/"+IDsFile)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
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
	ids := []int64{math.MinInt64, math.MinInt64 + 1, math.MinInt32, -256, -1, 0, 1, 255, 256, math.MaxInt32, 1 << 32, math.MaxInt64 - 1, math.MaxInt64}
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
			t.Run("ids", func(t *testing.T) { idsRoundTrip(t, st, ids) })
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
	roundTrip(t, st, []*record.Reject{}, WriteRejects, ReadRejects)
	// An independent reader sees a Parquet file with no rows.
	data, err := storage.ReadFile(context.Background(), st, "_staging/run/_state/"+SongsFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[songRow](bytes.NewReader(data), int64(len(data)))
	if err != nil || len(rows) != 0 {
		t.Errorf("parquet-go read %d rows, %v", len(rows), err)
	}
	// No ids are an empty file, empty or nil.
	for _, ids := range [][]int64{nil, {}} {
		if data := idsRoundTrip(t, st, ids); len(data) != 0 {
			t.Errorf("no ids written as %d bytes", len(data))
		}
	}
}

// The id index is the ids as 8-byte little-endian int64s and nothing else, whatever their
// values: the extremes of int64 included.
func TestIDsRoundTrip(t *testing.T) {
	t.Parallel()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ids := []int64{math.MinInt64, -1 << 40, -2, 0, 1, 0x0102030405060708, math.MaxInt64}
			data := idsRoundTrip(t, st, ids)
			var want []byte
			for _, id := range ids {
				want = binary.LittleEndian.AppendUint64(want, uint64(id))
			}
			if !bytes.Equal(data, want) {
				t.Errorf("file % x, want % x", data, want)
			}
			if data[0] != 0 || data[7] != 0x80 || data[5*8] != 0x08 || data[5*8+7] != 0x01 {
				t.Errorf("not little-endian: % x", data)
			}
			idsRoundTrip(t, st, []int64{math.MinInt64})
			idsRoundTrip(t, st, []int64{math.MaxInt64})
			idsRoundTrip(t, st, []int64{math.MinInt64, math.MaxInt64})
			// More ids than a batch of the writer, a batch and one, and random ones.
			g := newGen(9)
			for _, n := range []int{idBatch - 1, idBatch, idBatch + 1, 3*idBatch + 17} {
				idsRoundTrip(t, st, g.ids(n))
			}
			seq := make([]int64, 2*idBatch+5)
			for i := range seq {
				seq[i] = int64(i) - idBatch
			}
			idsRoundTrip(t, st, seq)
		})
	}
}

// WriteIDs refuses ids that are not strictly increasing, and writes nothing.
func TestWriteIDsRefusesUnsortedIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string][]int64{
		"duplicate":             {1, 2, 2, 3},
		"two equal":             {7, 7},
		"decreasing":            {3, 2, 1},
		"last smaller":          {1, 2, 3, 0},
		"first larger":          {math.MaxInt64, math.MinInt64},
		"duplicate extremes":    {math.MinInt64, math.MinInt64},
		"duplicate max":         {0, math.MaxInt64, math.MaxInt64},
		"unsorted past a batch": append(newGen(3).ids(idBatch+10), 0),
	}
	for what, ids := range cases {
		st := storage.NewMemory(storage.MemoryOptions{})
		if f, err := WriteIDs(ctx, st, Dir, ids); err == nil {
			t.Errorf("%s: written as %+v", what, f)
		}
		if ok, err := storage.Exists(ctx, st, Dir); ok || err != nil {
			t.Errorf("%s: a refused index wrote something (%v)", what, err)
		}
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
			idsRoundTrip(t, st, g.ids(n))
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
			f, err := WritePlays(ctx, st, dir, "year=2018/month=11", "2018-11-30", plays)
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

func TestWritePlaysChecksThePartitionAndTheDay(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	for _, p := range []string{"", ".", "..", "year=2018/../x", "year=2018//month=1", "/year=2018", "year=2018/", "year", "=2018", `year=2018\month=1`, "year=2018/./month=1"} {
		if _, err := WritePlays(context.Background(), st, "_state", p, "2018-11-30", nil); err == nil {
			t.Errorf("partition %q accepted", p)
		}
	}
	for _, d := range []string{"", "2018-11-31", "2018-11-30/x", "../2018-11-30", "x/2018-11-30", "2018-11-30.parquet", "2018/11/30"} {
		if _, err := WritePlays(context.Background(), st, "_state", "year=2018/month=11", d, nil); err == nil {
			t.Errorf("day %q accepted", d)
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

func TestReadPlaysOfAnUnknownDay(t *testing.T) {
	t.Parallel()
	st := storage.NewMemory(storage.MemoryOptions{})
	fx := writeState(t, st, Dir, 1, 5)
	for _, d := range []day{{"year=1999/month=1", "1999-01-01"}, {"year=2018/month=11", "2018-11-02"}, {"year=2018/month=12", "2018-11-01"}} {
		_, err := ReadPlays(context.Background(), st, Dir, fx.meta, d.partition, d.day)
		if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: got %v, want fs.ErrNotExist and not ErrCorrupt", d, err)
		}
	}
	// A day that is not one is the caller's error, and neither.
	_, err := ReadPlays(context.Background(), st, Dir, fx.meta, "year=2018/month=11", "2018-11-01/../x")
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
		t.Errorf("an invalid day: got %v", err)
	}
}

// PlaysFile names a day's file below its partition, and only such names are plays files.
func TestPlaysFileNames(t *testing.T) {
	t.Parallel()
	if got, want := PlaysFile("year=2018/month=11", "2018-11-30"), "plays/year=2018/month=11/2018-11-30.parquet"; got != want {
		t.Errorf("PlaysFile: %q, want %q", got, want)
	}
	for _, d := range []day{{"year=2018/month=11", "2018-11-30"}, {"y=1", "0001-01-01"}, {"a=b=c/d=%2F", "-0042-02-28"}} {
		name := PlaysFile(d.partition, d.day)
		if p, day, ok := parsePlaysFile(name); !ok || p != d.partition || day != d.day {
			t.Errorf("%q parsed as %q %q %v", name, p, day, ok)
		}
		if !knownFile(name) {
			t.Errorf("%q is not a state file", name)
		}
	}
	for _, name := range []string{
		"plays/year=2018/month=11/plays.parquet", // Format 1
		"plays/year=2018/month=11/2018-11-31.parquet", "plays/year=2018/month=11/2018-11-30.parquet.tmp",
		"plays/year=2018/month=11/2018-11-30", "plays/year=2018/month=11/2018-11-30/x.parquet",
		"plays/2018-11-30.parquet", "plays//2018-11-30.parquet", "plays/year=2018/../2018-11-30.parquet",
		"plays/year=2018/month=11/.parquet", "plays/year=2018/month=11/", "plays/year=2018/month=11/x/2018-11-30.parquet",
		"x/plays/year=2018/2018-11-30.parquet", "year=2018/2018-11-30.parquet", "keys/keys.parquet", "ids/ids.parquet",
	} {
		if p, day, ok := parsePlaysFile(name); ok {
			t.Errorf("%q parsed as %q %q", name, p, day)
		}
		if knownFile(name) {
			t.Errorf("%q is a state file", name)
		}
	}
	for _, name := range []string{SongsFile, UsersFile, IDsFile, RejectsFile} {
		if !knownFile(name) {
			t.Errorf("%q is not a state file", name)
		}
	}
}

func TestValidDay(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"2018-11-30", "2018-11-01", "1970-01-01", "0000-01-01", "0001-12-31", "9999-12-31",
		"10000-01-01", "2016-02-29", "2000-02-29", "-0001-12-31", "-292275055-05-16", "292278994-08-17"} {
		if err := ValidDay(d); err != nil {
			t.Errorf("%q refused: %v", d, err)
		}
	}
	for _, d := range []string{"", "2018", "2018-11", "2018-11-3", "2018-1-30", "18-11-30", "218-11-30", "02018-11-30",
		"2018-11-31", "2018-02-29", "1900-02-29", "2018-00-10", "2018-13-01", "2018-11-00", "2018-11-32",
		"2018/11/30", "2018-11-30/", "/2018-11-30", "2018-11/30", "x/2018-11-30", "2018-11-30 ", " 2018-11-30",
		"2018-11-30T00:00:00Z", "+2018-11-30", "-0000-01-01", "--2018-11-30", "2018-+1-30", "2018-1a-30",
		"2018-11-3\x00", "2018\u221211-30", "1000000000-01-01", "99999999999999999999-01-01", "٢٠١٨-11-30"} {
		if err := ValidDay(d); err == nil {
			t.Errorf("%q accepted", d)
		}
	}
	// The day of any millisecond an int64 holds, as the engine makes it, is valid, and a
	// PlaysFile of it is a plays file of that partition and day.
	g := newGen(1)
	ms := []int64{0, -1, 1, 1541105830796, math.MinInt64, math.MaxInt64, -62135596800000, -62135596800001, 253402300799999, 253402300800000}
	for range 10_000 {
		ms = append(ms, g.int64(), int64(g.r.NormFloat64()*1e13))
	}
	for _, v := range ms {
		d := time.UnixMilli(v).UTC().Format(time.DateOnly)
		if err := ValidDay(d); err != nil {
			t.Fatalf("the day of %d ms: %v", v, err)
		}
		p, day, ok := parsePlaysFile(PlaysFile("year=2018/month=11", d))
		if !ok || p != "year=2018/month=11" || day != d {
			t.Fatalf("PlaysFile of %q parsed as %q %q %v", d, p, day, ok)
		}
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
