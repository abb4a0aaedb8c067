// Package duckdb_test checks the lake the way an analyst sees it: it builds the sparkify CLI, runs
// it, and queries the output with DuckDB (read_parquet with hive_partitioning). It is a module of
// its own so that the main module stays free of cgo.
package duckdb_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// repoRoot is the main module's folder, two levels up from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SPARKIFY_SHARED_DATA")
	if dir == "" {
		for up := filepath.Clean(repoRoot()); ; up = filepath.Dir(up) {
			dir = filepath.Join(filepath.Dir(up), "shared", "data", "udacity")
			if _, err := os.Stat(dir); err == nil || filepath.Dir(up) == up {
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "song_data")); err != nil {
		if os.Getenv("SPARKIFY_REQUIRE_SHARED") != "" {
			t.Fatalf("shared sample data not found at %s (SPARKIFY_REQUIRE_SHARED is set)", dir)
		}
		t.Skipf("shared sample data not found at %s; set SPARKIFY_SHARED_DATA to run this test", dir)
	}
	return dir
}

// sparkify builds the CLI once per test and runs it.
func sparkify(t *testing.T, args ...string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sparkify")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sparkify")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("sparkify %v: %v\n%s", args, err, out)
	}
}

func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func scan[T any](t *testing.T, db *sql.DB, query string) T {
	t.Helper()
	var v T
	if err := db.QueryRow(query).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func TestSharedSampleInDuckDB(t *testing.T) {
	data := sharedData(t)
	lake := filepath.Join(t.TempDir(), "lake")
	sparkify(t, "etl", "--songs", filepath.Join(data, "song_data"), "--logs", filepath.Join(data, "log_data"), "--output", lake, "--quiet")
	db := open(t)
	tbl := func(name string) string {
		return "read_parquet('" + filepath.Join(lake, name) + "/**/*.parquet', hive_partitioning = true)"
	}
	flat := func(name string) string { return "read_parquet('" + filepath.Join(lake, name) + "/*.parquet')" }

	counts := []struct {
		name  string
		query string
		want  int64
	}{
		{"songplays", "SELECT count(*) FROM " + tbl("songplays"), 6820},
		{"matched plays", "SELECT count(*) FROM " + tbl("songplays") + " WHERE song_id IS NOT NULL", 1},
		{"distinct songplay_id", "SELECT count(DISTINCT songplay_id) FROM " + tbl("songplays"), 6820},
		{"distinct start_time", "SELECT count(DISTINCT start_time) FROM " + tbl("songplays"), 6813},
		{"users", "SELECT count(*) FROM " + flat("users"), 97},
		{"songs", "SELECT count(*) FROM " + tbl("songs"), 71},
		{"artists", "SELECT count(*) FROM " + flat("artists"), 69},
		{"time", "SELECT count(*) FROM " + tbl("time"), 6813},
		{"plays in 2018-11 from the path", "SELECT count(*) FROM " + tbl("songplays") + " WHERE year = 2018 AND month = 11", 6820},
		{"artists with unknown latitude stay NULL", "SELECT count(*) FROM " + flat("artists") + " WHERE latitude IS NULL", 0},
		{"plays by weekday, joined with time", "SELECT sum(n) FROM (SELECT t.weekday, count(*) AS n FROM " + tbl("songplays") +
			" sp JOIN " + tbl("time") + " t USING (start_time) GROUP BY t.weekday)", 6820},
	}
	for _, c := range counts {
		got := scan[int64](t, db, c.query)
		if c.name == "artists with unknown latitude stay NULL" {
			if got == 0 {
				t.Errorf("%s: no NULL latitude at all", c.name)
			}
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
	var song, artist string
	if err := db.QueryRow("SELECT song_id, artist_id FROM "+tbl("songplays")+" WHERE song_id IS NOT NULL").Scan(&song, &artist); err != nil {
		t.Fatal(err)
	}
	if song != "SOZCTXZ12AB0182364" || artist != "AR5KOSW1187FB35FF4" {
		t.Errorf("matched play: got %s %s, want Setanta matins by Elena", song, artist)
	}
	// year 0 (unknown) is written to __HIVE_DEFAULT_PARTITION__, which DuckDB reads as NULL.
	if n := scan[int64](t, db, "SELECT count(*) FROM "+tbl("songs")+" WHERE year IS NULL"); n == 0 {
		t.Error("no song with a NULL year: __HIVE_DEFAULT_PARTITION__ was not read as NULL")
	}
	if n := scan[int64](t, db, "SELECT count(*) FROM "+tbl("songs")+" WHERE CAST(year AS VARCHAR) = '__HIVE_DEFAULT_PARTITION__'"); n != 0 {
		t.Errorf("%d songs have the literal year __HIVE_DEFAULT_PARTITION__", n)
	}

	// Types as DuckDB sees them.
	types := map[string]string{}
	rows, err := db.Query("DESCRIBE SELECT * FROM " + tbl("songplays"))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	rows.Close()
	for col, want := range map[string]string{"songplay_id": "BIGINT", "user_id": "BIGINT", "item_in_session": "INTEGER",
		"session_id": "BIGINT", "level": "VARCHAR", "song_id": "VARCHAR", "user_agent": "VARCHAR", "year": "BIGINT", "month": "BIGINT"} {
		if types[col] != want {
			t.Errorf("songplays.%s: got %s, want %s", col, types[col], want)
		}
	}
	if !strings.HasPrefix(types["start_time"], "TIMESTAMP") {
		t.Errorf("songplays.start_time: got %s, want a TIMESTAMP", types["start_time"])
	}
	t.Logf("songplays.start_time reads as %s", types["start_time"])
	var logical string
	if err := db.QueryRow("SELECT logical_type FROM parquet_schema('" + filepath.Join(lake, "time") + "/**/*.parquet') WHERE name = 'start_time' LIMIT 1").Scan(&logical); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logical, "isAdjustedToUTC=1") || !strings.Contains(logical, "MILLIS") {
		t.Errorf("time.start_time logical type: got %s, want TIMESTAMP millis adjusted to UTC", logical)
	}
	if d := scan[string](t, db, "SELECT typeof(duration) FROM "+tbl("songs")+" LIMIT 1"); d != "DOUBLE" {
		t.Errorf("songs.duration: got %s, want DOUBLE", d)
	}
}

func TestBuiltInSampleInDuckDB(t *testing.T) {
	lake := filepath.Join(t.TempDir(), "lake")
	sparkify(t, "etl", "--output", lake, "--quiet")
	if _, err := os.Stat(filepath.Join(lake, "_SUCCESS")); err != nil {
		t.Fatal(err)
	}
	db := open(t)
	for _, table := range []string{"songplays", "users", "songs", "artists", "time"} {
		q := "SELECT count(*) FROM read_parquet('" + filepath.Join(lake, table) + "/**/*.parquet', hive_partitioning = true)"
		if table == "users" || table == "artists" {
			q = "SELECT count(*) FROM read_parquet('" + filepath.Join(lake, table) + "/*.parquet')"
		}
		if n := scan[int64](t, db, q); n == 0 {
			t.Errorf("%s: no rows", table)
		}
	}
}
