//go:build unix

package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestLocalListSymlinksAndSpecialFiles: List follows a symlink to a file (the object has the
// file's size) and the root when it is a symlink; it passes every other entry that is not a
// readable object with Skip set, and does not follow symlinks to folders.
func TestLocalListSymlinksAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for name, content := range map[string]string{"a.json": "12345", "sub/b.json": "1", "../outside/c.json": "123", "../outside/d/e.json": "1"} {
		p := filepath.Join(data, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for target, link := range map[string]string{
		"../outside/c.json": "c.json", "../outside/d": "d", "missing": "broken", "sub/loop": "sub/loop",
	} {
		if err := os.Symlink(target, filepath.Join(data, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(data, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(data, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	want := []string{"a.json 5 ", "broken 0 broken_symlink", "c.json 3 ", "d 0 symlink_to_folder", "fifo 0 not_regular_file",
		"sub/b.json 1 ", "sub/loop 0 broken_symlink"}
	list := func(root, prefix string) []string {
		st, _ := NewLocal(root)
		var got []string
		if err := st.List(context.Background(), prefix, func(o Object) error {
			got = append(got, fmt.Sprintf("%s %d %s", o.Name, o.Size, o.Skip))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	for _, root := range []string{data, filepath.Join(dir, "linked")} {
		if got := list(root, ""); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", root, got, want)
		}
	}
	for prefix, want := range map[string]string{"c.json": "c.json 3 ", "d": "d 0 symlink_to_folder", "broken": "broken 0 broken_symlink"} {
		if got := list(data, prefix); !slices.Equal(got, []string{want}) {
			t.Errorf("prefix %s: got %q, want [%q]", prefix, got, want)
		}
	}
}
