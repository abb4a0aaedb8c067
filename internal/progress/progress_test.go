package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/report"
)

func TestCount(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 6820: "6,820", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := Count(in); got != want {
			t.Errorf("Count(%d): got %q, want %q", in, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	for in, want := range map[int64]string{12: "12 B", 2048: "2.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(in); got != want {
			t.Errorf("Bytes(%d): got %q, want %q", in, got, want)
		}
	}
}

func TestLine(t *testing.T) {
	p := &report.Progress{}
	p.SetPhase("reading")
	p.FilesTotal.Store(10)
	p.FilesDone.Store(5)
	p.BytesTotal.Store(100 << 20)
	p.BytesDone.Store(50 << 20)
	got := Line(p, 2*time.Second)
	for _, want := range []string{"read", "5/10 files", "50.0 MiB/100.0 MiB", "26.2 MB/s", "[" + strings.Repeat("=", 12) + strings.Repeat(" ", 12) + "]"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	m := &report.Manifest{
		RunID: "r1", Output: "/tmp/lake", Seconds: 2,
		Inputs: map[string]report.Input{
			"songs": {Files: 71, Bytes: 1 << 20, Read: 71, Kept: 71, Skipped: map[string]int64{"not_json": 2, "symlink_to_folder": 1}},
			"events": {Files: 30, Bytes: 3 << 20, Read: 8058, Rejected: 2, Kept: 8056, RejectedBy: map[string]int64{"invalid_json": 2},
				Repaired: map[string]int64{"song": 153, "artist": 1193}},
		},
		Tables:   map[string]report.Table{"songplays": {Rows: 6820, Files: 1, Partitions: 1}},
		Rejected: report.Table{Rows: 2},
		Plays:    6820, Matched: 1, MatchRate: 1.0 / 6820, Retries: 3,
		MemoryLimit: 4 << 30, Spilled: true,
		Requests: map[string]int64{"GetObject": 20031, "PutObject": 17636, "CopyObject": 17615, "DeleteObjects": 24},
	}
	var b bytes.Buffer
	Summary(&b, m)
	for _, want := range []string{"run r1 published to /tmp/lake in 2.00s (2.1 MB/s of input)", "8,058", "events rejected for invalid_json: 2",
		"songplays  6,820", "matched to the catalog: 1 of 6,820 (0.01%)", "storage requests retried: 3",
		"S3 requests: 20,031 GetObject, 17,636 PutObject, 17,615 CopyObject, 24 DeleteObjects\n",
		"plays streamed through the spill folder (more than 256 MiB of events, or over --memory-limit 4.0 GiB)", "rejected records: 2, in /tmp/lake/_rejected/",
		"  songs: skipped 3 entries (2 not .json, 1 symlink to a folder)\n",
		"  events: text repaired (double-encoded UTF-8): artist 1,193, song 153\n",
		"song_title and artist_name hold what was played",
		"the tables as DuckDB views: duckdb -init /tmp/lake/_views.sql"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "events: skipped") {
		t.Errorf("summary tells of skipped events where there were none:\n%s", b.String())
	}
}
