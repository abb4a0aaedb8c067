package localengine

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/source"
)

// TestStreamedDecodingIsWholeFileDecoding: files streamed in blocks (several per file here, plain
// and gzipped, with every kind of bad line and lines without a final newline) decode to exactly
// the events and rejects, with the same lines and offsets, as each file decoded whole.
func TestStreamedDecodingIsWholeFileDecoding(t *testing.T) {
	t.Parallel() // long: overlapped with the others
	dir := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), dir, gen.Options{
		Songs: 50, Events: 30_000, Users: 50, Days: 2, Seed: 3, MatchShare: 0.3, Dirty: true,
	}); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "log_data")
	var names []string
	filepath.WalkDir(logs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if len(names) != 2 {
		t.Fatalf("got %d log files", len(names))
	}
	// A copy of each file, gzipped, and one that ends without a newline, in a CRLF line.
	for _, p := range names {
		data, _ := os.ReadFile(p)
		if len(data) < 2<<20 {
			t.Fatalf("%s: %d bytes, want several blocks", p, len(data))
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		os.WriteFile(p+".gz", b.Bytes(), 0o644)
		os.WriteFile(strings.TrimSuffix(p, ".json")+"-crlf.json", append(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), "{\"last\":1}"...), 0o644)
	}

	root, err := source.Resolve(context.Background(), logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := root.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Workers: 2, Progress: &report.Progress{}}
	var mu sync.Mutex
	streamed := map[string][]record.Event{}
	collect := func(events []record.Event, _ int64) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			streamed[e.Src.Path] = append(streamed[e.Src.Path], e)
		}
		return false, nil // copied
	}
	res, st, err := readFiles(context.Background(), o, slog.New(slog.DiscardHandler), root, l, streamEvents(collect))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, f := range l.Files {
		data, err := os.ReadFile(filepath.Join(logs, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f.Name, ".gz") {
			zr, _ := gzip.NewReader(bytes.NewReader(data))
			var b bytes.Buffer
			b.ReadFrom(zr)
			data = b.Bytes()
		}
		total += int64(len(data))
		var want struct {
			events  []record.Event
			rejects []*record.Reject
		}
		var d decode.Decoder
		d.EventLines(f.Path, data, 1, 0,
			func(e record.Event) { want.events = append(want.events, e) },
			func(r *record.Reject) { want.rejects = append(want.rejects, r) })
		if len(want.rejects) == 0 || len(want.events) < 10_000 {
			t.Fatalf("%s: %d events and %d rejects: the test needs more", f.Path, len(want.events), len(want.rejects))
		}
		got := streamed[f.Path]
		if !reflect.DeepEqual(got, want.events) || !reflect.DeepEqual(res[i].rejects, want.rejects) || res[i].kept != int64(len(got)) {
			t.Errorf("%s: streamed, %d events (%d counted) and %d rejects; whole, %d and %d; or they differ",
				f.Path, len(got), res[i].kept, len(res[i].rejects), len(want.events), len(want.rejects))
		}
	}
	if st.Bytes != total {
		t.Errorf("%d bytes counted, want %d", st.Bytes, total)
	}
}
