//go:build !race

// These tests make a Beam pipeline fail. Beam's worker harness (v2.77.0) then closes a channel
// that another of its goroutines may still send on (harness.go:195 and :213), which the race
// detector reports as a race in Beam's code, not ours. So they run without -race: scripts/test
// runs this package a second time without it.

package beamengine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/storage"
)

// TestFailedPipelineKeepsTables runs a good pipeline, then one whose worker fails on an
// unreadable input: the run must fail and leave the first run's tables as they were.
func TestFailedPipelineKeepsTables(t *testing.T) {
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{Songs: 40, Events: 500, Users: 10, Days: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	songs, logs := filepath.Join(data, "song_data"), filepath.Join(data, "log_data")
	out := t.TempDir()
	if _, err := runBeam(t, songs, logs, out, 0.01); err != nil {
		t.Fatal(err)
	}
	before := files(t, out)

	// A .gz that is not gzip: decoding it fails inside a worker.
	if err := os.WriteFile(filepath.Join(logs, "zz-corrupt.json.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runBeam(t, songs, logs, out, 0.01)
	if !errors.Is(err, ErrPipeline) {
		t.Fatalf("got %v, want ErrPipeline", err)
	}
	if !strings.Contains(err.Error(), "zz-corrupt.json.gz") {
		t.Errorf("the error does not name the file that failed: %v", err)
	}
	after := files(t, out)
	if len(after) != len(before) {
		t.Fatalf("the failed run changed the output: %d files before, %d after", len(before), len(after))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed by the failed run", name)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(out, "_staging")); len(entries) > 0 {
		t.Errorf("staging of the failed run left behind: %v", entries)
	}
}

// TestLockedOutputRefused: the Beam engine takes the output's lock as the local engine does; on
// an output another run holds it fails at once, before the pipeline, touching nothing.
func TestLockedOutputRefused(t *testing.T) {
	out := t.TempDir()
	st, err := storage.NewLocal(out)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := run.Acquire(context.Background(), st, "other-run", run.LockOptions{Command: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release(context.Background())
	start := time.Now()
	_, err = runBeam(t, "../localengine/testdata/songs", "../localengine/testdata/logs", out, 0.01)
	if !errors.Is(err, run.ErrLocked) || !strings.Contains(err.Error(), "other-run") {
		t.Fatalf("got %v, want ErrLocked naming the holder", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to refuse", d)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), run.LockFile) {
			t.Errorf("the refused run wrote %s", e.Name())
		}
	}
}
