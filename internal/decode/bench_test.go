package decode

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/sample"
)

// BenchmarkEventLines decodes the built-in sample's log, reporting events/s: events given one by
// one (EventLines), and appended to a slice (AppendEvents).
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
	rej := func(*record.Reject) { b.Fatal("reject") }
	b.Run("emit", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var d Decoder
		n := 0
		for b.Loop() {
			d.EventLines("x", data, 1, 0, func(record.Event) { n++ }, rej)
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	// AppendEvents into a slice used again for every block, as a spilling run does.
	b.Run("append", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var d Decoder
		var events []record.Event
		for b.Loop() {
			events = d.AppendEvents(events[:0], "x", data, 1, 0, rej)
		}
		b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
