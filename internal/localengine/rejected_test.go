package localengine

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/run"
)

func TestRejectedRatio(t *testing.T) {
	out := t.TempDir()
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out, false)

	// 2 of 7 events are bad: over the default 1%, the run fails and changes nothing.
	_, err := runLocal(t, "testdata/songs", "testdata/dirty", out, nil)
	if !errors.Is(err, run.ErrTooManyRejected) {
		t.Fatalf("got %v, want ErrTooManyRejected", err)
	}
	if !strings.Contains(err.Error(), "2 of 7 events rejected") {
		t.Errorf("error does not give the counts: %v", err)
	}
	sameSnapshot(t, snapshot(t, out, false), before)

	// With a higher threshold the run passes and the rejects are published with their reasons.
	m, err := runLocal(t, "testdata/songs", "testdata/dirty", out, func(o *Options) { o.MaxRejectedRatio = 0.5 })
	if err != nil {
		t.Fatal(err)
	}
	ev := m.Inputs["events"]
	if ev.Read != 7 || ev.Rejected != 2 || ev.Kept != 5 || ev.RejectedBy["invalid_json"] != 2 {
		t.Errorf("got read %d rejected %d kept %d by reason %v; want 7 2 5 {invalid_json: 2}", ev.Read, ev.Rejected, ev.Kept, ev.RejectedBy)
	}
	f, err := os.Open(filepath.Join(out, run.RejectedDir, "rejected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d rejected lines, want 2", len(lines))
	}
	first := lines[0]
	if first["source"] != "2018/11/2018-11-01-events.json" || first["line"] != 6.0 || first["reason"] != "invalid_json" ||
		first["raw"] != `{"ts": 1541030400796, "page": ` || first["input"] != "event" {
		t.Errorf("got rejected record %v", first)
	}
	if lines[1]["raw"] != "not json" || lines[1]["line"] != 7.0 {
		t.Errorf("got rejected record %v", lines[1])
	}

	// A clean run afterwards removes the old rejects: the output holds only its own files.
	if _, err := runLocal(t, "testdata/songs", "testdata/logs", out, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, run.RejectedDir)); !os.IsNotExist(err) {
		t.Errorf("old _rejected left behind: %v", err)
	}
}
