package sink

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sparkify/lake/internal/lakecheck"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
)

func TestBigPartitionIsSplitNearTargetSize(t *testing.T) {
	dir := t.TempDir()
	st, _ := storage.NewLocal(dir)
	rows := make([]table.Time, 50_000)
	for i := range rows {
		rows[i] = table.Time{StartTime: int64(i) * 1000, Hour: int32(i % 24), Year: 2018, Month: 11}
	}
	res, err := Table(context.Background(), st, "time", rows, (*table.Time).Partition,
		Options{Compression: "none", TargetFileSize: 64 << 10, RowGroupRows: 5_000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files < 2 || res.Rows != 50_000 || res.Partitions != 1 {
		t.Errorf("got %d files, %d rows, %d partitions; want several files, 50000 rows, 1 partition", res.Files, res.Rows, res.Partitions)
	}
	tb, err := lakecheck.ReadTable(filepath.Join(dir, "time"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Files) != res.Files || len(tb.Rows) != 50_000 {
		t.Errorf("read back %d files and %d rows, want %d and 50000", len(tb.Files), len(tb.Rows), res.Files)
	}
	// Files are named in order and rows keep their order across them.
	for i, r := range tb.Rows {
		if r["start_time"] != int64(i)*1000 {
			t.Fatalf("row %d: got start_time %v", i, r["start_time"])
		}
	}
}

func TestEmptyUnpartitionedTableHasASchemaFile(t *testing.T) {
	dir := t.TempDir()
	st, _ := storage.NewLocal(dir)
	res, err := Table(context.Background(), st, "users", []table.User(nil), (*table.User).Partition, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := lakecheck.ReadTable(filepath.Join(dir, "users"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || len(tb.Files) != 1 || len(tb.Rows) != 0 || len(tb.Schema) != 5 {
		t.Errorf("got %d files, %d rows, schema %v", len(tb.Files), len(tb.Rows), tb.Schema)
	}
}

func TestCompressionCodecs(t *testing.T) {
	for _, c := range []string{"snappy", "zstd", "gzip", "none"} {
		t.Run(c, func(t *testing.T) {
			dir := t.TempDir()
			st, _ := storage.NewLocal(dir)
			rows := []table.User{{UserID: 1, FirstName: "Ann", Level: "free"}, {UserID: 2}}
			if _, err := Table(context.Background(), st, "users", rows, (*table.User).Partition, Options{Compression: c}); err != nil {
				t.Fatal(err)
			}
			tb, err := lakecheck.ReadTable(filepath.Join(dir, "users"))
			if err != nil {
				t.Fatal(err)
			}
			if len(tb.Rows) != 2 || tb.Rows[0]["first_name"] != "Ann" || tb.Rows[1]["first_name"] != nil {
				t.Errorf("got %v", tb.Rows)
			}
		})
	}
	if _, err := Table(context.Background(), nil, "users", []table.User{{}}, (*table.User).Partition, Options{Compression: "lzma"}); err == nil {
		t.Error("unknown codec accepted")
	}
}
