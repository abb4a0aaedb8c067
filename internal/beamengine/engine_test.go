package beamengine

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/localengine"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
)

func open(t *testing.T, songs, logs, out string) (*source.Root, *source.Root, storage.Store) {
	t.Helper()
	sr, err := source.Resolve(context.Background(), songs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sr.Close() })
	lr, err := source.Resolve(context.Background(), logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lr.Close() })
	st, err := storage.NewLocal(out)
	if err != nil {
		t.Fatal(err)
	}
	return sr, lr, st
}

// runBeam runs the Beam engine on Prism, in this process.
func runBeam(t *testing.T, songs, logs, out string, maxRejected float64) (*report.Manifest, error) {
	t.Helper()
	sr, lr, st := open(t, songs, logs, out)
	return Run(context.Background(), Options{
		Config:    Config{Songs: songs, Logs: logs, Output: out, Sink: sink.Options{Version: "test"}},
		SongsRoot: sr, LogsRoot: lr, OutputStore: st, MaxRejectedRatio: maxRejected,
	})
}

func runLocal(t *testing.T, songs, logs, out string, maxRejected float64) *report.Manifest {
	t.Helper()
	sr, lr, st := open(t, songs, logs, out)
	m, err := localengine.Run(context.Background(), localengine.Options{
		Songs: sr, Logs: lr, Output: st, MaxRejectedRatio: maxRejected, Sink: sink.Options{Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// files returns every file under dir but the manifest (which names the run and its engine), by
// path relative to dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		// The manifest differs by run, the views name the output's location, and the lock is
		// the output's, not the run's output.
		if err != nil || d.IsDir() || d.Name() == "_manifest.json" || d.Name() == "_views.sql" || strings.HasPrefix(d.Name(), run.LockFile) {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameOutput checks that two outputs hold the same files with the same bytes.
func sameOutput(t *testing.T, local, beam string) {
	t.Helper()
	a, b := files(t, local), files(t, beam)
	for name, la := range a {
		lb, ok := b[name]
		switch {
		case !ok:
			t.Errorf("%s: written by the local engine, not by the Beam engine", name)
		case !bytes.Equal(la, lb):
			t.Errorf("%s: the engines wrote different bytes (%d and %d)", name, len(la), len(lb))
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("%s: written by the Beam engine, not by the local engine", name)
		}
	}
	if len(a) < 6 {
		t.Errorf("only %d files written: the comparison proves little", len(a))
	}
}

// sameFigures checks that both manifests report the same reads, rejects, duplicates and tables.
func sameFigures(t *testing.T, lm, bm *report.Manifest) {
	t.Helper()
	for _, name := range []string{"songs", "events"} {
		l, b := lm.Inputs[name], bm.Inputs[name]
		if l.Files != b.Files || l.Bytes != b.Bytes || l.Read != b.Read || l.Kept != b.Kept || l.Rejected != b.Rejected || l.Duplicates != b.Duplicates || l.Root != b.Root {
			t.Errorf("input %s: local %+v, beam %+v", name, l, b)
		}
		for r, n := range l.RejectedBy {
			if b.RejectedBy[r] != n {
				t.Errorf("input %s rejected for %s: local %d, beam %d", name, r, n, b.RejectedBy[r])
			}
		}
	}
	for name, l := range lm.Tables {
		if b := bm.Tables[name]; l != b {
			t.Errorf("table %s: local %+v, beam %+v", name, l, b)
		}
	}
	if lm.Rejected != bm.Rejected || lm.Plays != bm.Plays || lm.Matched != bm.Matched {
		t.Errorf("rejected/plays/matched: local %+v %d %d, beam %+v %d %d", lm.Rejected, lm.Plays, lm.Matched, bm.Rejected, bm.Plays, bm.Matched)
	}
	if !strings.HasPrefix(bm.Engine, "beam/") {
		t.Errorf("engine %q, want beam/<runner>", bm.Engine)
	}
}

// compareEngines runs both engines on the same inputs: the Beam engine, which applies the same
// transform rules as keyed combines and a join, must publish the very same bytes and figures.
func compareEngines(t *testing.T, songs, logs string) {
	t.Helper()
	local, beam := t.TempDir(), t.TempDir()
	lm := runLocal(t, songs, logs, local, 0.2)
	bm, err := runBeam(t, songs, logs, beam, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	sameOutput(t, local, beam)
	sameFigures(t, lm, bm)
	if entries, _ := os.ReadDir(filepath.Join(beam, "_staging")); len(entries) > 0 {
		t.Errorf("staging left behind: %v", entries)
	}
}

// TestSameAsLocalEngineGenerated compares the engines on generated data with every kind of bad
// record, duplicates, several months and partly matching plays.
func TestSameAsLocalEngineGenerated(t *testing.T) {
	dirty := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), dirty, gen.Options{
		Songs: 300, Events: 6_000, Users: 60, Days: 40, Seed: 11, MatchShare: 0.5, Dirty: true,
	}); err != nil {
		t.Fatal(err)
	}
	compareEngines(t, filepath.Join(dirty, "song_data"), filepath.Join(dirty, "log_data"))
}

// TestSameAsLocalEngineShared compares the engines on the real sample.
func TestSameAsLocalEngineShared(t *testing.T) {
	data := lakecheck.SharedData(t)
	compareEngines(t, filepath.Join(data, "song_data"), filepath.Join(data, "log_data"))
}

// TestTooManyRejected fails without publishing when the rejected share is over the limit, as the
// local engine does.
func TestTooManyRejected(t *testing.T) {
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 100, Events: 3_000, Users: 20, Days: 2, Seed: 5, Dirty: true}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err := runBeam(t, filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), out, 0)
	if !errors.Is(err, run.ErrTooManyRejected) {
		t.Fatalf("got %v, want ErrTooManyRejected", err)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err == nil {
		t.Error("published despite too many rejects")
	}
}
