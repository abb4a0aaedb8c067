package source

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/record"
)

// tree writes files (name -> content) under a new temp folder; names ending in .gz are gzipped.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasSuffix(name, ".gz") {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var files = map[string]string{
	"song_data/A/B/x.json":           `{"a":1}`,
	"song_data/A/C/y.json.gz":        `{"b":2}`,
	"song_data/A/_hidden.json":       `{}`,
	"song_data/.git/z.json":          `{}`,
	"song_data/__MACOSX/A/._x.json":  `{}`,
	"song_data/README.txt":           `not data`,
	"song_data/B/UPPER.JSON":         `{"c":3}`,
	"song_data/B/deeper/more/w.json": `{"d":4}`,
}

func paths(t *testing.T, r *Root) []string {
	t.Helper()
	fs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestResolve(t *testing.T) {
	dir := tree(t, files)
	zipPath := filepath.Join(t.TempDir(), "song-data.zip")
	zf, _ := os.Create(zipPath)
	zw := zip.NewWriter(zf)
	for name, content := range files {
		if strings.HasSuffix(name, ".gz") {
			continue
		}
		w, _ := zw.Create(name)
		w.Write([]byte(content))
	}
	zw.Close()
	zf.Close()

	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"a folder takes every .json and .json.gz at any depth, skipping hidden names",
			filepath.Join(dir, "song_data"), []string{"A/B/x.json", "A/C/y.json.gz", "B/UPPER.JSON", "B/deeper/more/w.json"}},
		{"a glob takes the files it matches", filepath.Join(dir, "song_data/*/*/*.json"), []string{"A/B/x.json"}},
		{"a glob over folders takes the files below them", filepath.Join(dir, "song_data/B/*"), []string{"UPPER.JSON", "deeper/more/w.json"}},
		{"a single file is read whatever its name", filepath.Join(dir, "song_data/README.txt"), []string{"README.txt"}},
		{"a zip archive is read like a folder", zipPath, []string{"song_data/A/B/x.json", "song_data/B/UPPER.JSON", "song_data/B/deeper/more/w.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(context.Background(), tt.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := paths(t, r); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSongFileUndoesGzip(t *testing.T) {
	dir := tree(t, files)
	r, err := Resolve(context.Background(), filepath.Join(dir, "song_data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fs, _ := r.List(context.Background())
	for _, f := range fs {
		data, size, err := r.SongFile(context.Background(), f, func(r *record.Reject) { t.Errorf("rejected %v", r) })
		if err != nil {
			t.Fatal(err)
		}
		if want := files["song_data/"+f.Path]; string(data) != want || size != int64(len(want)) {
			t.Errorf("%s: got %q (%d bytes), want %q", f.Path, data, size, want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	dir := tree(t, map[string]string{"empty/notes.txt": "x"})
	os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
	os.WriteFile(filepath.Join(dir, "bad", "x.json.gz"), []byte("not gzip"), 0o644)
	tests := []struct {
		name string
		spec string
		want error
	}{
		{"missing folder", filepath.Join(dir, "nope"), fs.ErrNotExist},
		{"folder without input files", filepath.Join(dir, "empty"), ErrNoInput},
		{"glob that matches nothing", filepath.Join(dir, "empty/*.json"), ErrNoInput},
		{"a URL without a remote opener", "s3://bucket/song_data", ErrUnsupported},
		{"unknown scheme", "gs://bucket/x", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Resolve(context.Background(), tt.spec, nil)
			if err == nil {
				_, err = r.List(context.Background())
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	r, err := Resolve(context.Background(), filepath.Join(dir, "bad"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.SongFile(context.Background(), fs[0], nil); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "x.json.gz") {
		t.Errorf("a corrupt .gz: got %v, want an error naming the file", err)
	}
}
