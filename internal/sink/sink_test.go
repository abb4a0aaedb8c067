package sink

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

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

// TestPartsAddUpPerFolder: Result.Parts says what each partition folder holds, as the store
// lists it, so that an incremental run can publish partition folders one by one.
func TestPartsAddUpPerFolder(t *testing.T) {
	st := storage.NewMemory(storage.MemoryOptions{})
	var rows []table.Time
	for i := range 3000 {
		month := int32(10 + i%3)
		rows = append(rows, table.Time{StartTime: int64(i), Year: 2018, Month: month})
	}
	res, err := Table(context.Background(), st, "time", rows, (*table.Time).Partition, Options{Compression: "none", TargetFileSize: 2 << 10, RowGroupRows: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) != 3 || res.Parts[0].Name != "year=2018/month=10" || res.Parts[2].Name != "year=2018/month=12" {
		t.Fatalf("parts %+v", res.Parts)
	}
	for _, p := range res.Parts {
		var files int
		var bytes int64
		err := st.List(context.Background(), "time/"+p.Name, func(o storage.Object) error {
			files++
			bytes += o.Size
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.Rows != 1000 || p.Files != files || p.Bytes != bytes || files == 0 {
			t.Errorf("%s: result says %d rows, %d files, %d bytes; the store holds %d files, %d bytes (want 1000 rows)",
				p.Name, p.Rows, p.Files, p.Bytes, files, bytes)
		}
	}
}

// Merge of tables written a group at a time is the result of writing them at once: what a
// spilling run, which writes songplays and time a day at a time, reports.
func TestMergeEqualsOneWrite(t *testing.T) {
	var rows []table.Time
	const day = 24 * 3600 * 1000
	// Days across months 9 to 12, whose folder names do not sort as numbers do.
	for i := range 4000 {
		rows = append(rows, table.Time{StartTime: 1535760000000 + int64(i)*day/40, Year: 2018})
	}
	for i := range rows {
		rows[i].Month = int32(time.UnixMilli(rows[i].StartTime).UTC().Month())
	}
	opts := Options{Compression: "none", TargetFileSize: 2 << 10, RowGroupRows: 100}
	whole, err := Table(context.Background(), storage.NewMemory(storage.MemoryOptions{}), "time", rows, (*table.Time).Partition, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := storage.NewMemory(storage.MemoryOptions{})
	var parts []Result
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].FileGroup() == rows[i].FileGroup() {
			j++
		}
		r, err := Table(context.Background(), st, "time", rows[i:j], (*table.Time).Partition, opts)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, r)
		i = j
	}
	slices.Reverse(parts) // the order of the calls does not matter
	merged := Merge(parts...)
	merged.Table = whole.Table
	if whole.Partitions != 4 || !reflect.DeepEqual(merged, whole) {
		t.Fatalf("merged %d parts, %d partitions, %d files; one write: %d parts, %d partitions, %d files",
			len(merged.Parts), merged.Partitions, merged.Files, len(whole.Parts), whole.Partitions, whole.Files)
	}
}
