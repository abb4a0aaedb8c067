//go:build !race

// A failing Beam pipeline trips the race detector inside Beam's worker harness (see
// internal/beamengine/failure_test.go), so this runs without -race: scripts/test runs this
// package a second time without it.

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBeamUnreadableInput: a worker failing on a corrupt file gives one line naming the file and
// the exit status of an unreadable input, as the local engine does, and no table.
func TestBeamUnreadableInput(t *testing.T) {
	needBeam(t)
	dir := t.TempDir()
	badGz := write(t, filepath.Join(dir, "badgz", "x.json.gz"), "not gzip")
	out := filepath.Join(dir, "lake")
	code, _, stderr := sparkify(t, "etl", "--engine", "beam", "--output", out,
		"--songs", filepath.Dir(badGz), "--logs", filepath.Join(fixtures, "logs"))
	if code != exitInput {
		t.Errorf("got exit %d, want %d (stderr %q)", code, exitInput, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, "x.json.gz") || !strings.HasPrefix(stderr, "sparkify etl: beam pipeline failed") {
		t.Errorf("want one line naming x.json.gz, got %q", stderr)
	}
	for _, table := range []string{"songplays", "users", "songs", "artists", "time"} {
		if _, err := os.Stat(filepath.Join(out, table)); err == nil {
			t.Errorf("table %s written by a failed run", table)
		}
	}
}
