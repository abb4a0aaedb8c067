package sample

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/sparkify/lake/internal/gen"
)

type memFile struct{ *bytes.Buffer }

func (memFile) Close() error { return nil }

// TestMatchesGenerator regenerates the sample and compares it with the embedded files, byte for
// byte and name for name: the sample cannot drift from the generator. When it fails after a change
// to package gen, run `go generate ./internal/sample`.
func TestMatchesGenerator(t *testing.T) {
	want := map[string]*bytes.Buffer{}
	if _, err := gen.Generate(context.Background(), Options(), func(name string) (io.WriteCloser, error) {
		b := &bytes.Buffer{}
		want[name] = b
		return memFile{b}, nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	err := fs.WalkDir(data, "data", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got, err := fs.ReadFile(data, p)
		if err != nil {
			return err
		}
		name := p[len("data/"):]
		if w, ok := want[name]; !ok {
			t.Errorf("%s: embedded but not generated", name)
		} else if !bytes.Equal(got, w.Bytes()) {
			t.Errorf("%s: differs from the generator's output (run go generate ./internal/sample)", name)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("%d files embedded, the generator writes %d (run go generate ./internal/sample)", seen, len(want))
	}
}

func files(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFS(t *testing.T) {
	c := Counts()
	for _, tc := range []struct {
		name string
		fsys fs.FS
		want int
	}{
		{"songs", Songs(), c.SongFiles},
		{"logs", Logs(), c.LogFiles},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := files(t, tc.fsys)
			if len(names) == 0 || len(names) != tc.want {
				t.Fatalf("%d files, want %d (>0)", len(names), tc.want)
			}
			if err := fstest.TestFS(tc.fsys, names...); err != nil {
				t.Fatal(err)
			}
		})
	}
	logs := files(t, Logs())
	if want := []string{"2018/11/2018-11-29-events.json", "2018/11/2018-11-30-events.json", "2018/12/2018-12-01-events.json"}; !slices.Equal(logs, want) {
		t.Errorf("log files %v, want %v", logs, want)
	}
}

// TestCounts pins the sample's shape: a clean dataset of the documented size.
func TestCounts(t *testing.T) {
	c := Counts()
	if len(c.Rejected) != 0 || c.DuplicateEvents != 0 {
		t.Errorf("the sample must be clean: %+v", c)
	}
	if c.Songs != 80 || c.SongFiles != 80 || c.Events != 1500 || c.LogFiles != 3 {
		t.Errorf("sizes %+v", c)
	}
	if c.Matched == 0 || c.Matched == c.NextSong || c.Users == 0 {
		t.Errorf("want some matched and some unmatched plays, and users: %+v", c)
	}
}
