package localengine

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/storage"
)

func snapshot(t *testing.T, dir string, tablesOnly bool) map[string]string {
	t.Helper()
	return lakecheck.Snapshot(t, dir, tablesOnly)
}

func sameSnapshot(t *testing.T, got, want map[string]string) {
	t.Helper()
	lakecheck.SameSnapshot(t, got, want)
}

var errInjected = errors.New("injected fault")

// faultyStore fails the operation chosen by fail, counting calls from 1.
type faultyStore struct {
	storage.Store
	fail func(op, name string, n int64) bool
	n    atomic.Int64
}

func (f *faultyStore) check(op, name string) error {
	if f.fail(op, name, f.n.Add(1)) {
		return &fs.PathError{Op: op, Path: name, Err: errInjected}
	}
	return nil
}

func (f *faultyStore) Create(ctx context.Context, name string) (storage.Writer, error) {
	if err := f.check("create", name); err != nil {
		return nil, err
	}
	w, err := f.Store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &faultyWriter{Writer: w, f: f, name: name}, nil
}

// faultyWriter fails its write half-way through the object.
type faultyWriter struct {
	storage.Writer
	f    *faultyStore
	name string
}

func (w *faultyWriter) Write(p []byte) (int, error) {
	if err := w.f.check("write", w.name); err != nil {
		n, _ := w.Writer.Write(p[:len(p)/2])
		return n, err
	}
	return w.Writer.Write(p)
}

func (f *faultyStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := f.check("open", name); err != nil {
		return nil, err
	}
	return f.Store.Open(ctx, name)
}

func (f *faultyStore) Move(ctx context.Context, from, to string) error {
	if err := f.check("move", from); err != nil {
		return err
	}
	return storage.Move(ctx, f.Store, from, to)
}

func (f *faultyStore) RemoveAll(ctx context.Context, prefix string) error {
	if err := f.check("remove", prefix); err != nil {
		return err
	}
	return f.Store.RemoveAll(ctx, prefix)
}

// Features forwards the inner store's, with Move through the fault check, and writes through
// Create and its checks.
func (f *faultyStore) Features() storage.Features {
	feat := f.Store.Features()
	if feat.Move != nil {
		feat.Move = f.Move
	}
	feat.CreateDirect = nil
	return feat
}

func TestFixtureTables(t *testing.T) {
	out := t.TempDir()
	m, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Plays != 3 || m.Matched != 2 || m.Inputs["events"].Duplicates != 1 || m.Inputs["songs"].Duplicates != 1 {
		t.Errorf("got %d plays, %d matched, %d duplicate plays, %d duplicate songs; want 3, 2, 1, 1",
			m.Plays, m.Matched, m.Inputs["events"].Duplicates, m.Inputs["songs"].Duplicates)
	}
	plays, err := lakecheck.ReadTable(filepath.Join(out, "songplays"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]lakecheck.Row{}
	for _, r := range plays.Rows {
		got[r["item_in_session"].(int32)+10*int32(r["session_id"].(int64))] = r
	}
	// Duplicate (7, 10, 2): the copy with the smaller ts is kept.
	if r := got[102]; r["start_time"] != int64(1541030402000) || r["song_id"] != "SOTEST03" {
		t.Errorf("deduplicated play: got %v", r)
	}
	// "Intro" exists for two artists: the artist decides.
	if r := got[101]; r["song_id"] != "SOTEST02" || r["artist_id"] != "ARTEST02" {
		t.Errorf("Intro by The Quiet Ones: got %v", r)
	}
	// No match: NULL ids, still a play.
	if r := got[110]; r == nil || r["song_id"] != nil || r["artist_id"] != nil {
		t.Errorf("unmatched play: got %v", r)
	}
	songs, err := lakecheck.ReadTable(filepath.Join(out, "songs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range songs.Rows {
		if r["song_id"] == "SOTEST03" && (r["title"] != "Late Night" || r["duration"] != 240.0) {
			t.Errorf("first record wins for songs: got %v", r)
		}
	}
	artists, err := lakecheck.ReadTable(filepath.Join(out, "artists"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range artists.Rows {
		switch r["artist_id"] {
		case "ARTEST01":
			if r["latitude"] != nil || r["longitude"] != nil || r["location"] != nil || r["name"] != "Mia Ström" {
				t.Errorf("artist with unknown place: got %v", r)
			}
		case "ARTEST02":
			if r["location"] != "New York, NY" || r["latitude"] != 40.5 {
				t.Errorf("first record wins for artists: got %v", r)
			}
		}
	}
}

// TestFailedRunLeavesTablesIntact injects a fault at every step of a run over a published lake and
// checks that the lake is byte-identical afterwards, then that a clean rerun gives exactly the
// tables of a run that never failed.
func TestFailedRunLeavesTablesIntact(t *testing.T) {
	// The reference: tables of input B written on their own.
	ref := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", ref, nil); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref, true)

	cases := []struct {
		name string
		fail func(op, name string, n int64) bool
	}{
		{"create of the first table file", func(op, name string, _ int64) bool {
			return op == "create" && strings.Contains(name, "songplays/")
		}},
		{"write half-way through a file", func(op, name string, _ int64) bool {
			return op == "write" && strings.Contains(name, "/users/")
		}},
		{"create of the commit marker", func(op, name string, _ int64) bool {
			return op == "create" && strings.HasSuffix(name, "_COMMIT")
		}},
		{"staging cleanup after a fault", func(op, name string, _ int64) bool {
			return (op == "create" && strings.Contains(name, "/time/")) || op == "remove"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := failedRunKeepsTables(t, func(o *Options) {
				o.Output = &faultyStore{Store: o.Output, fail: tc.fail}
			})

			// The next run cleans up and publishes exactly what a run that never failed would.
			if _, err := runLocal(t, "testdata/songs", "testdata/logs2", out, nil); err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, snapshot(t, out, true), want)
			if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !os.IsNotExist(err) {
				t.Errorf("staging left behind: %v", err)
			}
		})
	}
}

// TestInputFailureLeavesTablesIntact: the songs and the events are read at once; a file of either
// that cannot be read fails the run with its error, whichever side fails first and whether the
// other is still being read or done, stops the other, and leaves the tables as they were.
func TestInputFailureLeavesTablesIntact(t *testing.T) {
	opens := func(op, _ string, _ int64) bool { return op == "open" }
	lastOpen := func(n int64) func(op, _ string, m int64) bool {
		return func(op, _ string, m int64) bool { return op == "open" && m == n }
	}
	cases := []struct {
		name        string
		songs, logs func(op, name string, n int64) bool
	}{
		{"every song file", opens, nil},
		{"the last song file", lastOpen(3), nil},
		{"the event file", nil, opens},
		{"both", opens, opens},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			failedRunKeepsTables(t, func(o *Options) {
				if tc.songs != nil {
					o.Songs.Store = &faultyStore{Store: o.Songs.Store, fail: tc.songs}
				}
				if tc.logs != nil {
					o.Logs.Store = &faultyStore{Store: o.Logs.Store, fail: tc.logs}
				}
			})
		})
	}
}

// failedRunKeepsTables publishes the tables of testdata/logs into a new folder, then runs on
// testdata/logs2 with faults that mutate sets up: the run must fail with the injected fault and
// leave the folder as it was. It returns the folder.
func failedRunKeepsTables(t *testing.T, mutate func(*Options)) string {
	t.Helper()
	out := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out, false)
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", out, mutate); !errors.Is(err, errInjected) {
		t.Fatalf("got error %v, want the injected fault", err)
	}
	sameSnapshot(t, snapshot(t, out, false), before)
	return out
}

// TestInterruptedPublishRollsForward fails a run after its commit point: the next run must finish
// publishing it before doing its own work.
func TestInterruptedPublishRollsForward(t *testing.T) {
	ref := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs2", ref, nil); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref, true)
	for _, failAt := range []string{"songs", "time", "_rejected"} {
		t.Run("move of "+failAt, func(t *testing.T) {
			out := t.TempDir()
			if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
				t.Fatal(err)
			}
			_, err := runLocal(t, "testdata/songs", "testdata/logs2", out, func(o *Options) {
				o.Output = &faultyStore{Store: o.Output, fail: func(op, name string, _ int64) bool {
					return op == "move" && strings.HasSuffix(name, "/"+failAt)
				}}
			})
			if !errors.Is(err, errInjected) && failAt != "_rejected" {
				t.Fatalf("got error %v, want the injected fault", err)
			}
			// Recovery alone (as the start of the next run does) publishes the interrupted run.
			st, _ := storage.NewLocal(out)
			if _, err := commit.Recover(context.Background(), st); err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, snapshot(t, out, true), want)
			if _, err := os.Stat(filepath.Join(out, commit.SuccessFile)); err != nil {
				t.Errorf("no _SUCCESS after roll-forward: %v", err)
			}
		})
	}
}

// TestRerunIsIdentical checks idempotence: the same input twice gives byte-identical tables.
func TestRerunIsIdentical(t *testing.T) {
	out := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, out, true)
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, func(o *Options) { o.Workers = 1 }); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, snapshot(t, out, true), first)
}

// TestCancelledRunLeavesTablesIntact cancels a run, as a SIGINT does, while it writes the songs
// table of a catalog of thousands of partitions: the run must stop at once (not write the rest
// of the table first), remove its staging, and leave the published tables as they were.
func TestCancelledRunLeavesTablesIntact(t *testing.T) {
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 3000, Events: 30_000, Users: 50, Days: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	songs, logs := filepath.Join(data, "song_data"), filepath.Join(data, "log_data")
	out := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out, false)

	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Bool
	var createsAfter atomic.Int64
	var partitions int64
	start := time.Now()
	var cancelledAt time.Time
	_, err := runLocalCtx(t, ctx, songs, logs, out, func(o *Options) {
		o.Output = &faultyStore{Store: o.Output, fail: func(op, name string, _ int64) bool {
			if op != "create" || !strings.Contains(name, "/songs/") {
				return false
			}
			if cancelled.Load() {
				createsAfter.Add(1)
			} else if atomic.AddInt64(&partitions, 1) == 10 {
				cancelledAt = time.Now()
				cancelled.Store(true)
				cancel() // as a SIGINT would, while the songs table is being written
			}
			return false
		}}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(cancelledAt); d > 2*time.Second {
		t.Errorf("the run took %v to stop after the cancellation (started %v before it)", d, cancelledAt.Sub(start))
	}
	// The sink writes a few partitions at once: those under way may finish, no new one starts.
	if n := createsAfter.Load(); n > 16 {
		t.Errorf("%d song files created after the cancellation: the run went on writing", n)
	}
	sameSnapshot(t, snapshot(t, out, false), before)
	if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !os.IsNotExist(err) {
		t.Errorf("staging left behind after the cancelled run: %v", err)
	}
}

var _ io.Writer = (*faultyWriter)(nil)
