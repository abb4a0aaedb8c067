package state

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparkify/lake/internal/storage"
)

// BenchmarkPlaysRoundTrip writes and reads back 100,000 plays of one day, as an incremental run
// does with the days it touches.
func BenchmarkPlaysRoundTrip(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	plays := realisticPlays(n)
	st := storage.NewMemory(storage.MemoryOptions{})
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		f, err := WritePlays(ctx, st, Dir, "year=2018/month=11", "2018-11-30", plays)
		if err != nil {
			b.Fatal(err)
		}
		m := &Meta{}
		m.AddFile(f)
		got, err := ReadPlays(ctx, st, Dir, m, "year=2018/month=11", "2018-11-30")
		if err != nil || len(got) != n {
			b.Fatal(len(got), err)
		}
		size = f.Size
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size)/n, "bytes/row")
}

// benchIDs is the id index of a big lake: 2M songplay_ids, sorted.
const benchIDs = 2_000_000

func sortedIDs(n int) []int64 {
	r := rand.New(rand.NewPCG(3, 4))
	ids := make([]int64, n)
	id := int64(math.MinInt64 / 2)
	for i := range ids {
		id += 1 + r.Int64N(1<<40)
		ids[i] = id
	}
	return ids
}

// BenchmarkWriteIDs writes an index of 2M ids (16 MB): encoding, SHA-256 and the store.
func BenchmarkWriteIDs(b *testing.B) {
	ctx := context.Background()
	ids := sortedIDs(benchIDs)
	st := storage.NewMemory(storage.MemoryOptions{})
	b.SetBytes(8 * benchIDs)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteIDs(ctx, st, Dir, ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchIDs*b.N)/b.Elapsed().Seconds(), "ids/s")
}

// BenchmarkReadIDs reads an index of 2M ids back: the store, SHA-256 and decoding.
func BenchmarkReadIDs(b *testing.B) {
	ctx := context.Background()
	ids := sortedIDs(benchIDs)
	st := storage.NewMemory(storage.MemoryOptions{})
	f, err := WriteIDs(ctx, st, Dir, ids)
	if err != nil {
		b.Fatal(err)
	}
	m := &Meta{}
	m.AddFile(f)
	b.SetBytes(8 * benchIDs)
	b.ReportAllocs()
	for b.Loop() {
		got, err := ReadIDs(ctx, st, Dir, m)
		if err != nil || len(got) != benchIDs {
			b.Fatal(len(got), err)
		}
	}
	b.ReportMetric(float64(benchIDs*b.N)/b.Elapsed().Seconds(), "ids/s")
}
