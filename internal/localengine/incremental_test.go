package localengine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/state"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
)

// incrementalData generates a dirty dataset over two months and adds the files that make
// incremental loading hard, returning the data folder and its files (relative, sorted):
//   - log_data/0000-dups.json, whose path sorts before every log file: copies of plays with an
//     earlier ts (they replace the plays loaded before, one of them moving back across the month
//     boundary) and with a later one (they lose);
//   - song_data/0/0/0/0000-first.json, sorting before every song file: a record for an existing
//     song_id with another title, year and artist, which wins first-record-wins and so moves the
//     song to other partitions, and changes what plays match.
func incrementalData(t *testing.T) (string, []string) {
	t.Helper()
	return incrementalDataOf(t, gen.Options{
		Songs: 80, Events: 4000, Users: 25, Days: 45, Seed: 11, MatchShare: 0.5, Dirty: true,
		Start: time.Date(2018, 10, 25, 0, 0, 0, 0, time.UTC),
	})
}

// incrementalDataOf is incrementalData with other generator options; the data must span the
// end of October.
func incrementalDataOf(t *testing.T, opts gen.Options) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), dir, opts); err != nil {
		t.Fatal(err)
	}
	files := listFiles(t, dir)

	// Plays to duplicate: some NextSong lines of several days, and the first play of November.
	var dups []string
	var firstNov map[string]any
	n := 0
	for _, f := range files {
		if !strings.HasPrefix(f, "log_data/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) != nil || e["page"] != "NextSong" || e["userId"] == "" {
				continue
			}
			ts, ok := e["ts"].(float64)
			if !ok {
				continue
			}
			if firstNov == nil && time.UnixMilli(int64(ts)).UTC().Month() == time.November {
				firstNov = e
			}
			if n++; n%23 == 0 {
				for _, shift := range []float64{-1, +1} {
					e["ts"] = ts + shift
					b, _ := json.Marshal(e)
					dups = append(dups, string(b))
				}
			}
		}
	}
	if firstNov == nil || len(dups) < 10 {
		t.Fatalf("generated data lacks the plays to duplicate (%d)", len(dups))
	}
	// The same play, logged a little before midnight on October 31st: it wins, in October.
	firstNov["ts"] = float64(time.Date(2018, 10, 31, 23, 59, 0, 0, time.UTC).UnixMilli())
	b, _ := json.Marshal(firstNov)
	dups = append(dups, string(b))
	writeFile(t, filepath.Join(dir, "log_data", "0000-dups.json"), strings.Join(dups, "\n")+"\n")

	// A first record for the song of the first song file, under another artist and year.
	var song map[string]any
	for _, f := range files {
		if strings.HasPrefix(f, "song_data/") {
			data, _ := os.ReadFile(filepath.Join(dir, f))
			if json.Unmarshal(data, &song) == nil && song["song_id"] != nil {
				break
			}
		}
	}
	song["title"], song["year"], song["artist_id"], song["artist_name"] = "Zzz moved", 1999.0, "ARZZZZZ1187B9AAAAA", "Zzz Artist"
	b, _ = json.Marshal(song)
	writeFile(t, filepath.Join(dir, "song_data", "0", "0", "0", "0000-first.json"), string(b))
	return dir, listFiles(t, dir)
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel = filepath.ToSlash(rel); strings.HasPrefix(rel, "song_data/") || strings.HasPrefix(rel, "log_data/") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyInto(t *testing.T, from, to string, files []string) {
	t.Helper()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, f), string(data))
	}
}

// split deals files into n batches at random; the first holds at least one song file and one log
// file, since a run needs both inputs. late puts incrementalData's added files in the last batch.
func split(r *rand.Rand, files []string, n int, late bool) [][]string {
	batches := make([][]string, n)
	var songs, logs []string
	for _, f := range files {
		if strings.HasPrefix(f, "song_data/") {
			songs = append(songs, f)
		} else {
			logs = append(logs, f)
		}
	}
	for _, group := range [][]string{songs, logs} {
		r.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
		batches[0] = append(batches[0], group[0])
		for _, f := range group[1:] {
			i := r.IntN(n)
			if late && strings.Contains(f, "/0000-") {
				i = n - 1 // after the files they change the outcome of
			}
			batches[i] = append(batches[i], f)
		}
	}
	return batches
}

func incremental(o *Options) {
	o.Incremental = true
	o.MaxRejectedRatio = 1 // small batches of dirty data
}

// runIncremental loads in's inputs into out with --incremental.
func runInc(t *testing.T, in, out string, mutate ...func(*Options)) (*report.Manifest, error) {
	t.Helper()
	return runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) {
		incremental(o)
		for _, m := range mutate {
			m(o)
		}
	})
}

// fullRun is the reference: one full run over in.
func fullRun(t *testing.T, in string) (string, *report.Manifest) {
	t.Helper()
	out := t.TempDir()
	m, err := runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) { o.MaxRejectedRatio = 1 })
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// sameTables checks that two outputs hold the same table files, byte for byte, and the same rows.
func sameTables(t *testing.T, got, want string) {
	t.Helper()
	lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, got, true), lakecheck.Snapshot(t, want, true))
	for _, name := range []string{"songplays", "users", "songs", "artists", "time"} {
		g, err := lakecheck.ReadTable(filepath.Join(got, name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := lakecheck.ReadTable(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Rows) != len(w.Rows) {
			t.Errorf("%s: %d rows, a full run has %d", name, len(g.Rows), len(w.Rows))
		}
	}
}

// TestIncrementalEqualsFullRun is the rule that defines --incremental: after any sequence of
// incremental runs, the lake holds exactly the tables one full run over all the files loaded so
// far writes. Random splits of dirty data into batches, with plays whose songs come later,
// duplicates across batches, backfilled days and song files sorting before loaded ones.
func TestIncrementalEqualsFullRun(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	want, wantM := fullRun(t, data)
	if wantM.Inputs["events"].Duplicates == 0 || wantM.Matched == 0 || wantM.Rejected.Rows == 0 {
		t.Fatalf("the data lacks duplicates, matches or rejects: %+v", wantM.Inputs)
	}
	seeds := 6
	if testing.Short() || raceEnabled { // ten times slower: the engine's concurrency is the point there
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("split", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 99))
			batches := split(r, slices.Clone(files), 2+seed%4, seed%2 == 0)
			in, out := t.TempDir(), t.TempDir()
			for i, b := range batches {
				copyInto(t, data, in, b)
				m, err := runInc(t, in, out)
				if err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				if inc := m.Incremental; inc == nil || inc.Full != (i == 0) {
					t.Fatalf("batch %d: incremental report %+v", i, inc)
				}
				if i == 0 {
					continue
				}
				// Every intermediate lake is the full run over what it loaded so far.
				if i == len(batches)/2 {
					ref, _ := fullRun(t, in)
					sameTables(t, out, ref)
				}
			}
			sameTables(t, out, want)
		})
	}
}

// TestIncrementalSkipsLoadedFiles: a run with nothing new touches nothing; one with one new day
// rewrites only that day's partitions and says so.
func TestIncrementalSkipsLoadedFiles(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	var first, last []string
	for _, f := range files {
		if f == "log_data/0000-dups.json" || strings.HasPrefix(f, "song_data/0/0/0/") {
			continue // they touch old partitions
		}
		if strings.HasSuffix(f, "/2018-12-08-events.json") {
			last = append(last, f)
		} else {
			first = append(first, f)
		}
	}
	if len(last) != 1 {
		t.Fatalf("no log file for 2018-12-08 in %v", files)
	}
	in, out := t.TempDir(), t.TempDir()
	copyInto(t, data, in, first)
	if _, err := runInc(t, in, out); err != nil {
		t.Fatal(err)
	}
	before := lakecheck.Snapshot(t, out, false)
	m, err := runInc(t, in, out)
	if err != nil {
		t.Fatal(err)
	}
	if inc := m.Incremental; inc.Full || inc.NewFiles["songs"]+inc.NewFiles["events"] != 0 || inc.LoadedBefore["events"] != len(first)-countPrefix(first, "song_data/") {
		t.Errorf("nothing new: report %+v", inc)
	}
	lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)

	copyInto(t, data, in, last)
	decFiles := filesUnder(t, out, "songplays/year=2018/month=12")
	octFiles := filesUnder(t, out, "songplays/year=2018/month=10")
	m, err = runInc(t, in, out)
	if err != nil {
		t.Fatal(err)
	}
	// The day's files are written; every other file, of December too, stays the very same.
	inc := m.Incremental
	day := "year=2018/month=12/2018-12-08"
	if inc.NewFiles["events"] != 1 || !slices.Equal(inc.Rewritten["songplays"], []string{day}) ||
		!slices.Equal(inc.Rewritten["time"], []string{day}) || len(inc.Rewritten["songs"]) != 0 {
		t.Errorf("one new day: report %+v", inc)
	}
	if got := filesUnder(t, out, "songplays/year=2018/month=10"); !sameFiles(got, octFiles) {
		t.Error("October's songplays files were written again")
	}
	newDec := filesUnder(t, out, "songplays/year=2018/month=12")
	var kept, written int
	for _, f := range newDec {
		if strings.HasPrefix(f.Name(), "part-2018-12-08-") {
			written++
			if slices.ContainsFunc(decFiles, func(o os.FileInfo) bool { return os.SameFile(o, f) }) {
				t.Errorf("%s was not written again", f.Name())
			}
		} else if !slices.ContainsFunc(decFiles, func(o os.FileInfo) bool { return os.SameFile(o, f) }) {
			t.Errorf("December's %s was written again", f.Name())
		} else {
			kept++
		}
	}
	if written != 1 || kept != len(decFiles) {
		t.Errorf("December: %d files written, %d kept of %d", written, kept, len(decFiles))
	}
	ref, _ := fullRun(t, in)
	sameTables(t, out, ref)
}

func countPrefix(files []string, prefix string) (n int) {
	for _, f := range files {
		if strings.HasPrefix(f, prefix) {
			n++
		}
	}
	return n
}

func filesUnder(t *testing.T, out, dir string) []os.FileInfo {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(out, dir))
	if err != nil {
		t.Fatal(err)
	}
	var infos []os.FileInfo
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(out, dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, info)
	}
	return infos
}

func sameFiles(a, b []os.FileInfo) bool {
	return slices.EqualFunc(a, b, os.SameFile)
}

// TestIncrementalChangedInput: a file loaded before that has changed or is gone fails the run
// with a line naming it, before anything is touched.
func TestIncrementalChangedInput(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	var logFile string
	for _, f := range files {
		if strings.Contains(f, "/2018-11-") {
			logFile = f
			break
		}
	}
	for _, tc := range []struct {
		name, want string
		change     func(path string)
	}{
		{"appended", "has changed", func(p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("\n")
			f.Close()
		}},
		{"rewritten with the same size", "has changed", func(p string) {
			b, _ := os.ReadFile(p)
			time.Sleep(20 * time.Millisecond)
			os.WriteFile(p, bytes.ToUpper(b), 0o644)
		}},
		{"removed", "is gone", func(p string) { os.Remove(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			copyInto(t, data, in, files)
			if _, err := runInc(t, in, out); err != nil {
				t.Fatal(err)
			}
			before := lakecheck.Snapshot(t, out, false)
			tc.change(filepath.Join(in, logFile))
			_, err := runInc(t, in, out)
			if !errors.Is(err, ErrInputChanged) || !errors.Is(err, source.ErrInput) ||
				!strings.Contains(err.Error(), filepath.Base(logFile)) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "without --incremental") {
				t.Fatalf("got %v; want ErrInputChanged naming %s", err, logFile)
			}
			lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)
		})
	}
}

// TestIncrementalDamagedState: a state file cut short, or its description, fails the run with a
// clear error; nothing is touched.
func TestIncrementalDamagedState(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	half := len(files) / 2
	for _, victim := range []string{"meta/state.json", "ids/ids.bin", "plays/year=2018/month=11/2018-11-30.parquet", "catalog/songs.parquet"} {
		t.Run(victim, func(t *testing.T) {
			in, out := t.TempDir(), t.TempDir()
			copyInto(t, data, in, files[:half])
			if _, err := runInc(t, in, out); err != nil {
				t.Fatal(err)
			}
			copyInto(t, data, in, files[half:])
			p := filepath.Join(out, state.Dir, victim)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			before := lakecheck.Snapshot(t, out, false)
			_, err = runInc(t, in, out)
			if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), "without --incremental") {
				t.Fatalf("got %v; want state.ErrCorrupt saying how to rebuild", err)
			}
			lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, false), before)
		})
	}
}

// TestIncrementalKillPoints fails an incremental run at each store operation in turn: the output
// then holds the tables and state of the run before, together (or of the failed run, when the
// fault came after its commit point and the recovery finished it), and the next run gives the
// tables of a full run.
func TestIncrementalKillPoints(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	// Small data: the run is repeated once per store operation.
	data, files := incrementalDataOf(t, gen.Options{
		Songs: 20, Events: 800, Users: 8, Days: 6, Seed: 5, MatchShare: 0.5, Dirty: true,
		Start: time.Date(2018, 10, 29, 0, 0, 0, 0, time.UTC),
	})
	in := t.TempDir()
	half := len(files) / 2
	copyInto(t, data, in, files[:half])
	base := t.TempDir()
	if _, err := runInc(t, in, base); err != nil {
		t.Fatal(err)
	}
	copyInto(t, data, in, files[half:])
	want, _ := fullRun(t, in)
	wantSnap := lakecheck.Snapshot(t, want, true)
	// Count the operations of a clean second run.
	probe := copyTree(t, base)
	counter := &faultyStore{fail: func(string, string, int64) bool { return false }}
	if _, err := runInc(t, in, probe, func(o *Options) { counter.Store = o.Output; o.Output = counter }); err != nil {
		t.Fatal(err)
	}
	ops := counter.n.Load()
	if ops < 20 {
		t.Fatalf("only %d store operations", ops)
	}
	t.Logf("%d store operations", ops)
	step := int64(1)
	if testing.Short() || raceEnabled {
		step = 4
	}
	for k := int64(1); k <= ops; k += step {
		out := copyTree(t, base)
		before := lakecheck.Snapshot(t, out, false)
		_, err := runInc(t, in, out, func(o *Options) {
			o.Output = &faultyStore{Store: o.Output, fail: func(_, _ string, n int64) bool { return n == k }}
		})
		if err == nil {
			continue // the fault hit a step whose failure is tolerated (a clean-up)
		}
		if !errors.Is(err, errInjected) {
			t.Fatalf("op %d: %v", k, err)
		}
		// Recovery alone (what the next run does first) gives the old lake or the new one.
		st, _ := storage.NewLocal(out)
		r, _, err := run.Begin(context.Background(), st, run.Options{Command: "test"})
		if err != nil {
			t.Fatalf("op %d: recover: %v", k, err)
		}
		r.End(context.Background(), nil)
		after := lakecheck.Snapshot(t, out, false)
		if !maps.Equal(after, before) {
			lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, true), wantSnap)
		}
		if _, err := runInc(t, in, out); err != nil {
			t.Fatalf("op %d: the next run: %v", k, err)
		}
		lakecheck.SameSnapshot(t, lakecheck.Snapshot(t, out, true), wantSnap)
		if t.Failed() {
			t.Fatalf("op %d of %d", k, ops)
		}
	}
}

func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	return to
}

// TestIncrementalRunsTogether: two incremental runs started together on one output: one
// proceeds, the other fails at once on the lock; the lake is then what a full run writes.
func TestIncrementalRunsTogether(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	in, out := t.TempDir(), t.TempDir()
	copyInto(t, data, in, files)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = runInc(t, in, out) })
	}
	wg.Wait()
	var ok, locked int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, run.ErrLocked):
			locked++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	// Both may succeed one after the other if the first finished before the second began.
	if ok == 0 || ok+locked != 2 {
		t.Fatalf("%d succeeded, %d found the lock taken", ok, locked)
	}
	want, _ := fullRun(t, in)
	sameTables(t, out, want)
}

// TestIncrementalRebuilds: a change of settings that changes the tables' bytes makes the next
// incremental run a full load, said so; other inputs are an error.
func TestIncrementalRebuilds(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	in, out := t.TempDir(), t.TempDir()
	copyInto(t, data, in, files)
	if _, err := runInc(t, in, out); err != nil {
		t.Fatal(err)
	}
	m, err := runInc(t, in, out, func(o *Options) { o.Sink.Compression = "zstd" })
	if err != nil {
		t.Fatal(err)
	}
	if !m.Incremental.Full || !strings.Contains(m.Incremental.Why, "compression") {
		t.Errorf("after a change of compression: %+v", m.Incremental)
	}
	other := t.TempDir()
	copyInto(t, data, other, files)
	_, err = runInc(t, other, out)
	if !errors.Is(err, ErrStateRoots) {
		t.Errorf("other inputs: got %v, want ErrStateRoots", err)
	}
	// A full run removes the state: the next incremental run loads everything again.
	if _, err := runLocal(t, filepath.Join(in, "song_data"), filepath.Join(in, "log_data"), out, func(o *Options) { o.MaxRejectedRatio = 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, state.Dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a full run left %s: %v", state.Dir, err)
	}
}

// TestIncrementalS3 runs one split with the inputs and the lake on a real S3 server: ETags tell
// the files apart, partitions are published by copies, and the lake equals a local full run.
func TestIncrementalS3(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data, files := incrementalData(t)
	env := newS3Env(t, "")
	input := env.client.Store(s3.URL{Bucket: "input"})
	lake := env.client.Store(s3.URL{Bucket: "lake", Key: "daily"})
	batches := split(rand.New(rand.NewPCG(3, 3)), slices.Clone(files), 3, true)
	ctx := context.Background()
	for i, b := range batches {
		for _, f := range b {
			local, _ := storage.NewLocal(data)
			if err := storage.Copy(ctx, local, f, input, f); err != nil {
				t.Fatal(err)
			}
		}
		m, err := Run(ctx, Options{
			Songs: env.root(t, "s3://input/song_data"), Logs: env.root(t, "s3://input/log_data"), Output: lake,
			Workers: 2, MaxRejectedRatio: 1, Sink: sink.Options{Version: "test"}, Incremental: true,
		})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if m.Incremental.NewFiles["songs"]+m.Incremental.NewFiles["events"] != len(b) {
			t.Errorf("batch %d: %+v new files, want %d", i, m.Incremental.NewFiles, len(b))
		}
	}
	want, _ := fullRun(t, data)
	got := download(t, lake)
	sameTables(t, got, want)
	// A loaded file rewritten on S3 is seen through its ETag.
	f := batches[0][len(batches[0])-1]
	if err := storage.WriteFile(ctx, input, f, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, Options{
		Songs: env.root(t, "s3://input/song_data"), Logs: env.root(t, "s3://input/log_data"), Output: lake,
		Workers: 2, MaxRejectedRatio: 1, Sink: sink.Options{Version: "test"}, Incremental: true,
	})
	if !errors.Is(err, ErrInputChanged) {
		t.Errorf("after rewriting %s: got %v, want ErrInputChanged", f, err)
	}
}

// TestIncrementalCleanData: data without a single rejected record or duplicate, loaded in two
// batches, gives a full run's tables (the state then holds empty rejects).
func TestIncrementalCleanData(t *testing.T) {
	t.Parallel() // long, and partly waiting on servers: overlapped with the others
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 40, Events: 600, Users: 10, Days: 4, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	files := listFiles(t, data)
	in, out := t.TempDir(), t.TempDir()
	for i, b := range split(rand.New(rand.NewPCG(1, 1)), files, 2, false) {
		copyInto(t, data, in, b)
		if _, err := runInc(t, in, out); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	want, m := fullRun(t, data)
	if m.Rejected.Rows != 0 {
		t.Fatalf("%d rejected records in clean data", m.Rejected.Rows)
	}
	sameTables(t, out, want)
}

// TestIncrementalLeavesDaysReadForDuplicates: a session that runs past midnight makes the run
// that adds the next day read the day before (a play with a new play's key could be there), but a
// day in which nothing changed is not written again.
func TestIncrementalLeavesDaysReadForDuplicates(t *testing.T) {
	t.Parallel()
	line := func(ts int64, item int) string {
		return fmt.Sprintf(`{"artist":"The Quiet Ones","auth":"Logged In","firstName":"Ann","gender":"F","itemInSession":%d,"lastName":"Lee","length":180.3,"level":"free","location":"Austin, TX","method":"PUT","page":"NextSong","registration":1540919166796.0,"sessionId":100,"song":"Intro","status":200,"ts":%d,"userAgent":"Mozilla","userId":"7"}`+"\n", item, ts)
	}
	midnight := time.Date(2018, 11, 11, 0, 0, 0, 0, time.UTC).UnixMilli()
	in, out := t.TempDir(), t.TempDir()
	if err := os.CopyFS(filepath.Join(in, "song_data"), os.DirFS("testdata/songs")); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		p := filepath.Join(in, "log_data", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	write("2018-11-10-events.json", line(midnight-60_000, 0)+line(midnight-30_000, 1))
	if _, err := runInc(t, in, out); err != nil {
		t.Fatal(err)
	}
	before := filesUnder(t, out, "songplays/year=2018/month=11")
	write("2018-11-11-events.json", line(midnight+30_000, 2))
	m, err := runInc(t, in, out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"year=2018/month=11/2018-11-11"}
	if got := m.Incremental.Rewritten["songplays"]; !slices.Equal(got, want) {
		t.Errorf("songplays rewritten %q, want %q", got, want)
	}
	if got := filesUnder(t, out, "songplays/year=2018/month=11"); len(got) != 2 || !os.SameFile(got[0], before[0]) {
		t.Errorf("the day before was written again, or the new day is missing: %d files", len(got))
	}
	ref, _ := fullRun(t, in)
	sameTables(t, out, ref)
}
