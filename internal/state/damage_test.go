package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// readers are the Read functions, each with the file it reads.
var readers = []struct {
	name, file string
	read       func(context.Context, storage.Store, string, *Meta) error
}{
	{"ReadSongs", SongsFile, func(ctx context.Context, st storage.Store, dir string, m *Meta) error {
		_, err := ReadSongs(ctx, st, dir, m)
		return err
	}},
	{"ReadUsers", UsersFile, func(ctx context.Context, st storage.Store, dir string, m *Meta) error {
		_, err := ReadUsers(ctx, st, dir, m)
		return err
	}},
	{"ReadPlays", PlaysFile("year=2018/month=11", "2018-11-30"), func(ctx context.Context, st storage.Store, dir string, m *Meta) error {
		_, err := ReadPlays(ctx, st, dir, m, "year=2018/month=11", "2018-11-30")
		return err
	}},
	{"ReadIDs", IDsFile, func(ctx context.Context, st storage.Store, dir string, m *Meta) error {
		_, err := ReadIDs(ctx, st, dir, m)
		return err
	}},
	{"ReadRejects", RejectsFile, func(ctx context.Context, st storage.Store, dir string, m *Meta) error {
		_, err := ReadRejects(ctx, st, dir, m)
		return err
	}},
}

// wantCorrupt fails unless err is ErrCorrupt naming the file at loc, as a CorruptError.
func wantCorrupt(t *testing.T, err error, loc string) {
	t.Helper()
	var ce *CorruptError
	switch {
	case !errors.Is(err, ErrCorrupt):
		t.Errorf("got %v, want ErrCorrupt", err)
	case !errors.As(err, &ce) || ce.Location != loc:
		t.Errorf("got %v, want a CorruptError at %s", err, loc)
	case !strings.Contains(err.Error(), loc) || !strings.Contains(err.Error(), "without --incremental"):
		t.Errorf("message %q does not name %s and the remedy", err, loc)
	}
}

// Every Read finds a file that is missing, cut short, one byte longer, changed in one byte, or
// not listed, before it decodes anything: a day's plays file and the id index included (cut to
// a whole number of ids, or one id longer, it would decode, so only its entry in Meta finds it).
func TestDamagedFilesAreCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
			fx := writeState(t, st, Dir, 3, 50)
			name := Dir + "/" + r.file
			loc := st.Location(name)
			orig, err := storage.ReadFile(ctx, st, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.read(ctx, st, Dir, fx.meta); err != nil {
				t.Fatalf("undamaged: %v", err)
			}
			damage := map[string][]byte{
				"empty":       {},
				"one byte":    orig[:1],
				"half":        orig[:len(orig)/2],
				"last cut":    orig[:len(orig)-1],
				"one longer":  append(bytes.Clone(orig), 0),
				"8 longer":    append(bytes.Clone(orig), orig[len(orig)-8:]...),
				"8 shorter":   orig[:len(orig)-8],
				"first byte":  flip(orig, 0),
				"middle byte": flip(orig, len(orig)/2),
				"footer byte": flip(orig, len(orig)-10),
				"last byte":   flip(orig, len(orig)-1),
			}
			for what, data := range damage {
				if err := storage.WriteFile(ctx, st, name, data); err != nil {
					t.Fatal(err)
				}
				err := r.read(ctx, st, Dir, fx.meta)
				t.Run(what, func(t *testing.T) { wantCorrupt(t, err, loc) })
			}
			if err := st.RemoveAll(ctx, name); err != nil {
				t.Fatal(err)
			}
			t.Run("missing", func(t *testing.T) { wantCorrupt(t, r.read(ctx, st, Dir, fx.meta), loc) })
			if err := storage.WriteFile(ctx, st, name, orig); err != nil {
				t.Fatal(err)
			}
			unlisted := *fx.meta
			unlisted.Files = nil
			t.Run("not listed", func(t *testing.T) {
				err := r.read(ctx, st, Dir, &unlisted)
				if r.name == "ReadPlays" { // a partition the state does not have is the caller's error
					if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt) {
						t.Errorf("got %v, want fs.ErrNotExist", err)
					}
					return
				}
				wantCorrupt(t, err, loc)
			})
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// withEntry stores data as the file rel and returns a Meta whose entry matches it: the checksum
// passes, and the decoder's own checks are what is tested.
func withEntry(t testing.TB, st storage.Store, rel string, data []byte) *Meta {
	t.Helper()
	if err := storage.WriteFile(context.Background(), st, Dir+"/"+rel, data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m := &Meta{Format: Format}
	m.AddFile(File{Name: rel, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	return m
}

// An id index written by hand, with a Meta entry that matches it, is still read only if it is
// whole 8-byte ids in strictly increasing order; otherwise it is ErrCorrupt naming the file.
func TestIDsPastTheChecksum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
	loc := st.Location(Dir + "/" + IDsFile)
	le := func(ids ...int64) []byte {
		var b []byte
		for _, id := range ids {
			b = binary.LittleEndian.AppendUint64(b, uint64(id))
		}
		return b
	}
	good := le(-3, 1, 2, 1<<40)
	bad := map[string][]byte{
		"1 byte":             {1},
		"7 bytes":            good[:7],
		"9 bytes":            good[:9],
		"one byte cut":       good[:len(good)-1],
		"one byte longer":    append(bytes.Clone(good), 0),
		"equal":              le(1, 2, 2, 3),
		"decreasing":         le(3, 2, 1),
		"last smaller":       le(1, 2, 3, 0),
		"swapped":            le(1, 3, 2, 4),
		"max then min":       le(math.MaxInt64, math.MinInt64),
		"min twice":          le(math.MinInt64, math.MinInt64),
		"big-endian":         binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1), 256),
		"all zero":           make([]byte, 64),
		"unsorted far on":    append(le(newGen(4).ids(5000)...), le(math.MinInt64)...),
		"a Parquet file":     func() []byte { d, _ := encodeParquet(2, func(int, *songRow) {}); return d }(),
		"ids then one stray": append(le(1, 2), 9),
		"text":               []byte("1\n2\n3\n4\n5\n6\n7\n"),
	}
	for what, data := range bad {
		m := withEntry(t, st, IDsFile, data)
		ids, err := ReadIDs(ctx, st, Dir, m)
		t.Run(what, func(t *testing.T) {
			if ids != nil {
				t.Errorf("read %d ids", len(ids))
			}
			wantCorrupt(t, err, loc)
		})
	}
	for what, want := range map[string][]int64{
		"by hand":  {-3, 1, 2, 1 << 40},
		"extremes": {math.MinInt64, math.MaxInt64},
		"one":      {0},
	} {
		m := withEntry(t, st, IDsFile, le(want...))
		got, err := ReadIDs(ctx, st, Dir, m)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: got %v, %v, want %v", what, got, err, want)
		}
	}
	m := withEntry(t, st, IDsFile, nil)
	if got, err := ReadIDs(ctx, st, Dir, m); got != nil || err != nil {
		t.Errorf("empty: got %v, %v, want nil", got, err)
	}
}

// limit is the most a read of a damaged file of n bytes may allocate: a small multiple of the
// file (the footer's row count, bounded by maxRows, sizes the result) and a few MiB of
// parquet-go's buffers.
func limit(n int) uint64 { return uint64(1024*n + 8<<20) }

// A damaged file that passes the checksum (its Meta entry was changed to match) is still never
// a panic nor a big allocation: cut short or with a byte changed, it decodes to an error
// wrapping ErrCorrupt, or to rows (a changed value can be a valid value; only the checksum finds
// that).
func TestDamagePastTheChecksumIsCorruptAndCheap(t *testing.T) {
	ctx := context.Background()
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
			writeState(t, st, Dir, 5, 6)
			orig, err := storage.ReadFile(ctx, st, Dir+"/"+r.file)
			if err != nil {
				t.Fatal(err)
			}
			loc := st.Location(Dir + "/" + r.file)
			found, panics, tried := 0, 0, 0
			// Every position of the footer, and a sample of the rest.
			footerStart := len(orig) - 8 - int(binary.LittleEndian.Uint32(orig[len(orig)-8:]))
			try := func(data []byte, what string, i int) {
				m := withEntry(t, st, r.file, data)
				var err error
				n := allocated(func() { err = r.read(ctx, st, Dir, m) })
				tried++
				if n > limit(len(data)) {
					t.Errorf("%s at %d (footer at %d): %d bytes allocated for %d bytes of input: %v", what, i, footerStart, n, len(data), err)
				}
				if err != nil {
					found++
					wantCorrupt(t, err, loc)
					if strings.Contains(err.Error(), "panicked") {
						panics++
					}
				}
			}
			step := max(1, len(orig)/400)
			for i := range len(orig) {
				if i%step == 0 || i >= footerStart {
					try(orig[:i], "cut", i)
					try(flip(orig, i), "flip", i)
				}
			}
			t.Logf("%d of %d damaged files found by decoding alone, %d by a panic of parquet-go", found, tried, panics)
		})
	}
}

// allocated returns the bytes allocated while f runs. The tests that use it are not parallel,
// and run before the parallel ones, so little else allocates meanwhile. (runtime/metrics, unlike
// runtime.ReadMemStats, does not stop the world for each of the thousands of reads measured.)
func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

var sink []byte

// withFooter returns the Parquet file data with its footer changed by edit.
func withFooter(t *testing.T, data []byte, edit func(*format.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	start := len(data) - 8 - n
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[start:len(data)-8], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	foot, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(data[:start]), foot...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(foot)))
	return append(out, "PAR1"...)
}

// Footers forged to make parquet-go allocate gigabytes, or to claim rows the file does not
// hold, are ErrCorrupt, found with little memory.
func TestForgedFootersAreCorruptAndCheap(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
	loc := st.Location(Dir + "/" + SongsFile)
	// The meter itself: it must see a big allocation, or the checks below prove nothing.
	if n := allocated(func() { sink = make([]byte, 4<<20) }); n < 4<<20 {
		t.Fatalf("allocating 4 MiB measured as %d bytes", n)
	}
	songs := []record.Song{{SongID: "S1", Year: 1999}, {SongID: "S2", Title: "Two", Duration: 200}, {SongID: "S3", ArtistName: "Three"}}
	f, err := WriteSongs(ctx, st, "orig", songs)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := storage.ReadFile(ctx, st, "orig/"+f.Name)
	if err != nil {
		t.Fatal(err)
	}
	events, err := encodeParquet(1, func(int, *eventRow) {})
	if err != nil {
		t.Fatal(err)
	}
	// A footer of 7 bytes that claims 2^31 row groups: parquet-go alone would ask for 188 GB,
	// a fatal out-of-memory error that no recover catches.
	foot := []byte{0x49, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07}
	rowGroups := append([]byte("PAR1"), foot...)
	rowGroups = binary.LittleEndian.AppendUint32(rowGroups, uint32(len(foot)))
	rowGroups = append(rowGroups, "PAR1"...)
	// A footer length past the file, which parquet-go would allocate before reading.
	longFooter := bytes.Clone(orig)
	binary.LittleEndian.PutUint32(longFooter[len(longFooter)-8:], math.MaxUint32)

	cases := map[string][]byte{
		"2^31 row groups":              rowGroups,
		"footer of 4 GiB":              longFooter,
		"2^31 rows":                    withFooter(t, orig, func(md *format.FileMetaData) { md.NumRows, md.RowGroups[0].NumRows = 1<<31, 1<<31 }),
		"2^40 rows":                    withFooter(t, orig, func(md *format.FileMetaData) { md.NumRows, md.RowGroups[0].NumRows = 1<<40, 1<<40 }),
		"a row group of 2^31":          withFooter(t, orig, func(md *format.FileMetaData) { md.RowGroups[0].NumRows = 1 << 31 }),
		"negative rows":                withFooter(t, orig, func(md *format.FileMetaData) { md.NumRows, md.RowGroups[0].NumRows = -1, -1 }),
		"row groups short of the rows": withFooter(t, orig, func(md *format.FileMetaData) { md.NumRows++ }),
		"more rows than the pages hold": withFooter(t, orig, func(md *format.FileMetaData) {
			md.NumRows, md.RowGroups[0].NumRows = 100, 100
		}),
		"another schema": withFooter(t, orig, func(md *format.FileMetaData) { md.Schema[1].Name = "user" }),
		"an events file": events,
	}
	for what, data := range cases {
		m := withEntry(t, st, SongsFile, data)
		var err error
		n := allocated(func() { _, err = ReadSongs(ctx, st, Dir, m) })
		t.Run(what, func(t *testing.T) {
			wantCorrupt(t, err, loc)
			// parquet-go's buffers for the 14 columns of a songs file take up to 750 KB when it
			// reads pages, and 1 MB under the race detector, whose sync.Pool drops buffers:
			// far below the gigabytes a forged footer could ask for.
			if n > 2<<20 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}

// A panic while decoding is ErrCorrupt naming the file, not a crash.
func TestPanicWhileDecodingIsCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
	f, err := WriteSongs(ctx, st, Dir, []record.Song{{Year: 1}})
	if err != nil {
		t.Fatal(err)
	}
	m := &Meta{}
	m.AddFile(f)
	_, err = readTable(ctx, st, Dir, m, SongsFile, songTable, func(*songRow, *record.Song) error { panic("boom") })
	wantCorrupt(t, err, st.Location(Dir+"/"+SongsFile))
	if !strings.Contains(err.Error(), "boom") {
		t.Errorf("message %q does not say what panicked", err)
	}
}

// Files of zero values, the densest this package writes, hold fewer rows than maxRows allows
// for their size, and read back.
func TestDensestFilesReadBack(t *testing.T) {
	t.Parallel()
	const n = 2*rowGroupRows + 10
	st := storage.NewMemory(storage.MemoryOptions{})
	dense := func(name string, f File, err error, read func(*Meta) (int, error)) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		m := &Meta{}
		m.AddFile(f)
		got, err := read(m)
		if err != nil || got != n {
			t.Errorf("%s: read %d rows, %v", name, got, err)
		}
		if rows := maxRows(int(f.Size)); rows < 2*n {
			t.Errorf("%s: %d rows in %d bytes, less than half the bound %d", name, n, f.Size, rows)
		}
		t.Logf("%s: %.2f bytes a row", name, float64(f.Size)/n)
	}
	ctx := context.Background()
	f, err := WriteUsers(ctx, st, "", make([]record.Event, n))
	dense("users", f, err, func(m *Meta) (int, error) { r, err := ReadUsers(ctx, st, "", m); return len(r), err })
	f, err = WriteSongs(ctx, st, "", make([]record.Song, n))
	dense("songs", f, err, func(m *Meta) (int, error) { r, err := ReadSongs(ctx, st, "", m); return len(r), err })
	rejects := make([]*record.Reject, n)
	for i := range rejects {
		rejects[i] = &record.Reject{}
	}
	f, err = WriteRejects(ctx, st, "", rejects)
	dense("rejects", f, err, func(m *Meta) (int, error) { r, err := ReadRejects(ctx, st, "", m); return len(r), err })
}
