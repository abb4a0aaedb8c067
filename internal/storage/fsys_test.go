package storage

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"
)

// TestFSCountsSpecialEntries: an entry of an archive that is not a regular file (a symlink in a
// zip) is listed with Skip set, so the run counts it, instead of vanishing.
func TestFSCountsSpecialEntries(t *testing.T) {
	st := NewFS(fstest.MapFS{
		"a/song.json": {Data: []byte("{}")},
		"a/link.json": {Data: []byte("song.json"), Mode: fs.ModeSymlink},
	}, "test.zip")
	got := map[string]string{}
	if err := st.List(context.Background(), "", func(o Object) error { got[o.Name] = o.Skip; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a/song.json"] != "" || got["a/link.json"] != SkipNotRegular {
		t.Errorf("listed %v, want the file and the link marked %q", got, SkipNotRegular)
	}
}
