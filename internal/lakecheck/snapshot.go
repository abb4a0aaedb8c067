package lakecheck

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/state"
)

// Snapshot hashes every file of a lake below dir, by slash-separated relative path: what readers
// see. It leaves out the staging folder (a failed run may leave its staging for the next run to
// clean) and the lock (renewed by every run), and, when tablesOnly, the per-run files at the
// root (_manifest.json, _SUCCESS, _views.sql, which names the output's location).
func Snapshot(t testing.TB, dir string, tablesOnly bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == commit.StagingDir || tablesOnly && rel == state.Dir {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, run.LockFile) || tablesOnly && (rel == commit.ManifestFile || rel == commit.SuccessFile || rel == commit.ViewsFile) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SameSnapshot reports every file that differs between two snapshots.
func SameSnapshot(t testing.TB, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: changed or missing", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected file", k)
		}
	}
}
