package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

// TestOneWorkerSameBytes: a worker of Table writes file after file through one buffer. Every file
// must be byte for byte the file written on its own: here one worker writes every partition (and,
// with a small target size, several files of one partition), against one Table call per
// partition. This caught parquet-go's Reset clearing path_in_schema (see encoderState).
func TestOneWorkerSameBytes(t *testing.T) {
	t.Parallel()
	songs := make([]table.Song, 300)
	for i := range songs {
		songs[i] = table.Song{SongID: fmt.Sprintf("SO%05d", i), Title: fmt.Sprint("title ", i%17), Duration: float64(i) / 3,
			Year: int32(1990 + i%4), ArtistID: fmt.Sprintf("AR%03d", i/3)}
	}
	plays := make([]table.Songplay, 3000)
	for i := range plays {
		plays[i] = table.Songplay{SongplayID: int64(i), StartTime: 1541030400000 + int64(i)*3_600_000, UserID: int64(i % 7),
			Level: "free", Year: 2018, Month: int32(11 + i/1500)}
		if i%3 == 0 { // optional text, present in some rows only: the wire encoder
			plays[i].SongID, plays[i].ArtistID = fmt.Sprint("SO", i%50), fmt.Sprint("AR", i%9)
		}
	}
	for _, c := range []struct {
		name  string
		write func(st storage.Store, opts Options, split bool) error
	}{
		{"songs", func(st storage.Store, opts Options, split bool) error {
			return writeSplit(st, "songs", songs, (*table.Song).Partition, opts, split)
		}},
		{"songplays", func(st storage.Store, opts Options, split bool) error {
			return writeSplit(st, "songplays", plays, (*table.Songplay).Partition, opts, split)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{TargetFileSize: 4 << 10, RowGroupRows: 100, Version: "test"}
			alone, oneWorker := storage.NewMemory(storage.MemoryOptions{}), storage.NewMemory(storage.MemoryOptions{})
			if err := c.write(alone, opts, true); err != nil {
				t.Fatal(err)
			}
			opts.Parallelism = 1
			if err := c.write(oneWorker, opts, false); err != nil {
				t.Fatal(err)
			}
			a, b := objects(t, alone), objects(t, oneWorker)
			if len(a) < 4 || len(a) != len(b) {
				t.Fatalf("%d files written alone, %d by one worker; want the same, and several", len(a), len(b))
			}
			for name, want := range a {
				if got, ok := b[name]; !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes by one worker, %d alone (present: %v)", name, len(got), len(want), ok)
				}
			}
		})
	}
}

// writeSplit writes rows as one table; split: with one Table call per partition.
func writeSplit[T any](st storage.Store, dir string, rows []T, partition func(*T) string, opts Options, split bool) error {
	if !split {
		_, err := Table(context.Background(), st, dir, rows, partition, opts)
		return err
	}
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && partition(&rows[j]) == partition(&rows[i]) {
			j++
		}
		if _, err := Table(context.Background(), st, dir, rows[i:j], partition, opts); err != nil {
			return err
		}
		i = j
	}
	return nil
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
