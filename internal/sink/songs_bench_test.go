package sink

import (
	"context"
	"fmt"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

// BenchmarkSongsTable writes a songs table shaped like the generated catalog's (about 1.1 songs
// per year/artist_id partition) to a local disk: a file and a folder per partition, which makes it
// the costliest table of a run in CPU. It reports the cost per file written.
func BenchmarkSongsTable(b *testing.B) {
	const n = 4000
	rows := make([]table.Song, n)
	for i := range rows {
		a := i * 7 / 8 // most artists have one song, some two
		rows[i] = table.Song{SongID: fmt.Sprintf("SO%016d", i), Title: fmt.Sprint("Title of song ", i),
			Duration: float64(100 + i%300), Year: int32(1950 + a%70), ArtistID: fmt.Sprintf("AR%016d", a)}
	}
	ctx := context.Background()
	dir := b.TempDir()
	var files int
	for b.Loop() {
		out := fmt.Sprintf("%s/%d", dir, files)
		st, err := storage.NewLocal(out)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Table(ctx, st, "songs", rows, (*table.Song).Partition, Options{Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		files += res.Files
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(files), "ns/file")
}
