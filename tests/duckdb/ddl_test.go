package duckdb_test

import (
	"bytes"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sparkifyOutput runs the CLI (built by sparkify) and returns its stdout; it must exit 0.
func sparkifyOutput(t *testing.T, args ...string) string {
	t.Helper()
	sparkify(t, "version") // builds the CLI once
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, "sparkify"), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sparkify %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.String()
}

// execScript runs a file of statements, as duckdb -init does.
func execScript(t *testing.T, db *sql.DB, script string) {
	t.Helper()
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("%v\n%s", err, script)
	}
}

// The DuckDB dialect of sparkify ddl, executed against the shared sample's lake: the five views
// give the SPEC's figures, with the partition columns typed as the SPEC says.
func TestDDLViewsInDuckDB(t *testing.T) {
	data := sharedData(t)
	lake := filepath.Join(t.TempDir(), "lake")
	sparkify(t, "etl", "--songs", filepath.Join(data, "song_data"), "--logs", filepath.Join(data, "log_data"), "--output", lake, "--quiet")
	views := sparkifyOutput(t, "ddl", "--dialect", "duckdb", "--output", lake)
	if first, _, _ := strings.Cut(views, "\n"); !strings.HasPrefix(first, "-- ") || !strings.Contains(first, lake) {
		t.Errorf("first line %q: want a comment naming the lake %s", first, lake)
	}
	db := open(t)
	execScript(t, db, views)
	srcSongs := "read_json(" + lit(filepath.Join(data, "song_data")+"/**/*.json") + ")"

	t.Run("reference figures", func(t *testing.T) {
		checkCounts(t, db, []countCheck{
			{"songplays", "SELECT count(*) FROM songplays", 6820},
			{"matched plays", "SELECT count(*) FROM songplays WHERE song_id IS NOT NULL", 1},
			{"users", "SELECT count(*) FROM users", 97},
			{"songs", "SELECT count(*) FROM songs", 71},
			{"artists", "SELECT count(*) FROM artists", 69},
			{"time", "SELECT count(*) FROM time", 6813},
			{"songplays in 2018-11", "SELECT count(*) FROM songplays WHERE year = 2018 AND month = 11", 6820},
			{"time in 2018-11", "SELECT count(*) FROM time WHERE year = 2018 AND month = 11", 6813},
			{"plays with no time row", "SELECT count(*) FROM songplays ANTI JOIN time USING (start_time)", 0},
		})
		var title, name string
		if err := db.QueryRow("SELECT s.title, a.name FROM songplays sp JOIN songs s USING (song_id) JOIN artists a ON a.artist_id = sp.artist_id").Scan(&title, &name); err != nil {
			t.Fatal(err)
		}
		if title != "Setanta matins" || name != "Elena" {
			t.Errorf("matched play: got %q by %q, want Setanta matins by Elena", title, name)
		}
	})

	t.Run("songs of unknown year", func(t *testing.T) {
		// year=__HIVE_DEFAULT_PARTITION__ reads as NULL, as many as the source's year-0 songs.
		unknown := scan[int64](t, db, "SELECT count(*) FROM "+srcSongs+" WHERE year = 0")
		if unknown == 0 {
			t.Fatal("the sample has no song of unknown year: the check below proves nothing")
		}
		checkCounts(t, db, []countCheck{
			{"songs with a NULL year", "SELECT count(*) FROM songs WHERE year IS NULL", unknown},
			{"songs whose year or artist_id differs from the source",
				"SELECT count(*) FROM songs o JOIN " + srcSongs + " s USING (song_id)" +
					" WHERE o.year IS DISTINCT FROM nullif(s.year, 0) OR o.artist_id IS DISTINCT FROM s.artist_id", 0},
		})
	})

	t.Run("column types", func(t *testing.T) {
		for _, tc := range []struct {
			view string
			cols map[string]string
		}{
			{"songplays", map[string]string{"songplay_id": "BIGINT", "start_time": "TIMESTAMP WITH TIME ZONE", "user_id": "BIGINT",
				"level": "VARCHAR", "song_id": "VARCHAR", "artist_id": "VARCHAR", "session_id": "BIGINT", "item_in_session": "INTEGER",
				"location": "VARCHAR", "user_agent": "VARCHAR", "song_title": "VARCHAR", "artist_name": "VARCHAR", "song_length": "DOUBLE",
				"year": "INTEGER", "month": "INTEGER"}},
			{"users", map[string]string{"user_id": "BIGINT", "first_name": "VARCHAR", "last_name": "VARCHAR", "gender": "VARCHAR", "level": "VARCHAR"}},
			{"songs", map[string]string{"song_id": "VARCHAR", "title": "VARCHAR", "duration": "DOUBLE", "year": "INTEGER", "artist_id": "VARCHAR"}},
			{"artists", map[string]string{"artist_id": "VARCHAR", "name": "VARCHAR", "location": "VARCHAR", "latitude": "DOUBLE", "longitude": "DOUBLE"}},
			{"time", map[string]string{"start_time": "TIMESTAMP WITH TIME ZONE", "hour": "INTEGER", "day": "INTEGER", "week": "INTEGER",
				"weekday": "INTEGER", "year": "INTEGER", "month": "INTEGER"}},
		} {
			got := describe(t, db, tc.view)
			for col, typ := range tc.cols {
				if got[col] != typ {
					t.Errorf("%s.%s: got %q, want %s", tc.view, col, got[col], typ)
				}
			}
			if len(got) != len(tc.cols) {
				t.Errorf("%s: columns %v, want %v", tc.view, got, tc.cols)
			}
		}
	})

	t.Run("a location with a quote", func(t *testing.T) {
		quoted := filepath.Join(t.TempDir(), "it's a lake")
		if err := os.Rename(lake, quoted); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(quoted, lake)
		db := open(t)
		execScript(t, db, sparkifyOutput(t, "ddl", "--dialect", "duckdb", "--output", quoted))
		checkCounts(t, db, []countCheck{
			{"songplays", "SELECT count(*) FROM songplays", 6820},
			{"songs", "SELECT count(*) FROM songs", 71},
		})
	})
}

// Each run writes the DuckDB views at the output root: duckdb -init <output>/_views.sql opens the lake.
func TestViewsFileOfARun(t *testing.T) {
	lake := filepath.Join(t.TempDir(), "sample")
	sparkify(t, "etl", "--output", lake, "--quiet")
	views, err := os.ReadFile(filepath.Join(lake, "_views.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sparkifyOutput(t, "ddl", "--dialect", "duckdb", "--output", lake); string(views) != want {
		t.Errorf("_views.sql differs from sparkify ddl --dialect duckdb --output %s:\n%s\nwant:\n%s", lake, views, want)
	}
	db := open(t)
	execScript(t, db, string(views))
	for _, view := range []string{"songplays", "users", "songs", "artists", "time"} {
		if n := scan[int64](t, db, "SELECT count(*) FROM "+view); n == 0 {
			t.Errorf("no rows in view %s", view)
		}
	}
}
