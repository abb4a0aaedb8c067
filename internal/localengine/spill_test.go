package localengine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/spill"
	"github.com/sparkify/lake/internal/transform"
)

// spillData generates dirty data whose logs are a few MiB, over several days and months.
func spillData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), dir, gen.Options{
		Songs: 400, Events: 24_000, Users: 90, Days: 6, Seed: 11, MatchShare: 0.5, Dirty: true,
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSpilledRunIsIdentical is the rule of --memory-limit: a run that spills its plays to disk
// writes the same tables, byte for byte, and the same figures, as one that holds them in memory —
// whether it spills from its first block of events or starts in the middle of the reading.
func TestSpilledRunIsIdentical(t *testing.T) {
	in := spillData(t)
	want, wm := fullRun(t, in)
	if wm.Spilled {
		t.Fatal("a run without a memory limit spilled")
	}
	for _, tc := range []struct {
		name  string
		limit int64
	}{
		{"from the start", 1},
		{"midway", 3 * 3 << 20}, // after about 3 MiB of the logs' ~10 MiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			out := t.TempDir()
			m, err := runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) {
				o.MaxRejectedRatio, o.MemoryLimit, o.TempDir = 1, tc.limit, tmp
			})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Spilled {
				t.Fatalf("limit %d: the run did not spill", tc.limit)
			}
			sameTables(t, out, want)
			for _, c := range []struct {
				name      string
				got, want int64
			}{
				{"songplays", m.Plays, wm.Plays},
				{"matched", m.Matched, wm.Matched},
				{"duplicates", m.Inputs["events"].Duplicates, wm.Inputs["events"].Duplicates},
				{"rejected", m.Rejected.Rows, wm.Rejected.Rows},
				{"songplays files", int64(m.Tables["songplays"].Files), int64(wm.Tables["songplays"].Files)},
				{"songplays partitions", int64(m.Tables["songplays"].Partitions), int64(wm.Tables["songplays"].Partitions)},
				{"time bytes", m.Tables["time"].Bytes, wm.Tables["time"].Bytes},
			} {
				if c.got != c.want {
					t.Errorf("%s: %d spilled, %d in memory", c.name, c.got, c.want)
				}
			}
			if m.Inputs["events"].Duplicates == 0 {
				t.Error("no duplicate plays: the test does not exercise deduplication across the spill")
			}
			assertEmpty(t, tmp)
		})
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the temp folder: %s", e.Name())
	}
}

// A run that fails after it has spilled removes its spill files and leaves the tables as they
// were.
func TestFailedSpilledRunCleansUp(t *testing.T) {
	in := spillData(t)
	out, _ := fullRun(t, in)
	before := lakecheck.Snapshot(t, out, false)
	tmp := t.TempDir()
	_, err := runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) {
		o.MaxRejectedRatio, o.MemoryLimit, o.TempDir = 1, 1, tmp
		// The first songplays file written (pass 3) fails.
		o.Output = &faultyStore{Store: o.Output, fail: func(op, name string, _ int64) bool {
			return op == "create" && strings.Contains(name, "/songplays/")
		}}
	})
	if !errors.Is(err, errInjected) {
		t.Fatalf("got %v, want the injected fault", err)
	}
	assertEmpty(t, tmp)
	lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)
}

// A temp folder that cannot be written is a one-line error naming it; the tables are untouched.
func TestSpillFolderMissing(t *testing.T) {
	in := spillData(t)
	out, _ := fullRun(t, in)
	before := lakecheck.Snapshot(t, out, false)
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	_, err := runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) {
		o.MaxRejectedRatio, o.MemoryLimit, o.TempDir = 1, 1, missing
	})
	if err == nil || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want a one-line error naming %s", err, missing)
	}
	lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)
}

// TestMergePartChoosesWinners checks pass 2's choice against the SPEC's rule folded play by
// play (transform.EarlierEventOf): many copies of few keys, in every order, with start times
// that often tie so that the source decides.
func TestMergePartChoosesWinners(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		n := 1 + r.IntN(300)
		plays := make([]record.Event, n)
		for i := range plays {
			plays[i] = record.Event{
				Src:  record.Source{Path: fmt.Sprintf("f%d", r.IntN(3)), Line: i + 1, Offset: int64(r.IntN(5) * 100)},
				TS:   msPerDay + int64(r.IntN(3))*1000, // one day, three times
				Page: record.PageNextSong, UserID: int64(r.IntN(4)), SessionID: int64(r.IntN(3)), ItemInSession: int32(r.IntN(3)),
				HasUser: true, Song: fmt.Sprint("song ", i), Artist: "a", Level: "free",
			}
			// The same source twice is the same line: the same event.
			for j := range plays[:i] {
				if plays[j].Src.Path == plays[i].Src.Path && plays[j].Src.Offset == plays[i].Src.Offset {
					plays[i] = plays[j]
					break
				}
			}
		}
		want := map[transform.EventKey]*record.Event{}
		for i := range plays {
			k := transform.KeyOf(&plays[i])
			if w, ok := want[k]; !ok || transform.EarlierEventOf(w, &plays[i]) == &plays[i] {
				want[k] = &plays[i]
			}
		}

		dir, err := spill.Create(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		part, err := dir.Create("p")
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		for i := range plays {
			b = spill.AppendPlay(b, &plays[i], "", "")
		}
		if err := part.Write(b); err != nil {
			t.Fatal(err)
		}
		days := &dayFiles{dir: dir, files: map[int64]*spill.File{}}
		kept, _, err := mergePart(context.Background(), part, 64, &catalog{}, days)
		if err != nil {
			t.Fatal(err)
		}
		if kept != int64(len(want)) {
			t.Fatalf("round %d: kept %d plays, want %d", round, kept, len(want))
		}
		data, err := days.files[1].ReadAll()
		defer days.files[1].Release()
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for rest := data; len(rest) > 0; got++ {
			var rec []byte
			if rec, rest, err = spill.Next(rest); err != nil {
				t.Fatal(err)
			}
			var e record.Event
			if _, _, err := spill.View(rec, &e); err != nil {
				t.Fatal(err)
			}
			if w := want[transform.KeyOf(&e)]; e != *w {
				t.Fatalf("round %d: key %+v kept %+v, want %+v", round, transform.KeyOf(&e), e.Src, w.Src)
			}
		}
		if got != len(want) {
			t.Fatalf("round %d: %d plays in the day file, want %d", round, got, len(want))
		}
		_ = dir.Remove()
	}
}
