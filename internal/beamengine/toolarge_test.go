package beamengine

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/gen"
	"github.com/sparkify/lake/internal/source"
)

// TestSameAsLocalEngineTooLargeAndSkipped compares the engines on inputs with a line over
// source.MaxLineSize, a song file over source.MaxSongFileSize (both gzipped), a symlinked log
// file and entries that are not read: the same too_large rejects, the same skipped counts.
func TestSameAsLocalEngineTooLargeAndSkipped(t *testing.T) {
	data := t.TempDir()
	if _, err := gen.WriteDir(context.Background(), data, gen.Options{
		Songs: 100, Events: 3_000, Users: 30, Days: 2, Seed: 13, MatchShare: 0.5,
	}); err != nil {
		t.Fatal(err)
	}
	songs, logs := filepath.Join(data, "song_data"), filepath.Join(data, "log_data")
	gz := func(name string, parts ...string) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		for _, p := range parts {
			zw.Write([]byte(p))
		}
		zw.Close()
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gz(filepath.Join(logs, "2018/12/2018-12-01-events.json.gz"), `{"a":1}`+"\n", strings.Repeat("x", source.MaxLineSize+1), "\n{\"b\":2}\n")
	gz(filepath.Join(songs, "Z/Z/Z/big.json.gz"), `{"song_id":"`, strings.Repeat("s", source.MaxSongFileSize), `"}`)
	os.WriteFile(filepath.Join(songs, "README.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(logs, "_SUCCESS"), nil, 0o644)
	elsewhere := t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, "e.json"), []byte(`{"c":3}`+"\n"), 0o644)
	if err := os.Symlink(filepath.Join(elsewhere, "e.json"), filepath.Join(logs, "2018/12/linked.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(logs, "linked-folder")); err != nil {
		t.Fatal(err)
	}

	local, beam := t.TempDir(), t.TempDir()
	lm := runLocal(t, songs, logs, local, 0.5)
	bm, err := runBeam(t, songs, logs, beam, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	sameOutput(t, local, beam)
	sameFigures(t, lm, bm)
	if n := lm.Inputs["events"].RejectedBy["too_large"] + lm.Inputs["songs"].RejectedBy["too_large"]; n != 2 {
		t.Errorf("%d too_large rejects, want 2", n)
	}
	// The symlinked file is read: its line is one more reject (it is not an event).
	if n := lm.Inputs["events"].Files; n != 4 {
		t.Errorf("%d log files read, want 4", n)
	}
	want := map[string]map[string]int64{"songs": {"not_json": 1}, "events": {"hidden": 1, "symlink_to_folder": 1}}
	for name, w := range want {
		if l, b := lm.Inputs[name].Skipped, bm.Inputs[name].Skipped; !maps.Equal(l, w) || !maps.Equal(b, w) {
			t.Errorf("%s skipped: local %v, beam %v, want %v", name, l, b, w)
		}
	}
}
