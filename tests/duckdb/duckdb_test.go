// Package duckdb_test checks the lake the way an analyst sees it: it builds the sparkify CLI, runs
// it, and queries the output with DuckDB (read_parquet with hive_partitioning). It is a module of
// its own so that the main module stays free of cgo.
package duckdb_test

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// The CLI is built once per test binary, into a folder that TestMain removes.
var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sparkify-duckdb-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the main module's folder: go test runs a test in its package folder, two below.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// sharedData finds the real sample data: $SPARKIFY_SHARED_DATA, else shared/data/udacity beside
// the checkout (../../../shared/data/udacity from here) or beside a folder above it, as
// internal/lakecheck does in the main module. Absent, the test skips, or fails when
// SPARKIFY_REQUIRE_SHARED is set (as CI does), so a missing dataset cannot pass for a green run.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SPARKIFY_SHARED_DATA")
	if dir == "" {
		for up := repoRoot(t); ; up = filepath.Dir(up) {
			dir = filepath.Join(filepath.Dir(up), "shared", "data", "udacity")
			if _, err := os.Stat(dir); err == nil || filepath.Dir(up) == up {
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "song_data")); err != nil {
		if os.Getenv("SPARKIFY_REQUIRE_SHARED") != "" {
			t.Fatalf("shared sample data not found at %s (SPARKIFY_REQUIRE_SHARED is set): %v", dir, err)
		}
		t.Skipf("shared sample data not found at %s; set SPARKIFY_SHARED_DATA to run this test", dir)
	}
	return dir
}

// sparkify builds the CLI from the working tree (once) and runs it; it must exit 0.
func sparkify(t *testing.T, args ...string) {
	t.Helper()
	bin := filepath.Join(binDir, "sparkify")
	buildOnce.Do(func() {
		build := exec.Command("go", "build", "-o", bin, "./cmd/sparkify")
		build.Dir = repoRoot(t)
		buildOut, buildErr = build.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/sparkify: %v\n%s", buildErr, buildOut)
	}
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("sparkify %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// open gives an in-memory DuckDB on one connection, so that the session's TimeZone (UTC, for the
// date parts of TIMESTAMP WITH TIME ZONE) holds for every query whatever the machine's zone is.
func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
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

// lit quotes a path as an SQL string literal.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// hive reads a partitioned table as an analyst would: the partition columns come from the path.
func hive(lake, table string) string {
	return "read_parquet(" + lit(filepath.Join(lake, table)+"/**/*.parquet") + ", hive_partitioning = true)"
}

// flat reads an unpartitioned table.
func flat(lake, table string) string {
	return "read_parquet(" + lit(filepath.Join(lake, table)+"/*.parquet") + ")"
}

// describe returns column name -> type as DuckDB reports it for a table expression.
func describe(t *testing.T, db *sql.DB, from string) map[string]string {
	t.Helper()
	rows, err := db.Query("DESCRIBE SELECT * FROM " + from)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types := map[string]string{}
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		types[name] = typ
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return types
}

type countCheck struct {
	name  string
	query string
	want  int64
}

func checkCounts(t *testing.T, db *sql.DB, checks []countCheck) {
	t.Helper()
	for _, c := range checks {
		if got := scan[int64](t, db, c.query); got != c.want {
			t.Errorf("%s: got %d, want %d\n  %s", c.name, got, c.want, c.query)
		}
	}
}

func TestSharedSampleInDuckDB(t *testing.T) {
	data := sharedData(t)
	lake := filepath.Join(t.TempDir(), "lake")
	sparkify(t, "etl", "--songs", filepath.Join(data, "song_data"), "--logs", filepath.Join(data, "log_data"), "--output", lake, "--quiet")
	db := open(t)
	songplays, users, songs, artists, timeT := hive(lake, "songplays"), flat(lake, "users"), hive(lake, "songs"), flat(lake, "artists"), hive(lake, "time")
	// The raw input as DuckDB reads it, for checks that do not trust the engine's own counts.
	srcSongs := "read_json(" + lit(filepath.Join(data, "song_data")+"/**/*.json") + ")"
	srcPlays := "(SELECT * FROM read_json(" + lit(filepath.Join(data, "log_data")+"/**/*.json") + ") WHERE page = 'NextSong')"

	t.Run("reference figures", func(t *testing.T) {
		checkCounts(t, db, []countCheck{
			{"songplays", "SELECT count(*) FROM " + songplays, 6820},
			{"matched plays", "SELECT count(*) FROM " + songplays + " WHERE song_id IS NOT NULL", 1},
			{"distinct songplay_id", "SELECT count(DISTINCT songplay_id) FROM " + songplays, 6820},
			{"distinct start_time of songplays", "SELECT count(DISTINCT start_time) FROM " + songplays, 6813},
			{"users", "SELECT count(*) FROM " + users, 97},
			{"distinct user_id", "SELECT count(DISTINCT user_id) FROM " + users, 97},
			{"songs", "SELECT count(*) FROM " + songs, 71},
			{"artists", "SELECT count(*) FROM " + artists, 69},
			{"time", "SELECT count(*) FROM " + timeT, 6813},
			{"distinct start_time of time", "SELECT count(DISTINCT start_time) FROM " + timeT, 6813},
		})
		if _, err := os.Stat(filepath.Join(lake, "_SUCCESS")); err != nil {
			t.Error(err)
		}
	})

	t.Run("the matched play", func(t *testing.T) {
		// An analyst's star join: the one matched play is Setanta matins by Elena.
		var song, artist, title, name string
		q := "SELECT sp.song_id, sp.artist_id, s.title, a.name FROM " + songplays + " sp JOIN " + songs +
			" s USING (song_id) JOIN " + artists + " a ON a.artist_id = sp.artist_id"
		if err := db.QueryRow(q).Scan(&song, &artist, &title, &name); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if song != "SOZCTXZ12AB0182364" || artist != "AR5KOSW1187FB35FF4" || title != "Setanta matins" || name != "Elena" {
			t.Errorf("matched play: got %s %s (%q by %q), want SOZCTXZ12AB0182364 AR5KOSW1187FB35FF4 (Setanta matins by Elena)",
				song, artist, title, name)
		}
	})

	t.Run("what was played, after text repair", func(t *testing.T) {
		// The SPEC's figures: the most played by the logged title and artist, and Björk, whose
		// name the log double-encodes on most of her plays.
		rows, err := db.Query("SELECT song_title, artist_name, count(*) AS n FROM " + songplays +
			" GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 2")
		if err != nil {
			t.Fatal(err)
		}
		var top []string
		for rows.Next() {
			var title, artist string
			var n int
			if err := rows.Scan(&title, &artist, &n); err != nil {
				t.Fatal(err)
			}
			top = append(top, fmt.Sprintf("%s by %s (%d)", title, artist, n))
		}
		rows.Close()
		if want := []string{"You're The One by Dwight Yoakam (37)", "Undo by Björk (28)"}; strings.Join(top, "; ") != strings.Join(want, "; ") {
			t.Errorf("top plays: got %q, want %q", top, want)
		}
		checkCounts(t, db, []countCheck{
			{"plays of Björk", "SELECT count(*) FROM " + songplays + " WHERE artist_name = 'Björk'", 33},
			{"plays without a title", "SELECT count(*) FROM " + songplays + " WHERE song_title IS NULL OR artist_name IS NULL", 0},
			{"plays whose length is not the logged one",
				"SELECT count(*) FROM " + songplays + " sp JOIN " + srcPlays + " src ON src.ts = epoch_ms(sp.start_time) AND " +
					"CAST(src.userId AS BIGINT) = sp.user_id AND src.sessionId = sp.session_id AND src.itemInSession = sp.item_in_session " +
					"WHERE src.length IS DISTINCT FROM sp.song_length", 0},
			{"text left double-encoded", "SELECT count(*) FROM " + songplays + " WHERE artist_name LIKE '%Ã%' OR song_title LIKE '%Ã%'", 0},
		})
		// Against the same run without repair: exactly the SPEC's 326 plays change.
		raw := filepath.Join(t.TempDir(), "raw")
		sparkify(t, "etl", "--songs", filepath.Join(data, "song_data"), "--logs", filepath.Join(data, "log_data"), "--output", raw, "--quiet", "--no-repair-text")
		checkCounts(t, db, []countCheck{
			{"plays whose song or artist was repaired",
				"SELECT count(*) FROM " + songplays + " a JOIN " + hive(raw, "songplays") + " b USING (songplay_id) " +
					"WHERE a.song_title <> b.song_title OR a.artist_name <> b.artist_name", 326},
		})
	})

	t.Run("partition columns from the path", func(t *testing.T) {
		checkCounts(t, db, []countCheck{
			{"songplays in year 2018, month 11", "SELECT count(*) FROM " + songplays + " WHERE year = 2018 AND month = 11", 6820},
			{"time in year 2018, month 11", "SELECT count(*) FROM " + timeT + " WHERE year = 2018 AND month = 11", 6813},
			// The path's year and month agree with start_time (in UTC) on every row.
			{"songplays whose path disagrees with start_time",
				"SELECT count(*) FROM " + songplays + " WHERE year <> year(start_time) OR month <> month(start_time)", 0},
			// year 0 (unknown) is written to year=__HIVE_DEFAULT_PARTITION__; DuckDB 1.5 reads it as
			// NULL and still types the column BIGINT. As many as the source's year-0 songs.
			{"songs with a NULL year", "SELECT count(*) FROM " + songs + " WHERE year IS NULL",
				scan[int64](t, db, "SELECT count(*) FROM "+srcSongs+" WHERE year = 0")},
			{"songs found in the source", "SELECT count(*) FROM " + songs + " o JOIN " + srcSongs + " s USING (song_id)", 71},
			{"songs whose year or artist_id differs from the source",
				"SELECT count(*) FROM " + songs + " o JOIN " + srcSongs + " s USING (song_id)" +
					" WHERE o.year IS DISTINCT FROM nullif(s.year, 0) OR o.artist_id IS DISTINCT FROM s.artist_id", 0},
			// Partition columns live only in the path, never in the files.
			{"partition columns inside the files", "SELECT count(*) FROM parquet_schema(" + lit(lake+"/*/**/*.parquet") +
				") WHERE name IN ('year', 'month') OR (name = 'artist_id' AND file_name LIKE '%/songs/%')", 0},
		})
		if n := scan[int64](t, db, "SELECT count(*) FROM "+songs+" WHERE year IS NULL"); n == 0 {
			t.Error("no song has a NULL year: __HIVE_DEFAULT_PARTITION__ was not read as NULL")
		}
		if typ := describe(t, db, songs)["year"]; typ != "BIGINT" {
			t.Errorf("songs.year (path, with __HIVE_DEFAULT_PARTITION__): got %s, want BIGINT", typ)
		}
	})

	t.Run("column types", func(t *testing.T) {
		// Partition columns are typed by DuckDB's guess from the path (BIGINT), the rest by the file.
		for _, tc := range []struct {
			table, from string
			cols        map[string]string
		}{
			{"songplays", songplays, map[string]string{"songplay_id": "BIGINT", "user_id": "BIGINT", "level": "VARCHAR",
				"song_id": "VARCHAR", "artist_id": "VARCHAR", "session_id": "BIGINT", "item_in_session": "INTEGER",
				"location": "VARCHAR", "user_agent": "VARCHAR", "song_title": "VARCHAR", "artist_name": "VARCHAR", "song_length": "DOUBLE",
				"year": "BIGINT", "month": "BIGINT"}},
			{"users", users, map[string]string{"user_id": "BIGINT", "first_name": "VARCHAR", "last_name": "VARCHAR",
				"gender": "VARCHAR", "level": "VARCHAR"}},
			{"songs", songs, map[string]string{"song_id": "VARCHAR", "title": "VARCHAR", "duration": "DOUBLE",
				"artist_id": "VARCHAR", "year": "BIGINT"}},
			{"artists", artists, map[string]string{"artist_id": "VARCHAR", "name": "VARCHAR", "location": "VARCHAR",
				"latitude": "DOUBLE", "longitude": "DOUBLE"}},
			{"time", timeT, map[string]string{"hour": "INTEGER", "day": "INTEGER", "week": "INTEGER", "weekday": "INTEGER",
				"year": "BIGINT", "month": "BIGINT"}},
		} {
			got := describe(t, db, tc.from)
			// start_time's exact TIMESTAMP flavour is logged, not pinned: either kind is a timestamp.
			if typ, ok := got["start_time"]; ok {
				t.Logf("%s.start_time reads as %s", tc.table, typ)
				if !strings.HasPrefix(typ, "TIMESTAMP") {
					t.Errorf("%s.start_time: got %s, want a TIMESTAMP type", tc.table, typ)
				}
				delete(got, "start_time")
			} else if tc.table == "songplays" || tc.table == "time" {
				t.Errorf("%s: no start_time column", tc.table)
			}
			for col, typ := range tc.cols {
				if got[col] != typ {
					t.Errorf("%s.%s: got %q, want %s", tc.table, col, got[col], typ)
				}
			}
			// No column beyond the contract's.
			if len(got) != len(tc.cols) {
				t.Errorf("%s: columns %v, want %v", tc.table, got, tc.cols)
			}
		}
	})

	t.Run("TIMESTAMP millis adjusted to UTC in the files", func(t *testing.T) {
		for _, table := range []string{"songplays", "time"} {
			glob := lit(filepath.Join(lake, table) + "/**/*.parquet")
			files := scan[int64](t, db, "SELECT count(DISTINCT file_name) FROM parquet_schema("+glob+")")
			checkCounts(t, db, []countCheck{
				{table + " files whose start_time is INT64 TIMESTAMP(MILLIS, UTC)",
					"SELECT count(*) FROM parquet_schema(" + glob + ") WHERE name = 'start_time' AND type = 'INT64'" +
						" AND logical_type LIKE 'TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=%'", files},
				{table + " start_time column chunks that are not INT64",
					"SELECT count(*) FROM parquet_metadata(" + glob + ") WHERE path_in_schema = 'start_time' AND type <> 'INT64'", 0},
			})
			logical := scan[string](t, db, "SELECT logical_type FROM parquet_schema("+glob+") WHERE name = 'start_time' LIMIT 1")
			t.Logf("%s.start_time logical type: %s", table, logical)
		}
		// Every ts of the sample ends in 796 ms: the milliseconds survive the round trip.
		checkCounts(t, db, []countCheck{
			{"plays whose start_time lost its milliseconds", "SELECT count(*) FROM " + songplays + " WHERE epoch_ms(start_time) % 1000 <> 796", 0},
		})
	})

	t.Run("NULL coordinates stay NULL", func(t *testing.T) {
		if n := scan[int64](t, db, "SELECT count(*) FROM "+artists+" WHERE latitude IS NULL"); n == 0 {
			t.Error("no artist has a NULL latitude")
		}
		// An artist whose every source record has a null latitude (or longitude) must read as NULL, not 0.
		checkCounts(t, db, []countCheck{
			{"artists with no source latitude but a non-NULL one",
				"SELECT count(*) FROM " + artists + " a JOIN (SELECT artist_id FROM " + srcSongs +
					" GROUP BY artist_id HAVING count(artist_latitude) = 0) s USING (artist_id) WHERE a.latitude IS NOT NULL", 0},
			{"artists with no source longitude but a non-NULL one",
				"SELECT count(*) FROM " + artists + " a JOIN (SELECT artist_id FROM " + srcSongs +
					" GROUP BY artist_id HAVING count(artist_longitude) = 0) s USING (artist_id) WHERE a.longitude IS NOT NULL", 0},
		})
	})

	t.Run("songplays against the source log", func(t *testing.T) {
		// Every NextSong event of the source is one play, with its ts, level, location and user agent.
		const same = "sp.user_id = CAST(e.userId AS BIGINT) AND sp.session_id = e.sessionId AND sp.item_in_session = e.itemInSession" +
			" AND epoch_ms(sp.start_time) = e.ts AND sp.level = e.level" +
			" AND sp.location IS NOT DISTINCT FROM nullif(e.location, '') AND sp.user_agent IS NOT DISTINCT FROM nullif(e.userAgent, '')"
		checkCounts(t, db, []countCheck{
			{"source NextSong events", "SELECT count(*) FROM " + srcPlays, 6820},
			{"source events with no play", "SELECT count(*) FROM " + srcPlays + " e WHERE NOT EXISTS (SELECT 1 FROM " + songplays + " sp WHERE " + same + ")", 0},
			{"plays with no source event", "SELECT count(*) FROM " + songplays + " sp WHERE NOT EXISTS (SELECT 1 FROM " + srcPlays + " e WHERE " + same + ")", 0},
		})
	})

	t.Run("time agrees with DuckDB's calendar", func(t *testing.T) {
		checkCounts(t, db, []countCheck{
			// week is ISO-8601 (DuckDB's week()), weekday ISO-8601 Monday = 1 (DuckDB's isodow()).
			{"time rows whose parts disagree with start_time", "SELECT count(*) FROM " + timeT +
				" WHERE hour <> hour(start_time) OR day <> day(start_time) OR week <> week(start_time) OR weekday <> isodow(start_time)", 0},
			{"plays with no time row", "SELECT count(*) FROM " + songplays + " sp ANTI JOIN " + timeT + " t USING (start_time)", 0},
		})
	})

	t.Run("an analyst's join: plays by weekday", func(t *testing.T) {
		rows, err := db.Query("SELECT t.weekday, count(*) FROM " + songplays + " sp JOIN " + timeT +
			" t ON t.start_time = sp.start_time GROUP BY t.weekday ORDER BY t.weekday")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var total int64
		var days []string
		for rows.Next() {
			var weekday int32
			var n int64
			if err := rows.Scan(&weekday, &n); err != nil {
				t.Fatal(err)
			}
			if weekday < 1 || weekday > 7 {
				t.Errorf("weekday %d out of 1..7", weekday)
			}
			total += n
			days = append(days, fmt.Sprintf("%d:%d", weekday, n))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("plays by ISO weekday: %s", strings.Join(days, " "))
		if total != 6820 {
			t.Errorf("plays by weekday add up to %d, want 6820", total)
		}
	})
}

func TestBuiltInSampleInDuckDB(t *testing.T) {
	lake := filepath.Join(t.TempDir(), "sample")
	sparkify(t, "etl", "--output", lake, "--quiet")
	if _, err := os.Stat(filepath.Join(lake, "_SUCCESS")); err != nil {
		t.Fatal(err)
	}
	db := open(t)
	for _, from := range []string{hive(lake, "songplays"), flat(lake, "users"), hive(lake, "songs"), flat(lake, "artists"), hive(lake, "time")} {
		n := scan[int64](t, db, "SELECT count(*) FROM "+from)
		t.Logf("%d rows in %s", n, from)
		if n == 0 {
			t.Errorf("no rows in %s", from)
		}
	}
}
