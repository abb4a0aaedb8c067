package sink

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

// writeFixture writes a few rows of every table under dir, each column with values and each
// optional column with NULLs too.
func writeFixture(t *testing.T, dir string) {
	t.Helper()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lat, lon := 40.7, -74.0
	const ms = 1541105830796
	errs := []error{
		write(ctx, st, table.NameSongplays, []table.Songplay{
			{SongplayID: 11, StartTime: ms, UserID: 8, Level: "free", SongID: "SOAAA", ArtistID: "ARAAA", SessionID: 139, ItemInSession: 0, Location: "Phoenix-Mesa-Scottsdale, AZ", UserAgent: `"Mozilla/5.0"`, Year: 2018, Month: 11},
			{SongplayID: 12, StartTime: ms + 1000, UserID: 8, Level: "free", SessionID: 139, ItemInSession: 1, Year: 2018, Month: 11},
			{SongplayID: 13, StartTime: ms + 2000, UserID: 9, Level: "paid", SongID: "SOBBB", ArtistID: "ARBBB", SessionID: 140, ItemInSession: 0, Location: "Tampa, FL", UserAgent: `"curl/8"`, Year: 2018, Month: 11},
		}),
		write(ctx, st, table.NameUsers, []table.User{
			{UserID: 8, FirstName: "Kaylee", LastName: "Summers", Gender: "F", Level: "free"},
			{UserID: 9, FirstName: "Lily", LastName: "Koch", Gender: "F", Level: "paid"},
			{UserID: 10, Level: "free"},
		}),
		write(ctx, st, table.NameSongs, []table.Song{
			{SongID: "SOAAA", Title: "Intro", Duration: 123.4, Year: 1999, ArtistID: "ARAAA"},
			{SongID: "SOAAB", Title: "Outro", Duration: 201.0, Year: 1999, ArtistID: "ARAAA"},
			{SongID: "SOBBB", Title: "Étude", Duration: 55.5, ArtistID: "ARBBB"},
		}),
		write(ctx, st, table.NameArtists, []table.Artist{
			{ArtistID: "ARAAA", Name: "The Aaa", Location: "New York", Latitude: &lat, Longitude: &lon},
			{ArtistID: "ARBBB", Name: "Bbb"},
		}),
		write(ctx, st, table.NameTime, []table.Time{
			{StartTime: ms, Hour: 20, Day: 1, Week: 44, Weekday: 4, Year: 2018, Month: 11},
			{StartTime: ms + 1000, Hour: 20, Day: 1, Week: 44, Weekday: 4, Year: 2018, Month: 11},
		}),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func write[T any, P interface {
	*T
	table.Partitioned
}](ctx context.Context, st storage.Store, name string, rows []T) error {
	_, err := Table(ctx, st, name, rows, func(r *T) string { return P(r).Partition() }, Options{Version: "test"})
	return err
}

// parquetFiles lists the Parquet files below dir.
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestFilesAreWhatSparkAndPyarrowWrite reads the footer and page headers of every table's files
// with Arrow's reader: DATA_PAGE (v1) pages only; strings dictionary-encoded (a PLAIN dictionary
// page, then RLE_DICTIONARY data pages); numbers PLAIN; RLE definition levels for optional
// columns and nothing else; statistics (min, max, null count) in the column chunk metadata and in
// every data page header, the null count matching the NULLs read back.
func TestFilesAreWhatSparkAndPyarrowWrite(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir)
	for _, name := range table.All {
		tb, err := lakecheck.ReadTable(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Files) == 0 || len(tb.Schema) == 0 {
			t.Fatalf("%s: no files written", name)
		}
		optional := map[string]bool{}
		for _, c := range tb.Schema {
			optional[c.Name] = c.Optional
		}
		nulls, seen := map[string]int64{}, map[string]bool{}
		for _, f := range parquetFiles(t, filepath.Join(dir, name)) {
			chunks, err := lakecheck.Chunks(f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			rel, _ := filepath.Rel(dir, f)
			for _, c := range chunks {
				where := fmt.Sprintf("%s, row group %d, column %s", rel, c.RowGroup, c.Column)
				seen[c.Column] = true
				checkChunk(t, where, c, optional[c.Column])
				nulls[c.Column] += c.NullCount
			}
		}
		for _, c := range tb.Schema {
			if !seen[c.Name] {
				t.Errorf("%s.%s: no column chunk seen", name, c.Name)
			}
			var want int64
			for _, r := range tb.Rows {
				if r[c.Name] == nil {
					want++
				}
			}
			if nulls[c.Name] != want {
				t.Errorf("%s.%s: null_count %d in the statistics, %d NULLs read back", name, c.Name, nulls[c.Name], want)
			}
		}
	}
}

func checkChunk(t *testing.T, where string, c lakecheck.Chunk, optional bool) {
	t.Helper()
	text := c.Physical == "BYTE_ARRAY"
	want := []string{"PLAIN"}
	if optional {
		want = append(want, "RLE")
	}
	if text {
		want = append(want, "RLE_DICTIONARY")
	}
	if got := slices.Compact(slices.Sorted(slices.Values(c.Encodings))); !slices.Equal(got, want) {
		t.Errorf("%s: encodings %v, want %v", where, c.Encodings, want)
	}
	// A chunk of NULLs only has no minimum or maximum: there is no value to give.
	allNull := c.NullCount == c.Values
	if !c.Stats || c.MinMax == allNull || !c.HasNulls {
		t.Errorf("%s: column chunk statistics: present %v, min/max %v, null count %v (%d of %d values NULL); want all but min/max of NULLs",
			where, c.Stats, c.MinMax, c.HasNulls, c.NullCount, c.Values)
	}
	if len(c.Pages) == 0 {
		t.Fatalf("%s: no pages", where)
	}
	data := c.Pages
	if text {
		if c.Pages[0].Type != "DICTIONARY_PAGE" || c.Pages[0].Encoding != "PLAIN" {
			t.Errorf("%s: first page %s %s, want a PLAIN DICTIONARY_PAGE", where, c.Pages[0].Type, c.Pages[0].Encoding)
		}
		data = data[1:]
	}
	var values int64
	for i, p := range data {
		wantEnc := "PLAIN"
		if text {
			wantEnc = "RLE_DICTIONARY"
		}
		if p.Type != "DATA_PAGE" || p.Encoding != wantEnc {
			t.Errorf("%s: page %d is %s %s, want DATA_PAGE %s", where, i, p.Type, p.Encoding, wantEnc)
		}
		pageAllNull := p.Stats.NullCount == int64(p.Values)
		if p.Stats.HasMin == pageAllNull || p.Stats.HasMax == pageAllNull || !p.Stats.HasNullCount {
			t.Errorf("%s: page %d statistics %+v, want min, max and null count", where, i, p.Stats)
		}
		values += int64(p.Values)
	}
	if values != c.Values {
		t.Errorf("%s: data pages hold %d values, the column chunk %d", where, values, c.Values)
	}
}

// TestDictionaryFallsBackToPlain: a string column whose dictionary outgrows DictionaryMaxBytes
// within a row group goes on PLAIN, after the dictionary-encoded pages already written, and the
// file reads back whole.
func TestDictionaryFallsBackToPlain(t *testing.T) {
	dir := t.TempDir()
	st, _ := storage.NewLocal(dir)
	const n = 200_000
	rows := make([]table.Song, n)
	for i := range rows {
		rows[i] = table.Song{SongID: fmt.Sprintf("SO%016d", i), Title: fmt.Sprintf("title %020d", i), Duration: float64(i % 7), Year: 2000, ArtistID: "AR"}
	}
	if _, err := Table(context.Background(), st, "songs", rows, (*table.Song).Partition, Options{RowGroupRows: n}); err != nil {
		t.Fatal(err)
	}
	files := parquetFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1", len(files))
	}
	chunks, err := lakecheck.Chunks(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if c.Physical != "BYTE_ARRAY" {
			continue
		}
		// The dictionary page, the pages written before the limit was crossed, then PLAIN.
		var pages []string
		for _, p := range c.Pages {
			pages = append(pages, p.Type+" "+p.Encoding)
		}
		last := len(pages) - 1
		if len(pages) < 3 || pages[0] != "DICTIONARY_PAGE PLAIN" || pages[1] != "DATA_PAGE RLE_DICTIONARY" || pages[last] != "DATA_PAGE PLAIN" {
			t.Errorf("%s: pages %v, want a dictionary page, RLE_DICTIONARY pages, then PLAIN ones", c.Column, pages)
		}
		for i := 1; i < last; i++ {
			if pages[i] == "DATA_PAGE PLAIN" && pages[i+1] != "DATA_PAGE PLAIN" {
				t.Errorf("%s: pages %v go back to the dictionary after PLAIN", c.Column, pages)
				break
			}
		}
		if !slices.Contains(c.Encodings, "PLAIN") || !slices.Contains(c.Encodings, "RLE_DICTIONARY") {
			t.Errorf("%s: encodings %v, want PLAIN and RLE_DICTIONARY", c.Column, c.Encodings)
		}
	}
	tb, err := lakecheck.ReadTable(filepath.Join(dir, "songs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != n || tb.Rows[n-1]["title"] != rows[n-1].Title {
		t.Errorf("read back %d rows, last %v", len(tb.Rows), tb.Rows[len(tb.Rows)-1])
	}
}
