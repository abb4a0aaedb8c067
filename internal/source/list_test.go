//go:build unix

package source

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestSymlinkedFilesAreRead: a symlink to a file is read like the file, under the link's name;
// a root that is itself a symlink to a folder is read too.
func TestSymlinkedFilesAreRead(t *testing.T) {
	dir := tree(t, map[string]string{
		"logs/2018/11/a.json":  `{"a":1}`,
		"elsewhere/b.json":     `{"b":2}`,
		"elsewhere/sub/c.json": `{"c":3}`,
	})
	if err := os.Symlink(filepath.Join(dir, "elsewhere/b.json"), filepath.Join(dir, "logs/2018/11/b.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../elsewhere/sub/c.json", filepath.Join(dir, "logs/2018/11/c.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "logs"), filepath.Join(dir, "linked-logs")); err != nil {
		t.Fatal(err)
	}
	want := []string{"2018/11/a.json", "2018/11/b.json", "2018/11/c.json"}
	for _, spec := range []string{"logs", "linked-logs", "logs/*/*/*.json"} {
		r, err := Resolve(context.Background(), filepath.Join(dir, spec), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := paths(t, r); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", spec, got, want)
		}
	}
	r, err := Resolve(context.Background(), filepath.Join(dir, "logs/2018/11/b.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(t, r); !slices.Equal(got, []string{"b.json"}) {
		t.Errorf("a symlink named as the root: got %v, want [b.json]", got)
	}
}

// TestScanCountsSkipped: every entry of a root that is not read is counted with why, and named;
// entries a glob leaves out are not.
func TestScanCountsSkipped(t *testing.T) {
	dir := tree(t, map[string]string{
		"in/a.json":          `{}`,
		"in/b.json.gz":       `{}`,
		"in/notes.txt":       `x`,
		"in/.hidden.json":    `{}`,
		"in/_SUCCESS":        ``,
		"in/.git/x.json":     `{}`,
		"in/sub/c.json":      `{}`,
		"in/sub/c.csv":       `x`,
		"elsewhere/d.json":   `{}`,
		"elsewhere/e/f.json": `{}`,
		"only/notes.txt":     `x`,
	})
	in := filepath.Join(dir, "in")
	for _, l := range [][2]string{
		{filepath.Join(dir, "elsewhere/d.json"), "linked.json"},
		{filepath.Join(dir, "elsewhere/e"), "linked-folder"},
		{filepath.Join(dir, "elsewhere/e"), "sub/linked-folder.json"},
		{filepath.Join(dir, "nothing-there.json"), "broken.json"},
		{"loop.json", "loop.json"},
	} {
		if err := os.Symlink(l[0], filepath.Join(in, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(in, "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}

	r, err := Resolve(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var files, skipped []string
	for _, f := range l.Files {
		files = append(files, f.Path)
	}
	for _, s := range l.Skipped {
		skipped = append(skipped, s.Path+" "+s.Reason)
	}
	wantFiles := []string{"a.json", "b.json.gz", "linked.json", "sub/c.json"}
	wantSkipped := []string{
		".git/x.json hidden", ".hidden.json hidden", "_SUCCESS hidden", "broken.json broken_symlink",
		"fifo.json not_regular_file", "linked-folder symlink_to_folder", "loop.json broken_symlink",
		"notes.txt not_json", "sub/c.csv not_json", "sub/linked-folder.json symlink_to_folder",
	}
	if !slices.Equal(files, wantFiles) || !slices.Equal(skipped, wantSkipped) {
		t.Errorf("got files %q and skipped %q,\nwant %q and %q", files, skipped, wantFiles, wantSkipped)
	}
	wantBy := map[string]int64{"hidden": 3, "broken_symlink": 2, "not_regular_file": 1, "symlink_to_folder": 2, "not_json": 2}
	if got := l.SkippedBy(); !maps.Equal(got, wantBy) {
		t.Errorf("by reason: got %v, want %v", got, wantBy)
	}
	if got, want := SkippedText(wantBy), "skipped 10 entries (2 broken symlink, 3 hidden, 2 not .json, 1 not a regular file, 2 symlink to a folder)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// A glob counts only what it takes: here the .json names in sub/.
	r, err = Resolve(context.Background(), filepath.Join(in, "sub/*.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = r.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(l.Files) != 1 || fmt.Sprint(l.Skipped) != "[{linked-folder.json linked-folder.json symlink_to_folder}]" {
		t.Errorf("glob: got %v and %v", l.Files, l.Skipped)
	}

	// A root with nothing to read says what it skipped.
	r, _ = Resolve(context.Background(), filepath.Join(dir, "only"), nil)
	if _, err := r.Scan(context.Background()); !errors.Is(err, ErrNoInput) || !strings.HasSuffix(err.Error(), "only: no .json or .json.gz files; skipped 1 entry (1 not .json)") {
		t.Errorf("got %v", err)
	}
}
