package localengine

import (
	"context"
	"testing"

	"github.com/sparkify/lake/internal/sample"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
)

// BenchmarkRunSample runs the whole pipeline on the built-in sample, end to end.
func BenchmarkRunSample(b *testing.B) {
	b.ReportAllocs()
	var bytes int64
	for b.Loop() {
		st, _ := storage.NewLocal(b.TempDir())
		m, err := Run(context.Background(), Options{
			Songs: source.Sample(sample.Songs(), "songs"), Logs: source.Sample(sample.Logs(), "logs"),
			Output: st, MaxRejectedRatio: 0.01,
		})
		if err != nil {
			b.Fatal(err)
		}
		bytes = m.InputBytes()
	}
	b.SetBytes(bytes)
}
