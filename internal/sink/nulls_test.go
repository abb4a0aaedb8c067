package sink

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/table/wire"
)

// TestEmptyTextIsNull: every optional text that is "" in a row is NULL in the file, and every
// other is present, whatever the pattern of empty and non-empty values in a batch. parquet-go's
// batch writer gets some patterns wrong for plain string fields (see package wire); this
// found six present "" song_ids at the end of a day's file.
func TestEmptyTextIsNull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A run of present values that ends mid-word, then empties: the pattern of parquet-go
	// issue #154, and random patterns of every density in batches of many sizes.
	patterns := [][]bool{}
	known := make([]bool, 65)
	for i := range known {
		known[i] = i != 30 && i < 62
	}
	patterns = append(patterns, known)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 63, 64, 65, 127, 128, 129, 1000, 23555} {
		for _, density := range []float64{0.05, 0.3, 0.5, 0.9, 0.99} {
			p := make([]bool, n)
			for i := range p {
				p[i] = r.Float64() < density
			}
			patterns = append(patterns, p)
		}
	}
	for pi, present := range patterns {
		rows := make([]table.Songplay, len(present))
		users := make([]table.User, len(present))
		artists := make([]table.Artist, len(present))
		for i, ok := range present {
			v := ""
			if ok {
				v = fmt.Sprint("v", i)
			}
			rows[i] = table.Songplay{SongplayID: int64(i), Year: 2018, Month: 11, StartTime: 1543622400000,
				Level: v, SongID: v, ArtistID: v, Location: v, UserAgent: v, SongTitle: v, ArtistName: v}
			users[i] = table.User{UserID: int64(i), FirstName: v, LastName: v, Gender: v, Level: v}
			artists[i] = table.Artist{ArtistID: fmt.Sprint("A", i), Name: "n", Location: v}
		}
		st := storage.NewMemory(storage.MemoryOptions{})
		check := func(name string, res Result, err error, columns ...string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			data, err := storage.ReadFile(ctx, st, res.Names[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, col := range columns {
				got := presence(t, data, col)
				if len(got) != len(present) {
					t.Fatalf("%s.%s: %d values, want %d", name, col, len(got), len(present))
				}
				for i := range got {
					if got[i] != present[i] {
						t.Fatalf("pattern %d (%d rows): %s.%s row %d present %v, want %v", pi, len(present), name, col, i, got[i], present[i])
					}
				}
			}
		}
		res, err := Table(ctx, st, "songplays", rows, (*table.Songplay).Partition, Options{})
		check("songplays", res, err, "level", "song_id", "artist_id", "location", "user_agent", "song_title", "artist_name")
		res, err = Table(ctx, st, "users", users, (*table.User).Partition, Options{})
		check("users", res, err, "first_name", "last_name", "gender", "level")
		res, err = Table(ctx, st, "artists", artists, (*table.Artist).Partition, Options{})
		check("artists", res, err, "location")
	}
}

// presence reads one column of a Parquet file page by page and tells, row by row, whether the
// value is present (not NULL); a present value must not be "" here.
func presence(t *testing.T, data []byte, column string) []bool {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	leaf, ok := f.Schema().Lookup(column)
	if !ok {
		t.Fatalf("no column %s", column)
	}
	var out []bool
	vals := make([]parquet.Value, 256)
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if err != nil {
				break
			}
			r := p.Values()
			for {
				n, err := r.ReadValues(vals)
				for _, v := range vals[:n] {
					out = append(out, !v.IsNull())
					if !v.IsNull() && len(v.ByteArray()) == 0 {
						t.Errorf("%s: a present empty value", column)
					}
				}
				if err != nil {
					break
				}
			}
		}
		pages.Close()
	}
	return out
}

// The wire rows have exactly the schema of the rows.
func TestWireSchemas(t *testing.T) {
	for _, c := range []struct{ row, wire any }{
		{table.Songplay{}, wire.Songplay{}}, {table.User{}, wire.User{}}, {table.Artist{}, wire.Artist{}},
	} {
		if a, b := parquet.SchemaOf(c.row).String(), parquet.SchemaOf(c.wire).String(); a != b {
			t.Errorf("%T: schema\n%s\nwire schema\n%s", c.row, a, b)
		}
	}
}

// BenchmarkSongplaysEncoding compares writing songplays through their wire form (pointers for
// optional text, exact) with writing the rows as they are (parquet-go's batch path, which is
// faster but wrong for some patterns of empty text): the price of exactness.
func BenchmarkSongplaysEncoding(b *testing.B) {
	rows := make([]table.Songplay, 200_000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range rows {
		rows[i] = table.Songplay{SongplayID: int64(i), StartTime: 1543622400000 + int64(i), UserID: int64(i % 1000),
			Level: "free", SessionID: int64(i / 50), ItemInSession: int32(i % 50), Location: "Somewhere, ST",
			UserAgent: "Mozilla/5.0", SongTitle: fmt.Sprint("song ", r.IntN(20000)), ArtistName: fmt.Sprint("artist ", r.IntN(6000))}
		if r.IntN(3) == 0 {
			rows[i].SongID, rows[i].ArtistID = fmt.Sprint("SO", r.IntN(20000)), fmt.Sprint("AR", r.IntN(6000))
		}
	}
	opts := writerOptions(&parquet.Snappy, "bench")
	for _, c := range []struct {
		name string
		enc  func(w *bytes.Buffer) encoder[table.Songplay]
	}{
		{"wire", func(w *bytes.Buffer) encoder[table.Songplay] { return newEncoder[table.Songplay](w, opts) }},
		{"rows-as-they-are", func(w *bytes.Buffer) encoder[table.Songplay] {
			return parquet.NewGenericWriter[table.Songplay](w, opts...)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				e := c.enc(&buf)
				for i := 0; i < len(rows); i += DefaultRowGroupRows {
					if _, err := e.Write(rows[i:min(i+DefaultRowGroupRows, len(rows))]); err != nil {
						b.Fatal(err)
					}
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}
