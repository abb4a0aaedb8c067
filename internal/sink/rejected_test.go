package sink

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// TestRejectsTruncatedRaw: a reject whose raw bytes are only the record's start says so, with the
// record's size; the other lines are as they always were.
func TestRejectsTruncatedRaw(t *testing.T) {
	dir := t.TempDir()
	st, _ := storage.NewLocal(dir)
	rejects := []*record.Reject{
		{Kind: record.KindEvent, Src: record.Source{Path: "a.json", Line: 2, Offset: 8}, Reason: record.ReasonTooLarge,
			Detail: "a line of 2000000 bytes: the limit is 1048576", Raw: []byte("xxxx"), FullSize: 2_000_000},
		{Kind: record.KindEvent, Src: record.Source{Path: "a.json", Line: 3, Offset: 2_000_009}, Reason: record.ReasonInvalidJSON,
			Detail: "bad", Raw: []byte("not json")},
		{Kind: record.KindSong, Src: record.Source{Path: "s.json", Line: 1}, Reason: record.ReasonTooLarge, Raw: []byte{0xff}, FullSize: 20 << 20},
	}
	if _, err := Rejects(context.Background(), st, "r.jsonl", rejects); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "r.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"input":"event","source":"a.json","line":2,"offset":8,"reason":"too_large","detail":"a line of 2000000 bytes: the limit is 1048576","truncated":true,"size":2000000,"raw":"xxxx"}
{"input":"event","source":"a.json","line":3,"offset":2000009,"reason":"invalid_json","detail":"bad","raw":"not json"}
{"input":"song","source":"s.json","line":1,"offset":0,"reason":"too_large","truncated":true,"size":20971520,"raw_base64":"/w=="}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
