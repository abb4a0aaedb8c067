package localengine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
)

// runLocal runs the engine on two local roots into out.
func runLocal(t *testing.T, songs, logs, out string, mutate func(*Options)) (*report.Manifest, error) {
	t.Helper()
	return runLocalCtx(t, context.Background(), songs, logs, out, mutate)
}

func runLocalCtx(t *testing.T, ctx context.Context, songs, logs, out string, mutate func(*Options)) (*report.Manifest, error) {
	t.Helper()
	sr, err := source.Resolve(context.Background(), songs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	lr, err := source.Resolve(context.Background(), logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	st, err := storage.NewLocal(out)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Songs: sr, Logs: lr, Output: st, Workers: 4, MaxRejectedRatio: 0.01, Sink: sink.Options{Version: "test"}}
	if mutate != nil {
		mutate(&o)
	}
	return Run(ctx, o)
}

const (
	tsUTCMillis = "Timestamp(isAdjustedToUTC=true, timeUnit=milliseconds, is_from_converted_type=false, force_set_converted_type=false)"
)

// TestSharedSample runs the whole pipeline on the real sample and checks every reference figure
// of the SPEC, reading the tables back with an independent Parquet reader.
func TestSharedSample(t *testing.T) {
	data := lakecheck.SharedData(t)
	out := t.TempDir()
	m, err := runLocal(t, filepath.Join(data, "song_data"), filepath.Join(data, "log_data"), out, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The manifest's figures.
	songs, events := m.Inputs["songs"], m.Inputs["events"]
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"song files", int64(songs.Files), 71},
		{"song records", songs.Read, 71},
		{"log files", int64(events.Files), 30},
		{"events", events.Read, 8056},
		{"songplays", m.Plays, 6820},
		{"matched plays", m.Matched, 1},
		{"rejected songs", songs.Rejected, 0},
		{"rejected events", events.Rejected, 0},
		{"songplays rows", m.Tables["songplays"].Rows, 6820},
		{"users rows", m.Tables["users"].Rows, 97},
		{"songs rows", m.Tables["songs"].Rows, 71},
		{"artists rows", m.Tables["artists"].Rows, 69},
		{"time rows", m.Tables["time"].Rows, 6813},
		// Text repair: values of the log's double-encoded artist and song names (the SPEC's 326
		// plays have one or both repaired; checked row by row in tests/duckdb).
		{"artist values repaired", events.Repaired["artist"], 193},
		{"song values repaired", events.Repaired["song"], 153},
		{"catalog values repaired", int64(len(songs.Repaired)), 0},
	} {
		if c.got != c.want {
			t.Errorf("manifest %s: got %d, want %d", c.name, c.got, c.want)
		}
	}

	// The published files, read back by Arrow.
	for _, f := range []string{commit.SuccessFile, commit.ManifestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, commit.StagingDir)); !os.IsNotExist(err) {
		t.Errorf("staging folder left behind: %v", err)
	}
	read := func(name string) *lakecheck.Table {
		tb, err := lakecheck.ReadTable(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return tb
	}
	type col = lakecheck.Column
	str := func(name string, opt bool) col {
		return col{Name: name, Physical: "BYTE_ARRAY", Logical: "String", Optional: opt}
	}
	i64 := func(name string) col {
		return col{Name: name, Physical: "INT64", Logical: "Int(bitWidth=64, isSigned=true)"}
	}
	i32 := func(name string) col {
		return col{Name: name, Physical: "INT32", Logical: "Int(bitWidth=32, isSigned=true)"}
	}
	f64 := func(name string, opt bool) col {
		return col{Name: name, Physical: "DOUBLE", Logical: "None", Optional: opt}
	}
	ts := func(name string) col { return col{Name: name, Physical: "INT64", Logical: tsUTCMillis} }
	tests := []struct {
		table      string
		rows       int
		schema     []col
		partition  string // a partition folder that must exist
		partitions int
	}{
		{"songplays", 6820, []col{i64("songplay_id"), ts("start_time"), i64("user_id"), str("level", true), str("song_id", true),
			str("artist_id", true), i64("session_id"), i32("item_in_session"), str("location", true), str("user_agent", true),
			str("song_title", true), str("artist_name", true), lakecheck.Column{Name: "song_length", Physical: "DOUBLE", Logical: "None", Optional: true}},
			"year=2018/month=11", 1},
		{"users", 97, []col{i64("user_id"), str("first_name", true), str("last_name", true), str("gender", true), str("level", true)}, "", 0},
		{"songs", 71, []col{str("song_id", false), str("title", false), f64("duration", false)}, "year=__HIVE_DEFAULT_PARTITION__/artist_id=AR5KOSW1187FB35FF4", 0},
		{"artists", 69, []col{str("artist_id", false), str("name", false), str("location", true), f64("latitude", true), f64("longitude", true)}, "", 0},
		{"time", 6813, []col{ts("start_time"), i32("hour"), i32("day"), i32("week"), i32("weekday")}, "year=2018/month=11", 1},
	}
	tables := map[string]*lakecheck.Table{}
	for _, tt := range tests {
		tb := read(tt.table)
		tables[tt.table] = tb
		if len(tb.Rows) != tt.rows {
			t.Errorf("%s: got %d rows, want %d", tt.table, len(tb.Rows), tt.rows)
		}
		if len(tb.Schema) != len(tt.schema) {
			t.Errorf("%s: got schema %v, want %v", tt.table, tb.Schema, tt.schema)
		} else {
			for i := range tt.schema {
				if tb.Schema[i] != tt.schema[i] {
					t.Errorf("%s column %d: got %+v, want %+v", tt.table, i, tb.Schema[i], tt.schema[i])
				}
			}
		}
		if tt.partition != "" {
			found := false
			for _, p := range tb.Partitions {
				found = found || p == tt.partition
			}
			if !found {
				t.Errorf("%s: partition %s not among %v", tt.table, tt.partition, tb.Partitions)
			}
		} else if len(tb.Partitions) != 0 {
			t.Errorf("%s: got partitions %v, want none", tt.table, tb.Partitions)
		}
		if tt.partitions > 0 && len(tb.Partitions) != tt.partitions {
			t.Errorf("%s: got %d partitions, want %d", tt.table, len(tb.Partitions), tt.partitions)
		}
	}

	// Values: the one matched play, unmatched plays with NULL ids, distinct ids.
	matched := 0
	ids := map[int64]bool{}
	for _, r := range tables["songplays"].Rows {
		ids[r["songplay_id"].(int64)] = true
		if r["song_id"] == nil {
			if r["artist_id"] != nil {
				t.Errorf("unmatched play with an artist id: %v", r)
			}
			continue
		}
		matched++
		if r["song_id"] != "SOZCTXZ12AB0182364" || r["artist_id"] != "AR5KOSW1187FB35FF4" {
			t.Errorf("got match %v %v, want Setanta matins (SOZCTXZ12AB0182364) by Elena (AR5KOSW1187FB35FF4)", r["song_id"], r["artist_id"])
		}
		if r["year"] != "2018" || r["month"] != "11" {
			t.Errorf("partition columns from the path: got %v/%v", r["year"], r["month"])
		}
	}
	if matched != 1 || len(ids) != 6820 {
		t.Errorf("got %d matched and %d distinct ids, want 1 and 6820", matched, len(ids))
	}
	for _, r := range tables["artists"].Rows {
		if lat, ok := r["latitude"].(float64); ok && lat == 0 {
			t.Errorf("artist %v has latitude 0: unknown coordinates must stay NULL", r["artist_id"])
		}
		if r["location"] == "" {
			t.Errorf("artist %v has location \"\": must be NULL", r["artist_id"])
		}
	}
	for _, r := range tables["time"].Rows {
		if wd := r["weekday"].(int32); wd < 1 || wd > 7 {
			t.Errorf("weekday %d out of 1..7", wd)
		}
	}
	levels := map[any]int{}
	for _, r := range tables["users"].Rows {
		levels[r["level"]]++
	}
	if levels["free"]+levels["paid"] != 97 {
		t.Errorf("user levels: got %v", levels)
	}
	uaWithQuotes := 0
	for _, r := range tables["songplays"].Rows {
		if ua, _ := r["user_agent"].(string); strings.HasPrefix(ua, `"`) {
			uaWithQuotes++
		}
	}
	if uaWithQuotes == 0 {
		t.Error("user agents lost their literal quotes: they must be as in the source")
	}
}
