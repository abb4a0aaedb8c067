package state

import (
	"context"
	"testing"

	"github.com/sparkify/lake/internal/storage"
)

// BenchmarkPlaysRoundTrip writes and reads back 100,000 plays of one partition, as an
// incremental run does with the partitions it touches.
func BenchmarkPlaysRoundTrip(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	plays := realisticPlays(n)
	st := storage.NewMemory(storage.MemoryOptions{})
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		f, err := WritePlays(ctx, st, Dir, "year=2018/month=11", plays)
		if err != nil {
			b.Fatal(err)
		}
		m := &Meta{}
		m.AddFile(f)
		got, err := ReadPlays(ctx, st, Dir, m, "year=2018/month=11")
		if err != nil || len(got) != n {
			b.Fatal(len(got), err)
		}
		size = f.Size
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/n, "bytes/row")
}
