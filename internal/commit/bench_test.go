package commit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/storage"
)

// BenchmarkPublishWindow measures, on a local disk, a roll-forward (commit marker to _SUCCESS)
// for five tables and a rejects folder over a published lake, and reports as window-ns/op the
// part of it in which a reader can see some tables new and some old: from the first rename to
// the last.
//
//	go test -run '^$' -bench PublishWindow ./internal/commit
func BenchmarkPublishWindow(b *testing.B) {
	local, err := storage.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	st := &timedMoves{Store: local}
	ctx := context.Background()
	dirs := []string{"songplays", "users", "songs", "artists", "time", "_rejected"}
	stageRun := func(id string) []Dir {
		var out []Dir
		for _, d := range dirs {
			for i := range 3 {
				name := fmt.Sprintf("%s/%s/p=%d/part-00000.parquet", Staging(id), d, i)
				if err := storage.WriteFile(ctx, st, name, []byte("data")); err != nil {
					b.Fatal(err)
				}
			}
			out = append(out, Dir{Name: d, Files: 3, Bytes: 12})
		}
		return out
	}
	var window time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := fmt.Sprintf("run%06d", i)
		contents := stageRun(id)
		mk := []byte(fmt.Sprintf(`{"run_id":%q,"dirs":["songplays","users","songs","artists","time","_rejected"],"staged":["songplays","users","songs","artists","time","_rejected"]}`, id))
		if err := storage.WriteFile(ctx, st, Staging(id)+"/"+ManifestFile, []byte("{}")); err != nil {
			b.Fatal(err)
		}
		if err := storage.WriteFile(ctx, st, Staging(id)+"/"+markerFile, mk); err != nil {
			b.Fatal(err)
		}
		_ = contents
		b.StartTimer()
		st.first, st.last = time.Time{}, time.Time{}
		if err := rollForward(ctx, st, id, false); err != nil {
			b.Fatal(err)
		}
		window += st.last.Sub(st.first)
	}
	b.ReportMetric(float64(window.Nanoseconds())/float64(b.N), "window-ns/op")
}

// timedMoves notes when the first and the last move of a roll-forward end.
type timedMoves struct {
	storage.Store
	first, last time.Time
}

func (t *timedMoves) Features() storage.Features {
	f := t.Store.Features()
	move := f.Move
	f.Move = func(ctx context.Context, from, to string) error {
		start := time.Now()
		err := move(ctx, from, to)
		if t.first.IsZero() {
			t.first = start
		}
		t.last = time.Now()
		return err
	}
	return f
}
