package localengine

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/sparkify/lake/internal/gen"
)

// TestGeneratedDirtyData runs the engine on a generated dataset with every kind of bad record
// injected and checks each figure against what the generator says it wrote: rejects by reason,
// duplicates removed, and the rows of every table.
func TestGeneratedDirtyData(t *testing.T) {
	dir := t.TempDir()
	counts, err := gen.WriteDir(context.Background(), dir, gen.Options{
		Songs: 600, Events: 20_000, Users: 120, Days: 3, Seed: 7, MatchShare: 0.4, Dirty: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := runLocal(t, filepath.Join(dir, "song_data"), filepath.Join(dir, "log_data"), t.TempDir(), func(o *Options) {
		o.MaxRejectedRatio = 0.2
	})
	if err != nil {
		t.Fatal(err)
	}
	rejected := map[string]int{}
	for _, in := range m.Inputs {
		for r, n := range in.RejectedBy {
			rejected[r] += int(n)
		}
	}
	if !maps.Equal(rejected, counts.Rejected) {
		t.Errorf("rejects by reason: got %v, want %v", rejected, counts.Rejected)
	}
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"songs read", m.Inputs["songs"].Read, int64(counts.Songs)},
		{"events read", m.Inputs["events"].Read, int64(counts.Events)},
		{"duplicate plays", m.Inputs["events"].Duplicates, int64(counts.DuplicateEvents)},
		{"songplays", m.Tables["songplays"].Rows, int64(counts.NextSong - counts.DuplicateEvents)},
		{"matched", m.Matched, int64(counts.Matched)},
		{"users", m.Tables["users"].Rows, int64(counts.Users)},
		{"artists", m.Tables["artists"].Rows, int64(counts.Artists)},
		{"songs", m.Tables["songs"].Rows, 600},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
}
