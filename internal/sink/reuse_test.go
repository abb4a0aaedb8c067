package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/table/wire"
)

// TestOneWorkerSameBytes: a worker of Table writes file after file through one buffer, files of
// up to smallFileRows rows with small page buffers. Every file must be byte for byte what a new
// encoder with the default settings writes for its rows alone, whichever worker wrote it and
// whatever it wrote before. Here partitions of one row to several hundred are written by one
// worker and by the default number. This caught parquet-go's Reset clearing path_in_schema (see
// encoderState).
func TestOneWorkerSameBytes(t *testing.T) {
	t.Parallel()
	songs := make([]table.Song, 600)
	for i := range songs {
		artist := fmt.Sprintf("AR%03d", i/3)
		if i < 300 { // one partition of 300 rows, past smallFileRows
			artist = "AR"
		}
		songs[i] = table.Song{SongID: fmt.Sprintf("SO%05d", i), Title: fmt.Sprint("title ", i%17), Duration: float64(i) / 3,
			Year: int32(1990 + i%4*min(i/300, 1)), ArtistID: artist}
	}
	plays := make([]table.Songplay, 3000)
	ts := int64(1541030400000)
	for i := range plays {
		step := int64(3_600_000) // a day of 24 plays
		if i < 1000 {
			step = 10_000 // a day of 1,000
		}
		ts += step
		plays[i] = table.Songplay{SongplayID: int64(i), StartTime: ts, UserID: int64(i % 7), Level: "free"}
		plays[i].Year, plays[i].Month = 2018, int32(time.UnixMilli(ts).UTC().Month())
		if i%3 == 0 { // optional text, present in some rows only: the wire encoder
			plays[i].SongID, plays[i].ArtistID = fmt.Sprint("SO", i%50), fmt.Sprint("AR", i%9)
		}
	}
	for _, parallelism := range []int{1, 0} {
		t.Run(fmt.Sprint("parallelism ", parallelism), func(t *testing.T) {
			sameAsAlone(t, "songs", songs, (*table.Song).Partition, parallelism)
			sameAsAlone(t, "songplays", plays, (*table.Songplay).Partition, parallelism)
		})
	}
}

// sameAsAlone writes rows with Table, a file per partition and file group, and compares each file
// with its rows written alone by a new encoder.
func sameAsAlone[T any](t *testing.T, dir string, rows []T, partition func(*T) string, parallelism int) {
	t.Helper()
	st := storage.NewMemory(storage.MemoryOptions{})
	res, err := Table(context.Background(), st, dir, rows, partition, Options{Version: "test", Parallelism: parallelism})
	if err != nil {
		t.Fatal(err)
	}
	got := objects(t, st)
	want := map[string][]T{}
	small, big := 0, 0
	for i := range rows {
		name := dir + "/" + partition(&rows[i]) + "/part-"
		if g, ok := any(&rows[i]).(table.Grouped); ok {
			name += g.FileGroup() + "-"
		}
		want[name+"00000.snappy.parquet"] = append(want[name+"00000.snappy.parquet"], rows[i])
	}
	if len(got) != len(want) || res.Files != len(want) {
		t.Fatalf("%s: %d files, want %d", dir, len(got), len(want))
	}
	for name, rs := range want {
		if len(rs) > smallFileRows {
			big++
		} else {
			small++
		}
		var b bytes.Buffer
		e := newEncoder[T](&b, writerOptions(&parquet.Snappy, "test"))
		if _, err := e.Write(rs); err != nil {
			t.Fatal(err)
		}
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[name], b.Bytes()) {
			t.Errorf("%s: %d bytes written by Table, %d by a new encoder", name, len(got[name]), b.Len())
		}
	}
	if small < 3 || big < 1 {
		t.Fatalf("%s: %d small and %d big files; the test wants both", dir, small, big)
	}
}

func objects(t *testing.T, st storage.Store) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	m := map[string][]byte{}
	err := st.List(ctx, "", func(o storage.Object) error {
		r, err := st.Open(ctx, o.Name)
		if err != nil {
			return err
		}
		defer r.Close()
		m[o.Name], err = io.ReadAll(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSmallFilePagesSameBytes: a file of up to smallFileRows rows of any table is the same with
// the small page buffers as with parquet-go's default ones, whatever its text: empty (NULL),
// short, or a few KiB long.
func TestSmallFilePagesSameBytes(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	text := func() string {
		switch r.IntN(4) {
		case 0:
			return ""
		case 1:
			return strings.Repeat(fmt.Sprint(r.IntN(1000)), r.IntN(700))
		}
		return fmt.Sprint("v", r.IntN(50))
	}
	num := func() *float64 {
		if r.IntN(3) == 0 {
			return nil
		}
		f := r.Float64()
		return &f
	}
	for _, n := range []int{1, 2, 3, 17, 100, smallFileRows} {
		plays, users, songs, artists, times := make([]table.Songplay, n), make([]table.User, n), make([]table.Song, n), make([]table.Artist, n), make([]table.Time, n)
		for i := range n {
			plays[i] = table.Songplay{SongplayID: r.Int64(), StartTime: r.Int64N(1 << 41), UserID: r.Int64N(100), Level: text(),
				SongID: text(), ArtistID: text(), SessionID: r.Int64(), ItemInSession: r.Int32(), Location: text(), UserAgent: text(),
				SongTitle: text(), ArtistName: text(), SongLength: num()}
			users[i] = table.User{UserID: r.Int64(), FirstName: text(), LastName: text(), Gender: text(), Level: text()}
			songs[i] = table.Song{SongID: text(), Title: text(), Duration: r.Float64()}
			artists[i] = table.Artist{ArtistID: text(), Name: text(), Location: text(), Latitude: num(), Longitude: num()}
			times[i] = table.Time{StartTime: r.Int64N(1 << 41), Hour: r.Int32N(24), Day: r.Int32N(31), Week: r.Int32N(53), Weekday: r.Int32N(7)}
		}
		samePages(t, n, plays)
		samePages(t, n, users)
		samePages(t, n, songs)
		samePages(t, n, artists)
		samePages(t, n, times)
	}
}

func samePages[T any](t *testing.T, n int, rows []T) {
	t.Helper()
	encode := func(small bool) []byte {
		var b bytes.Buffer
		opts := writerOptions(&parquet.Snappy, "test")
		if small {
			opts = append(opts, parquet.PageBufferSize(smallPageBufferSize))
		}
		e := newEncoder[T](&b, opts)
		if _, err := e.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if a, b := encode(false), encode(true); !bytes.Equal(a, b) {
		t.Errorf("%T, %d rows: %d bytes with default page buffers, %d with small ones", rows[0], n, len(a), len(b))
	}
}

// TestWireChunksSameBytes: the wire encoder converts and writes a row group wireChunk rows at a
// time; the file must be what parquet-go writes for all the wire rows in one call.
func TestWireChunksSameBytes(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, wireChunk - 1, wireChunk, wireChunk + 1, 3*wireChunk + 17} {
		plays := make([]table.Songplay, n)
		for i := range plays {
			plays[i] = table.Songplay{SongplayID: int64(i), StartTime: 1541030400000 + int64(i)*1000, UserID: int64(i % 11), Level: "paid",
				SessionID: int64(i / 7), Location: fmt.Sprint("town ", i%13), UserAgent: strings.Repeat("a", i%5)}
			if i%4 != 0 {
				plays[i].SongID, plays[i].ArtistID = fmt.Sprint("SO", i%300), fmt.Sprint("AR", i%40)
			}
		}
		// Small pages, so that many are cut, some across the chunks' boundaries.
		opts := append(writerOptions(&parquet.Snappy, "test"), parquet.PageBufferSize(4<<10))
		var got bytes.Buffer
		e := newEncoder[table.Songplay](&got, opts)
		if _, err := e.Write(plays); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		w := parquet.NewGenericWriter[wire.Songplay](&want, opts...)
		rows := make([]wire.Songplay, n)
		for i := range plays {
			rows[i] = wire.FromSongplay(&plays[i])
		}
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%d rows: %d bytes in chunks, %d in one call", n, got.Len(), want.Len())
		}
	}
}
