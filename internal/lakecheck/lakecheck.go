// Package lakecheck reads a published lake back for tests, with an independent Parquet
// implementation (Apache Arrow's), so that a test checks what other tools will see rather than
// what the library that wrote the files believes it wrote.
//
// It is test support: only _test.go files import it.
package lakecheck

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Column describes a column as a Parquet reader sees it.
type Column struct {
	Name     string
	Physical string // INT32, INT64, DOUBLE, BYTE_ARRAY
	Logical  string // e.g. "String", "Timestamp(isAdjustedToUTC=true, timeUnit=milliseconds, ...)", "None"
	Optional bool
}

// Row is one row: column name to value (int32, int64, float64, string, or nil for NULL), plus
// the partition columns from the path, as strings.
type Row map[string]any

// Table is a table folder read back.
type Table struct {
	Files      []string // relative to the table folder
	Partitions []string // distinct partition folders, e.g. "year=2018/month=11"
	Schema     []Column // of the first file; every file must have the same
	Rows       []Row
}

// ReadTable reads every Parquet file below dir, skipping names that start with "_" or ".", as
// Spark and DuckDB do.
func ReadTable(dir string) (*Table, error) {
	t := &Table{}
	parts := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(name, ".parquet") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		t.Files = append(t.Files, rel)
		partVals := map[string]string{}
		if i := strings.LastIndex(rel, "/"); i >= 0 {
			parts[rel[:i]] = true
			for seg := range strings.SplitSeq(rel[:i], "/") {
				k, v, ok := strings.Cut(seg, "=")
				if !ok {
					return fmt.Errorf("%s: folder %q is not a Hive partition", rel, seg)
				}
				partVals[k] = v
			}
		}
		cols, rows, err := readFile(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if t.Schema == nil {
			t.Schema = cols
		} else if !slices.Equal(t.Schema, cols) {
			return fmt.Errorf("%s: schema %v differs from %v", rel, cols, t.Schema)
		}
		for _, r := range rows {
			for k, v := range partVals {
				r[k] = v
			}
			t.Rows = append(t.Rows, r)
		}
		return nil
	})
	for p := range parts {
		t.Partitions = append(t.Partitions, p)
	}
	slices.Sort(t.Partitions)
	return t, err
}

func readFile(path string) ([]Column, []Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, nil, err
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	cols := make([]Column, sc.NumColumns())
	for i := range cols {
		c := sc.Column(i)
		cols[i] = Column{
			Name:     c.Name(),
			Physical: c.PhysicalType().String(),
			Logical:  logical(c.LogicalType()),
			Optional: c.SchemaNode().RepetitionType() == parquet.Repetitions.Optional,
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, nil, err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, nil, err
	}
	defer tbl.Release()
	rows := make([]Row, tbl.NumRows())
	for i := range rows {
		rows[i] = Row{}
	}
	for ci := 0; ci < int(tbl.NumCols()); ci++ {
		col := tbl.Column(ci)
		name := col.Name()
		off := 0
		for _, chunk := range col.Data().Chunks() {
			for j := 0; j < chunk.Len(); j++ {
				rows[off+j][name] = value(chunk, j)
			}
			off += chunk.Len()
		}
	}
	return cols, rows, nil
}

func logical(l schema.LogicalType) string {
	if l == nil {
		return "None"
	}
	return l.String()
}

func value(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Timestamp:
		return int64(a.Value(i))
	}
	return fmt.Sprintf("unsupported %s", a.DataType())
}
