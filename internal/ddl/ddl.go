// Package ddl writes the statements that register the five tables of a lake in an analyst's tool:
// Amazon Athena (AWS Glue), Spark SQL, Trino (Hive connector) and DuckDB.
//
// Columns and their types are read from the row structs of package table (their parquet tags and
// Go types), so a column added there appears here without anyone remembering to; the partition
// columns, which live only in the path, are the SPEC's, in its order, and must match the fields
// the structs tag `parquet:"-"`.
package ddl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"

	"github.com/sparkify/lake/internal/table"
)

// Dialects lists the supported dialects.
var Dialects = []string{"athena", "spark", "trino", "duckdb"}

// kind is a column's logical type, spelled by each dialect.
type kind int

const (
	kindBigint kind = iota
	kindInt
	kindDouble
	kindString
	kindTimestamp
)

// column is a column of a table as the DDL declares it.
type column struct {
	name      string
	kind      kind
	partition bool
}

// tableDef is a table of the lake: its folder name, data columns in file order, then its partition
// columns in path order.
type tableDef struct {
	name    string
	columns []column
}

// partitions returns the table's partition columns, in path order.
func (t tableDef) partitions() []column {
	var p []column
	for _, c := range t.columns {
		if c.partition {
			p = append(p, c)
		}
	}
	return p
}

// partition names a partition column and the struct field that holds it.
type partition struct{ name, field string }

// The SPEC's partitions, in path order.
var yearMonth = []partition{{"year", "Year"}, {"month", "Month"}}

var schemas = []struct {
	name       string
	row        any
	partitions []partition
}{
	{table.NameSongplays, table.Songplay{}, yearMonth},
	{table.NameUsers, table.User{}, nil},
	{table.NameSongs, table.Song{}, []partition{{"year", "Year"}, {"artist_id", "ArtistID"}}},
	{table.NameArtists, table.Artist{}, nil},
	{table.NameTime, table.Time{}, yearMonth},
}

// lakeTables returns the lake's tables in table.All's order, derived from the row structs.
func lakeTables() ([]tableDef, error) {
	var tables []tableDef
	for _, name := range table.All {
		found := false
		for _, s := range schemas {
			if s.name != name {
				continue
			}
			found = true
			t, err := derive(s.name, reflect.TypeOf(s.row), s.partitions)
			if err != nil {
				return nil, err
			}
			tables = append(tables, t)
		}
		if !found {
			return nil, fmt.Errorf("ddl: table %s has no row type", name)
		}
	}
	return tables, nil
}

func derive(name string, rt reflect.Type, parts []partition) (tableDef, error) {
	t := tableDef{name: name}
	var pathFields []string
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag, ok := f.Tag.Lookup("parquet")
		if !ok || !f.IsExported() {
			continue
		}
		if tag == "-" {
			pathFields = append(pathFields, f.Name)
			continue
		}
		opts := strings.Split(tag, ",")
		timestamp := false
		for _, o := range opts[1:] {
			if strings.HasPrefix(o, "timestamp") {
				timestamp = true
			}
		}
		k, err := kindOf(f.Type, timestamp)
		if err != nil {
			return tableDef{}, fmt.Errorf("ddl: %s.%s: %w", name, opts[0], err)
		}
		t.columns = append(t.columns, column{name: opts[0], kind: k})
	}
	if len(pathFields) != len(parts) {
		return tableDef{}, fmt.Errorf("ddl: %s: fields %v live in the path, but the partitions are %v", name, pathFields, parts)
	}
	for _, p := range parts {
		f, ok := rt.FieldByName(p.field)
		if !ok || f.Tag.Get("parquet") != "-" {
			return tableDef{}, fmt.Errorf("ddl: %s: partition %s needs a field %s tagged `parquet:\"-\"`", name, p.name, p.field)
		}
		k, err := kindOf(f.Type, false)
		if err != nil {
			return tableDef{}, fmt.Errorf("ddl: %s.%s: %w", name, p.name, err)
		}
		t.columns = append(t.columns, column{name: p.name, kind: k, partition: true})
	}
	return t, nil
}

func kindOf(t reflect.Type, timestamp bool) (kind, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case timestamp && t.Kind() == reflect.Int64:
		return kindTimestamp, nil
	case timestamp:
		return 0, fmt.Errorf("timestamp of Go type %s", t)
	}
	switch t.Kind() {
	case reflect.Int64:
		return kindBigint, nil
	case reflect.Int32:
		return kindInt, nil
	case reflect.Float64:
		return kindDouble, nil
	case reflect.String:
		return kindString, nil
	}
	return 0, fmt.Errorf("no SQL type for Go type %s", t)
}

// Write writes the statements that register the five tables of a lake at location (a local path
// or s3://bucket/prefix, as the user gave it; no trailing slash) in dialect.
func Write(w io.Writer, dialect, location string) error {
	gen, ok := generators[dialect]
	if !ok {
		return fmt.Errorf("unknown dialect %q: want one of %s", dialect, strings.Join(Dialects, ", "))
	}
	if location == "" {
		return errors.New("ddl: no location")
	}
	if strings.ContainsFunc(location, unicode.IsControl) {
		return fmt.Errorf("ddl: location %q holds a control character", location)
	}
	location = strings.TrimRight(location, "/")
	tables, err := lakeTables()
	if err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	gen(b, location, tables)
	return b.Flush()
}

var generators = map[string]func(w *bufio.Writer, location string, tables []tableDef){
	"athena": athena,
	"spark":  spark,
	"trino":  trino,
	"duckdb": duckdb,
}

// quoteDoubled is a string literal in standard SQL (Trino, DuckDB): a quote is doubled.
func quoteDoubled(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteBackslash is a string literal in Hive's grammar (Athena DDL, Spark SQL), where a backslash
// escapes and two adjacent literals are concatenated (so a doubled quote would vanish).
func quoteBackslash(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func hiveType(k kind) string {
	return [...]string{kindBigint: "BIGINT", kindInt: "INT", kindDouble: "DOUBLE", kindString: "STRING", kindTimestamp: "TIMESTAMP"}[k]
}

func athena(w *bufio.Writer, location string, tables []tableDef) {
	fmt.Fprintf(w, "-- Amazon Athena (AWS Glue Data Catalog) tables of the Sparkify lake at %s, generated by sparkify.\n", location)
	w.WriteString(`-- Run each statement in the database of your choice (CREATE DATABASE sparkify; then select it).
-- Partition columns live only in the paths (year=2018/month=11/); start_time is a UTC timestamp.
-- "time" is a reserved word: quote it in queries, as in SELECT * FROM "time".
`)
	if !strings.HasPrefix(location, "s3://") {
		w.WriteString("-- Warning: Athena reads only s3:// locations.\n")
	}
	for _, t := range tables {
		loc := location + "/" + t.name + "/"
		fmt.Fprintf(w, "\nCREATE EXTERNAL TABLE IF NOT EXISTS `%s` (\n", t.name)
		columnList(w, t, false, "`", hiveType)
		w.WriteString(")\n")
		parts := t.partitions()
		if len(parts) > 0 {
			fmt.Fprintf(w, "PARTITIONED BY (%s)\n", joinColumns(parts, func(p column) string { return "`" + p.name + "` " + hiveType(p.kind) }))
		}
		fmt.Fprintf(w, "STORED AS PARQUET\nLOCATION %s", quoteBackslash(loc))
		switch {
		case len(parts) == 2 && parts[0].name == "year" && parts[1].name == "month":
			// Partition projection: Athena computes the partitions from the ranges, no catalog
			// update after a run. Values are unpadded (month=1), as Spark writes them: no digits.
			w.WriteString("\nTBLPROPERTIES (\n")
			w.WriteString("  'projection.enabled' = 'true',\n")
			w.WriteString("  'projection.year.type' = 'integer',\n")
			w.WriteString("  'projection.year.range' = '2000,2100',\n")
			w.WriteString("  'projection.month.type' = 'integer',\n")
			w.WriteString("  'projection.month.range' = '1,12',\n")
			fmt.Fprintf(w, "  'storage.location.template' = %s\n", quoteBackslash(loc+"year=${year}/month=${month}/"))
			w.WriteString(");\n")
		case len(parts) > 0:
			w.WriteString(";\n")
			fmt.Fprintf(w, `-- No partition projection for %[1]s: artist_id is free text (an injected projection would
-- require a WHERE artist_id = ... in every query) and an unknown year is the folder
-- year=__HIVE_DEFAULT_PARTITION__ (NULL), which an integer projection cannot produce. Instead the
-- partitions are loaded into the catalog: run MSCK REPAIR TABLE again after each run of sparkify,
-- or rows of new partitions stay invisible.
MSCK REPAIR TABLE `+"`%[1]s`"+`;
`, t.name)
		default:
			w.WriteString(";\n")
		}
	}
}

func spark(w *bufio.Writer, location string, tables []tableDef) {
	fmt.Fprintf(w, "-- Spark SQL tables of the Sparkify lake at %s, generated by sparkify.\n", location)
	w.WriteString(`-- Partition columns live only in the paths (year=2018/month=11/); start_time is a UTC timestamp.
-- After each run of sparkify, run the MSCK REPAIR TABLE statements again: they load the partitions.
`)
	for _, t := range tables {
		fmt.Fprintf(w, "\nCREATE TABLE IF NOT EXISTS `%s` (\n", t.name)
		columnList(w, t, true, "`", hiveType)
		w.WriteString(")\nUSING parquet\n")
		parts := t.partitions()
		if len(parts) > 0 {
			fmt.Fprintf(w, "PARTITIONED BY (%s)\n", joinColumns(parts, func(p column) string { return "`" + p.name + "`" }))
		}
		fmt.Fprintf(w, "LOCATION %s;\n", quoteBackslash(location+"/"+t.name))
		if len(parts) > 0 {
			fmt.Fprintf(w, "MSCK REPAIR TABLE `%s`;\n", t.name)
		}
	}
}

func trinoType(k kind) string {
	return [...]string{kindBigint: "BIGINT", kindInt: "INTEGER", kindDouble: "DOUBLE", kindString: "VARCHAR", kindTimestamp: "TIMESTAMP(3)"}[k]
}

// The Trino catalog and schema the tables are created in.
const trinoCatalog, trinoSchema = "hive", "default"

func trino(w *bufio.Writer, location string, tables []tableDef) {
	fmt.Fprintf(w, "-- Trino (Hive connector) tables of the Sparkify lake at %s, generated by sparkify.\n", location)
	fmt.Fprintf(w, `-- The catalog %[1]q and schema %[2]q are defaults: replace %[1]s.%[2]s and '%[2]s' below with yours.
-- Partition columns live only in the paths (year=2018/month=11/); start_time is a UTC timestamp.
-- After each run of sparkify, run the CALL statements again: they sync the partitions with the
-- folders (FULL adds the new ones and drops those that are gone).
`, trinoCatalog, trinoSchema)
	if strings.HasPrefix(location, "/") {
		location = "file://" + location
	}
	for _, t := range tables {
		fmt.Fprintf(w, "\nCREATE TABLE IF NOT EXISTS %s.%s.%q (\n", trinoCatalog, trinoSchema, t.name)
		columnList(w, t, true, `"`, trinoType)
		fmt.Fprintf(w, ")\nWITH (\n  external_location = %s,\n  format = 'PARQUET'", quoteDoubled(location+"/"+t.name))
		parts := t.partitions()
		if len(parts) > 0 {
			fmt.Fprintf(w, ",\n  partitioned_by = ARRAY[%s]", joinColumns(parts, func(p column) string { return quoteDoubled(p.name) }))
		}
		w.WriteString("\n);\n")
		if len(parts) > 0 {
			fmt.Fprintf(w, "CALL %s.system.sync_partition_metadata(schema_name => '%s', table_name => '%s', mode => 'FULL');\n",
				trinoCatalog, trinoSchema, t.name)
		}
	}
}

func duckdbType(k kind) string {
	return [...]string{kindBigint: "BIGINT", kindInt: "INTEGER", kindDouble: "DOUBLE", kindString: "VARCHAR", kindTimestamp: "TIMESTAMPTZ"}[k]
}

func duckdb(w *bufio.Writer, location string, tables []tableDef) {
	fmt.Fprintf(w, "-- DuckDB views of the Sparkify lake at %s, generated by sparkify.\n", location)
	w.WriteString(`-- Open the lake with: duckdb -init _views.sql (or run this file in a session).
-- Partition columns come from the paths, typed as the SPEC says; a NULL partition
-- (year=__HIVE_DEFAULT_PARTITION__: a song of unknown year) reads as NULL.
-- start_time is a UTC instant (TIMESTAMP WITH TIME ZONE): SET TimeZone = 'UTC' to see UTC values
-- and date parts that agree with the time table.
`)
	if strings.Contains(location, "://") {
		w.WriteString("-- S3 needs the httpfs extension and credentials, e.g. CREATE SECRET (TYPE s3, PROVIDER credential_chain);\n")
	}
	for _, t := range tables {
		fmt.Fprintf(w, "\nCREATE OR REPLACE VIEW %q AS\nSELECT\n", t.name)
		for i, c := range t.columns {
			sep := ","
			if i == len(t.columns)-1 {
				sep = ""
			}
			fmt.Fprintf(w, "  %q%s\n", c.name, sep)
		}
		parts := t.partitions()
		if len(parts) == 0 {
			fmt.Fprintf(w, "FROM read_parquet(%s, hive_partitioning = false);\n", quoteDoubled(location+"/"+t.name+"/*.parquet"))
			continue
		}
		fmt.Fprintf(w, "FROM read_parquet(%s, hive_partitioning = true, hive_types = {%s});\n", quoteDoubled(location+"/"+t.name+"/**/*.parquet"),
			joinColumns(parts, func(p column) string { return quoteDoubled(p.name) + ": " + duckdbType(p.kind) }))
	}
}

// columnList writes one column a line, indented, with its type; the partition columns too when
// withPartitions (Spark and Trino list them last, Athena only in PARTITIONED BY).
func columnList(w *bufio.Writer, t tableDef, withPartitions bool, quote string, typ func(kind) string) {
	var cols []column
	for _, c := range t.columns {
		if withPartitions || !c.partition {
			cols = append(cols, c)
		}
	}
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "  %s%s%s %s%s\n", quote, c.name, quote, typ(c.kind), sep)
	}
}

// joinColumns spells each column with spell and joins them with ", ": the partition lists of
// every dialect.
func joinColumns(cols []column, spell func(column) string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = spell(c)
	}
	return strings.Join(parts, ", ")
}
