package duckdb_test

import (
	"database/sql"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A query of docs/SCHEMA.md: the line <!-- query: NAME --> followed by a ```sql block.
var schemaQuery = regexp.MustCompile("(?s)<!-- query: ([A-Za-z0-9_-]+) -->\\s*```sql\\n(.*?)```")

type docQuery struct{ name, sql string }

func schemaQueries(t *testing.T) []docQuery {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "SCHEMA.md"))
	if err != nil {
		t.Fatal(err)
	}
	var qs []docQuery
	for _, m := range schemaQuery.FindAllStringSubmatch(string(doc), -1) {
		qs = append(qs, docQuery{m[1], m[2]})
	}
	if markers := strings.Count(string(doc), "<!-- query:"); markers != len(qs) {
		t.Fatalf("docs/SCHEMA.md has %d query markers but %d are followed by a ```sql block", markers, len(qs))
	}
	if len(qs) < 5 {
		t.Fatalf("docs/SCHEMA.md: %d queries, want at least 5", len(qs))
	}
	return qs
}

// queryRows runs a query and returns its column names and rows.
func queryRows(db *sql.DB, query string) ([]string, [][]any, error) {
	rows, err := db.Query(query)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

// result is a query's output, read by column name.
type result struct {
	t    *testing.T
	name string
	cols []string
	rows [][]any
}

func (r result) col(name string) int {
	for i, c := range r.cols {
		if c == name {
			return i
		}
	}
	r.t.Fatalf("%s: no column %q in %v", r.name, name, r.cols)
	return -1
}

func (r result) str(row int, col string) string {
	return fmt.Sprint(r.rows[row][r.col(col)])
}

func (r result) int(row int, col string) int64 {
	switch v := r.rows[row][r.col(col)].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case uint64:
		return int64(v)
	case uint32:
		return int64(v)
	case *big.Int: // DuckDB's sum() of integers is a HUGEINT
		return v.Int64()
	default:
		r.t.Fatalf("%s: column %s of row %d is %T %v, not an integer", r.name, col, row, v, v)
		return 0
	}
}

func (r result) sum(col string) int64 {
	var n int64
	for i := range r.rows {
		n += r.int(i, col)
	}
	return n
}

// The queries of docs/SCHEMA.md, run through the lake's _views.sql against the shared sample:
// every query runs, and each gives what the sample holds.
func TestSchemaDocQueries(t *testing.T) {
	queries := schemaQueries(t)
	data := sharedData(t)
	lake := filepath.Join(t.TempDir(), "lake")
	sparkify(t, "etl", "--songs", filepath.Join(data, "song_data"), "--logs", filepath.Join(data, "log_data"), "--output", lake, "--quiet")
	views, err := os.ReadFile(filepath.Join(lake, "_views.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := open(t)
	execScript(t, db, string(views))
	srcPlays := "(SELECT * FROM read_json(" + lit(filepath.Join(data, "log_data")+"/**/*.json") + ") WHERE page = 'NextSong')"

	const plays = 6820
	checks := map[string]func(r result){
		"trap_natural_join_wrong": func(r result) {
			// 114 plays were made while free by users who are paid now.
			if n := r.int(0, "plays"); n != plays-114 {
				t.Errorf("NATURAL JOIN kept %d plays, want %d: the trap drops the 114 plays made at another level", n, plays-114)
			}
		},
		"trap_level_right": func(r result) {
			if n := r.sum("plays"); n != plays {
				t.Errorf("plays by level: sum %d, want %d", n, plays)
			}
			changed := int64(0)
			for i := range r.rows {
				if r.str(i, "level_at_play") != r.str(i, "level_now") {
					changed += r.int(i, "plays")
				}
			}
			natural := scan[int64](t, db, "SELECT count(*) FROM songplays NATURAL JOIN users")
			if changed == 0 || changed != plays-natural {
				t.Errorf("plays at another level than now: %d, want %d (those the NATURAL JOIN drops), and not 0", changed, plays-natural)
			}
		},
		"trap_user_agent": func(r result) {
			if len(r.rows) == 0 {
				t.Fatal("no user agents")
			}
			for i := range r.rows {
				if ua := r.str(i, "user_agent"); strings.HasPrefix(ua, `"`) || strings.HasSuffix(ua, `"`) {
					t.Errorf("user agent still quoted: %s", ua)
				}
			}
			quoted := scan[int64](t, db, `SELECT count(*) FROM songplays WHERE user_agent LIKE '"%"'`)
			if quoted == 0 {
				t.Error("no quoted user agent in songplays: the trap shows nothing")
			}
		},
		"trap_unknown_year": func(r result) {
			if r.int(0, "unknown_year")+r.int(0, "known_year") != 71 {
				t.Errorf("songs: %s unknown + %s known, want 71", r.str(0, "unknown_year"), r.str(0, "known_year"))
			}
			if r.int(0, "unknown_year") == 0 || r.int(0, "oldest") < 1900 {
				t.Errorf("unknown years %d, oldest %d: want some unknown and the oldest a real year", r.int(0, "unknown_year"), r.int(0, "oldest"))
			}
		},
		"trap_matched_plays": func(r result) {
			if r.int(0, "plays") != plays || r.int(0, "matched") != 1 || r.int(0, "with_catalog_title") != 1 {
				t.Errorf("plays %s, matched %s, with a catalog title %s: want %d, 1, 1",
					r.str(0, "plays"), r.str(0, "matched"), r.str(0, "with_catalog_title"), plays)
			}
		},
		"top_songs": func(r result) {
			want := [][3]string{{"You're The One", "Dwight Yoakam", "37"}, {"Undo", "Björk", "28"}}
			if len(r.rows) != 10 {
				t.Errorf("%d rows, want 10", len(r.rows))
			}
			for i, w := range want {
				if i >= len(r.rows) {
					break
				}
				got := [3]string{r.str(i, "song_title"), r.str(i, "artist_name"), r.str(i, "plays")}
				if got != w {
					t.Errorf("row %d: got %q, want %q", i+1, got, w)
				}
			}
		},
		"top_artists": func(r result) {
			if len(r.rows) != 10 {
				t.Fatalf("%d rows, want 10", len(r.rows))
			}

			for i := range r.rows {
				if r.str(i, "artist_name") == "Björk" && r.int(i, "plays") != 33 {
					t.Errorf("Björk: %d plays, want 33", r.int(i, "plays"))
				}
			}
			for i, w := range []struct {
				name  string
				plays int64
			}{{"Coldplay", 58}, {"Kings Of Leon", 55}, {"Dwight Yoakam", 38}} {
				if r.str(i, "artist_name") != w.name || r.int(i, "plays") != w.plays {
					t.Errorf("row %d: got %s with %d plays, want %s with %d", i+1, r.str(i, "artist_name"), r.int(i, "plays"), w.name, w.plays)
				}
			}
		},
		"plays_per_hour": func(r result) {
			if len(r.rows) == 0 || len(r.rows) > 24 {
				t.Errorf("%d rows, want 1 to 24", len(r.rows))
			}
			if n := r.sum("plays"); n != plays {
				t.Errorf("plays per hour sum to %d, want %d", n, plays)
			}
			for i := range r.rows {
				if h := r.int(i, "hour"); h < 0 || h > 23 {
					t.Errorf("hour %d", h)
				}
			}

			if r.int(0, "hour") != 0 || r.int(0, "plays") != 155 {
				t.Errorf("first row: hour %d with %d plays, want hour 0 with 155", r.int(0, "hour"), r.int(0, "plays"))
			}
		},
		"free_vs_paid_per_day": func(r result) {
			if len(r.rows) != 30 {
				t.Errorf("%d days, want 30 (the sample's daily log files)", len(r.rows))
			}
			if n := r.sum("free_plays") + r.sum("paid_plays"); n != plays {
				t.Errorf("free + paid = %d, want %d", n, plays)
			}
			if free := scan[int64](t, db, "SELECT count(*) FROM songplays WHERE level = 'free'"); r.sum("free_plays") != free {
				t.Errorf("free plays %d, want %d", r.sum("free_plays"), free)
			}
		},
		"free_vs_paid_per_week": func(r result) {
			if len(r.rows) < 4 || len(r.rows) > 6 {
				t.Errorf("%d weeks, want 4 to 6 for a month", len(r.rows))
			}
			if n := r.sum("free_plays") + r.sum("paid_plays"); n != plays {
				t.Errorf("free + paid = %d, want %d", n, plays)
			}
		},
		"busiest_users": func(r result) {
			if len(r.rows) != 10 {
				t.Fatalf("%d rows, want 10", len(r.rows))
			}

			// The same from the raw log: distinct plays per userId.
			var user, n int64
			if err := db.QueryRow("SELECT CAST(userId AS BIGINT) AS u, count(DISTINCT (sessionId, itemInSession)) AS n FROM "+srcPlays+
				" GROUP BY u ORDER BY n DESC, u LIMIT 1").Scan(&user, &n); err != nil {
				t.Fatal(err)
			}
			if r.int(0, "user_id") != user || r.int(0, "plays") != n {
				t.Errorf("busiest user %d with %d plays, the raw log says %d with %d", r.int(0, "user_id"), r.int(0, "plays"), user, n)
			}
			if got := [5]string{r.str(0, "user_id"), r.str(0, "first_name"), r.str(0, "last_name"), r.str(0, "level_now"), r.str(0, "plays")}; got != [5]string{"49", "Chloe", "Cuevas", "paid", "689"} {
				t.Errorf("busiest user: got %q, want 49 Chloe Cuevas paid 689", got)
			}
		},
		"sessions": func(r result) {
			if len(r.rows) == 0 {
				t.Fatal("no sessions")
			}
			if n := r.sum("plays"); n != plays {
				t.Errorf("plays in sessions sum to %d, want %d", n, plays)
			}

			if got := [3]int64{r.int(0, "user_id"), r.int(0, "session_id"), r.int(0, "plays")}; got != [3]int64{29, 589, 117} {
				t.Errorf("longest session: got user, session, plays %v, want [29 589 117]", got)
			}
		},
		"session_stats": func(r result) {
			sessions := scan[int64](t, db, "SELECT count(DISTINCT (user_id, session_id)) FROM songplays")
			if r.int(0, "sessions") != sessions || r.int(0, "plays") != plays {
				t.Errorf("sessions %s, plays %s: want %d, %d", r.str(0, "sessions"), r.str(0, "plays"), sessions, plays)
			}

			if sessions != 776 || r.str(0, "avg_plays_per_session") != "8.79" || r.int(0, "longest") != 117 {
				t.Errorf("sessions %d, average %s plays, longest %d: want 776, 8.79, 117", sessions, r.str(0, "avg_plays_per_session"), r.int(0, "longest"))
			}
		},
	}

	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			cols, rows, err := queryRows(db, q.sql)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.sql)
			}
			for i, row := range rows {
				if i < 12 {
					t.Logf("%v", row)
				}
			}
			check, ok := checks[q.name]
			if !ok {
				t.Fatalf("no check for the query %q of docs/SCHEMA.md: add one here", q.name)
			}
			check(result{t, q.name, cols, rows})
		})
	}
	for name := range checks {
		found := false
		for _, q := range queries {
			found = found || q.name == name
		}
		if !found {
			t.Errorf("query %q is checked here but no longer in docs/SCHEMA.md", name)
		}
	}
}
