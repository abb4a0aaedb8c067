package decode

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/sample"
)

// BenchmarkEventLines decodes the built-in sample's log, reporting events/s.
func BenchmarkEventLines(b *testing.B) {
	var data []byte
	fs.WalkDir(sample.Logs(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			f, _ := fs.ReadFile(sample.Logs(), p)
			data = append(append(data, f...), '\n')
		}
		return nil
	})
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var d Decoder
	n := 0
	for b.Loop() {
		d.EventLines("x", data, 1, 0, func(record.Event) { n++ }, func(*record.Reject) { b.Fatal("reject") })
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
}
