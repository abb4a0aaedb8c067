package ddl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/sparkify/lake/internal/table"
)

var update = flag.Bool("update", false, "rewrite testdata/<dialect>.golden from the current output")

const goldenLocation = "s3://my-bucket/lake"

func generate(t *testing.T, dialect, location string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, dialect, location); err != nil {
		t.Fatalf("Write(%s, %q): %v", dialect, location, err)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, dialect := range Dialects {
		t.Run(dialect, func(t *testing.T) {
			got := generate(t, dialect, goldenLocation)
			path := filepath.Join("testdata", dialect+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o666); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/ddl -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from Write's output (if the change is intended, run go test ./internal/ddl -update and review the diff)\ngot:\n%s", path, got)
			}
		})
	}
}

// snake is a Go field name as a column name: ArtistID -> artist_id.
func snake(s string) string {
	s = strings.ReplaceAll(s, "ID", "Id")
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// structColumns reads the columns of each table's row struct on its own, without the package's
// code: the parquet tag's name, or for a field that lives in the path, its name in snake case.
func structColumns(t *testing.T) map[string][]string {
	t.Helper()
	rows := map[string]any{table.NameSongplays: table.Songplay{}, table.NameUsers: table.User{},
		table.NameSongs: table.Song{}, table.NameArtists: table.Artist{}, table.NameTime: table.Time{}}
	if len(rows) != len(table.All) {
		t.Fatalf("tables %v, row types for %d", table.All, len(rows))
	}
	cols := map[string][]string{}
	for _, name := range table.All {
		row, ok := rows[name]
		if !ok {
			t.Fatalf("no row type for table %s", name)
		}
		rt := reflect.TypeOf(row)
		for i := 0; i < rt.NumField(); i++ {
			tag := rt.Field(i).Tag.Get("parquet")
			if tag == "-" {
				cols[name] = append(cols[name], snake(rt.Field(i).Name))
			} else if tag != "" {
				cols[name] = append(cols[name], strings.Split(tag, ",")[0])
			}
		}
	}
	return cols
}

// statement returns the text of the statement(s) about one table: from its CREATE to the next.
func statement(t *testing.T, out, dialect, name string) string {
	t.Helper()
	q := `"`
	if dialect == "athena" || dialect == "spark" {
		q = "`"
	}
	start := -1
	for _, line := range []string{"TABLE IF NOT EXISTS " + q + name + q, "TABLE IF NOT EXISTS hive.default." + q + name + q, "VIEW " + q + name + q + " AS"} {
		if i := strings.Index(out, line); i >= 0 {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("%s: no CREATE for table %s", dialect, name)
	}
	rest := out[start:]
	if end := strings.Index(rest[1:], "\nCREATE "); end >= 0 {
		rest = rest[:end+1]
	}
	return rest
}

func TestEveryColumnInEveryDialect(t *testing.T) {
	cols := structColumns(t)
	for _, dialect := range Dialects {
		out := generate(t, dialect, goldenLocation)
		q := `"`
		if dialect == "athena" || dialect == "spark" {
			q = "`"
		}
		for _, name := range table.All {
			stmt := statement(t, out, dialect, name)
			for _, c := range cols[name] {
				if !strings.Contains(stmt, q+c+q) {
					t.Errorf("%s: table %s lacks column %s:\n%s", dialect, name, c, stmt)
				}
			}
			if n := strings.Count(stmt, "\n  "+q); dialect != "athena" && n != len(cols[name]) {
				t.Errorf("%s: table %s declares %d columns, its row struct has %d (%v)", dialect, name, n, len(cols[name]), cols[name])
			}
		}
	}
}

func TestPartitions(t *testing.T) {
	for _, tc := range []struct{ dialect, table, want string }{
		{"athena", "songplays", "PARTITIONED BY (`year` INT, `month` INT)"},
		{"athena", "songplays", "'storage.location.template' = 's3://my-bucket/lake/songplays/year=${year}/month=${month}/'"},
		{"athena", "time", "'projection.month.range' = '1,12'"},
		{"athena", "songs", "PARTITIONED BY (`year` INT, `artist_id` STRING)"},
		{"athena", "songs", "MSCK REPAIR TABLE `songs`;"},
		{"spark", "songs", "PARTITIONED BY (`year`, `artist_id`)"},
		{"spark", "time", "MSCK REPAIR TABLE `time`;"},
		{"trino", "songplays", "partitioned_by = ARRAY['year', 'month']"},
		{"trino", "songs", `  "year" INTEGER,` + "\n" + `  "artist_id" VARCHAR` + "\n)"},
		{"duckdb", "songplays", "hive_types = {'year': INTEGER, 'month': INTEGER}"},
		{"duckdb", "songs", "read_parquet('s3://my-bucket/lake/songs/**/*.parquet', hive_partitioning = true, hive_types = {'year': INTEGER, 'artist_id': VARCHAR})"},
		{"duckdb", "users", "read_parquet('s3://my-bucket/lake/users/*.parquet', hive_partitioning = false)"},
	} {
		if stmt := statement(t, generate(t, tc.dialect, goldenLocation), tc.dialect, tc.table); !strings.Contains(stmt, tc.want) {
			t.Errorf("%s %s: want %q in\n%s", tc.dialect, tc.table, tc.want, stmt)
		}
	}
	// Unpartitioned tables have no partition clause.
	for _, dialect := range Dialects {
		out := generate(t, dialect, goldenLocation)
		for _, name := range []string{table.NameUsers, table.NameArtists} {
			stmt := statement(t, out, dialect, name)
			if strings.Contains(stmt, "PARTITION") || strings.Contains(stmt, "partitioned_by") || strings.Contains(stmt, "hive_partitioning = true") || strings.Contains(stmt, "hive_types") {
				t.Errorf("%s: %s is not partitioned:\n%s", dialect, name, stmt)
			}
		}
	}
}

func TestUnknownDialect(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, "mysql", goldenLocation)
	if err == nil {
		t.Fatal("no error for dialect mysql")
	}
	for _, d := range append([]string{"mysql"}, Dialects...) {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("error %q does not name %s", err, d)
		}
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q for an unknown dialect", b.String())
	}
	if err := Write(&b, "duckdb", ""); err == nil {
		t.Error("no error for an empty location")
	}
}

func TestQuotesInLocation(t *testing.T) {
	const loc = `s3://my-bucket/it's\lake`
	for _, tc := range []struct{ dialect, want string }{
		// Hive's grammar (Athena DDL, Spark SQL) escapes with a backslash: 'a''b' would read as "ab".
		{"athena", `LOCATION 's3://my-bucket/it\'s\\lake/users/'`},
		{"spark", `LOCATION 's3://my-bucket/it\'s\\lake/users'`},
		{"trino", `external_location = 's3://my-bucket/it''s\lake/users'`},
		{"duckdb", `read_parquet('s3://my-bucket/it''s\lake/users/*.parquet'`},
	} {
		out := generate(t, tc.dialect, loc)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: want %s in\n%s", tc.dialect, tc.want, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "--") && strings.Contains(line, "it's") {
				t.Errorf("%s: unescaped quote in %q", tc.dialect, line)
			}
		}
	}
}

func TestLineBreakInLocation(t *testing.T) {
	// It would end the header comment: what follows would run as SQL.
	for _, dialect := range Dialects {
		var b bytes.Buffer
		if err := Write(&b, dialect, "s3://my-bucket/x\nDROP TABLE users; --"); err == nil {
			t.Errorf("%s: no error for a location with a line break:\n%s", dialect, b.String())
		}
	}
}

func TestHeaderAndTrailingSlash(t *testing.T) {
	for _, dialect := range Dialects {
		out := generate(t, dialect, goldenLocation)
		first, _, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(first, "-- ") || !strings.Contains(first, "generated by sparkify") || !strings.Contains(first, goldenLocation) {
			t.Errorf("%s: first line %q: want a comment naming sparkify and the location", dialect, first)
		}
		if slash := generate(t, dialect, goldenLocation+"/"); slash != out {
			t.Errorf("%s: a trailing slash changes the output", dialect)
		}
	}
}

func TestLocalPath(t *testing.T) {
	out := generate(t, "duckdb", "/data/lake")
	if !strings.Contains(out, "read_parquet('/data/lake/songplays/**/*.parquet'") || strings.Contains(out, "httpfs") {
		t.Errorf("duckdb, local path:\n%s", out)
	}
	if out := generate(t, "trino", "/data/lake"); !strings.Contains(out, "external_location = 'file:///data/lake/users'") {
		t.Errorf("trino, local path:\n%s", out)
	}
	if out := generate(t, "athena", "/data/lake"); !strings.Contains(out, "-- Warning: Athena reads only s3:// locations.") {
		t.Errorf("athena, local path:\n%s", out)
	}
}
