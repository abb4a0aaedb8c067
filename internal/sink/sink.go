// Package sink writes table rows as Hive-partitioned Parquet files, and rejected records as JSON
// lines, into a store — in practice the run's staging folder, which commit later puts in place.
//
// It decides file layout (one folder per partition value, a file per day in songplays and time
// (table.Grouped), files split near a target size, names that are the same on every run) and
// encoding, never content: rows arrive built and sorted.
package sink

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/table/wire"
)

// Options tune the files written.
type Options struct {
	Compression    string // snappy, zstd, gzip or none
	TargetFileSize int64  // a partition's rows are split into files near this size
	RowGroupRows   int    // rows per row group (and between file-size checks)
	Version        string // written into each file's created_by
	Parallelism    int    // partitions written at once; 0: 2 on a local disk, the store's requests in flight on an object store (8 for big files)
	// Direct writes files under their own names where the store can (Features.CreateDirect),
	// for a writer that is alone in its staging folder, as the local engine is. A Beam runner
	// may run a bundle twice at once, and two writers of one name must each write a file of
	// their own.
	Direct bool
}

// DefaultTargetFileSize is near the size engines read best: large enough that a table is not a
// swarm of small files, small enough to parallelize reads of a big partition.
const DefaultTargetFileSize = 128 << 20

// DefaultRowGroupRows keeps row groups at a few MB for these narrow tables.
const DefaultRowGroupRows = 128 << 10

func (o Options) codec() (compress.Codec, string, error) {
	switch strings.ToLower(o.Compression) {
	case "", "snappy":
		return &parquet.Snappy, ".snappy", nil
	case "zstd":
		return &parquet.Zstd, ".zstd", nil
	case "gzip":
		return &parquet.Gzip, ".gz", nil
	case "none", "uncompressed":
		return &parquet.Uncompressed, "", nil
	}
	return nil, "", fmt.Errorf("unknown compression %q (want snappy, zstd, gzip or none)", o.Compression)
}

// Result tells what was written for one table.
type Result struct {
	Table      string   `json:"-"`
	Rows       int64    `json:"rows"`
	Files      int      `json:"files"`
	Bytes      int64    `json:"bytes"`
	Partitions int      `json:"partitions"`
	Names      []string `json:"-"` // object names written, as the store names them
	// Parts is what was written for each partition ("" for an unpartitioned table) and, in a
	// table whose rows are table.Grouped, for each file group in it, in that order: an
	// incremental run publishes them one by one.
	Parts []Part `json:"-"`
}

// Part is what was written for one partition, or for one file group of a partition.
type Part struct {
	Name  string // the partition's path below the table folder, e.g. year=2018/month=11
	Group string // the file group (table.Grouped), "" if the table has none
	Rows  int64
	Files int
	Bytes int64
	Names []string // the files, as the store names them
	Sizes []int64  // their sizes
}

// Table writes rows, already in their final order, under dir: one folder per partition (as
// returned by partition, "" for none) and files named part-NNNNN<.codec>.parquet within it — or,
// for rows that are table.Grouped, part-<group>-NNNNN<.codec>.parquet, the files of each group
// apart. dir is a run's staging, which no reader sees until the run commits it: with
// opts.Direct, files are written under their own names where the store can
// (storage.Features.CreateDirect).
func Table[T any](ctx context.Context, st storage.Store, dir string, rows []T, partition func(*T) string, opts Options) (Result, error) {
	res := Result{Table: dir}
	codec, ext, err := opts.codec()
	if err != nil {
		return res, err
	}
	if opts.TargetFileSize <= 0 {
		opts.TargetFileSize = DefaultTargetFileSize
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = DefaultRowGroupRows
	}
	parallelism := opts.Parallelism
	// Group row indexes by partition, and within it by file group (table.Grouped), keeping the
	// rows' order within each.
	type unit struct{ part, group string }
	groupOf := func(*T) string { return "" }
	var zero T
	if _, ok := any(&zero).(table.Grouped); ok {
		groupOf = func(r *T) string { return any(r).(table.Grouped).FileGroup() }
	}
	groups := map[unit][]int{}
	for i := range rows {
		u := unit{partition(&rows[i]), groupOf(&rows[i])}
		groups[u] = append(groups[u], i)
	}
	// An unpartitioned table with no rows still gets one file, so that its schema is there and a
	// reader's glob over it matches something; a partitioned one has no partition to put it in.
	if len(rows) == 0 && partition(&zero) == "" {
		groups[unit{}] = nil
	}
	units := slices.SortedFunc(maps.Keys(groups), func(a, b unit) int {
		return cmp.Or(strings.Compare(a.part, b.part), strings.Compare(a.group, b.group))
	})
	for i, u := range units {
		if u.part != "" && (i == 0 || units[i-1].part != u.part) {
			res.Partitions++
		}
	}
	if parallelism <= 0 {
		// On a local disk each partition is mostly mkdir and create calls, which contend for
		// their parent folder's lock when many run at once (measured: 2 beats 4). On an object
		// store a small file is a wait for the network, so as many are written at once as the
		// store keeps requests in flight: with 16, staging the songs table's 14,000 objects at S
		// through 20 ms took 21 s, 14,000 × 20 ms / 16. A big file is an upload that buffers
		// up to 16 MiB (more in parts past that), so big ones go a few at a time.
		parallelism = storage.Concurrency(st, 2)
		if len(units) > 0 && len(rows)/len(units) > bigUnitRows {
			parallelism = min(parallelism, 8)
		}
	}
	// Units are written in parallel: a table like songs has thousands of small partitions, each
	// mostly file-system calls. Each worker keeps its write buffer from file to file. Results are
	// kept per unit and summed in order, so the result does not depend on scheduling.
	unitRes := make([]Part, len(units))
	create := st.Create
	if direct := st.Features().CreateDirect; direct != nil && opts.Direct {
		create = direct // dir is a staging only this run writes: no temporary names (see above)
	}
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(max(parallelism, 1), max(len(units), 1)) {
		g.Go(func() error {
			enc := &encoderState[T]{codec: codec, version: opts.Version}
			var buf []T
			for {
				ui := int(next.Add(1) - 1)
				if ui >= len(units) {
					return nil
				}
				// A table of thousands of partitions must stop at once when one failed or the
				// run was cancelled.
				if gctx.Err() != nil {
					return context.Cause(gctx)
				}
				u := units[ui]
				folder := dir
				if u.part != "" {
					folder += "/" + u.part
				}
				prefix := "part-"
				if u.group != "" {
					prefix += u.group + "-"
				}
				idx := groups[u]
				fw := fileWriter[T]{st: st, create: create, folder: folder, prefix: prefix, ext: ext + ".parquet", opts: opts, enc: enc, res: &unitRes[ui], rows: len(idx)}
				for start := 0; start < max(len(idx), 1); start += opts.RowGroupRows {
					if gctx.Err() != nil {
						fw.abort()
						return context.Cause(gctx)
					}
					group := idx[start:min(start+opts.RowGroupRows, len(idx))]
					var rg []T
					if n := len(group); n > 0 && group[n-1]-group[0] == n-1 {
						// The rows are side by side (a table sorted by its partitions, as
						// songplays and time are): written from where they are, not copied.
						rg = rows[group[0] : group[0]+n]
					} else {
						buf = buf[:0]
						for _, i := range group {
							buf = append(buf, rows[i])
						}
						rg = buf
					}
					if err := fw.write(gctx, rg); err != nil {
						fw.abort()
						return err
					}
				}
				if err := fw.close(); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	for i, r := range unitRes {
		r.Name, r.Group = units[i].part, units[i].group
		res.Parts = append(res.Parts, r)
		res.Rows += r.Rows
		res.Files += r.Files
		res.Bytes += r.Bytes
		res.Names = append(res.Names, r.Names...)
	}
	return res, nil
}

// bigUnitRows is the mean rows per file above which a table's files are written a few at a time
// on an object store: about a megabyte of Parquet.
const bigUnitRows = 20_000

// fileWriter writes one partition's files, starting a new file when the current one has grown
// past the target size.
type fileWriter[T any] struct {
	st     storage.Store
	create func(ctx context.Context, name string) (storage.Writer, error) // st's
	folder string
	ext    string
	opts   Options
	enc    *encoderState[T]
	res    *Part

	prefix string // of the files' names: part-, or part-<group>-
	n      int    // files started in this partition
	name   string
	rows   int            // in the partition: an upper bound of a file's
	out    storage.Writer // the file being written; nil between files
}

// encoderState is what a worker of Table keeps from file to file: its write buffer. The Parquet
// encoder is new for each file: parquet-go's Reset, which would keep its column buffers too,
// clears path_in_schema in every later file's metadata (parquet-go issue #602, v0.32.0; caught
// by TestOneWorkerSameBytes), a file Athena and Spark refuse.
type encoderState[T any] struct {
	codec   compress.Codec
	version string
	buf     *bufio.Writer
	cw      countingWriter
	pw      encoder[T]
}

// start points the state's buffer and a new encoder at out, for a file of at most rows rows.
func (e *encoderState[T]) start(out io.Writer, rows int) {
	// Buffered: the Parquet writer writes each page and footer piece on its own, which for
	// thousands of small files would be tens of thousands of system calls.
	if e.buf == nil {
		e.buf = bufio.NewWriterSize(out, 64<<10)
	} else {
		e.buf.Reset(out)
	}
	e.cw = countingWriter{w: e.buf}
	opts := writerOptions(e.codec, e.version)
	if rows <= smallFileRows {
		opts = append(opts, parquet.PageBufferSize(smallPageBufferSize))
	}
	e.pw = newEncoder[T](&e.cw, opts)
}

// A file of at most smallFileRows rows is written with page buffers of smallPageBufferSize
// instead of parquet-go's 256 KiB: the buffer of each required column is allocated at that size,
// and a songs table of 17,500 one-row files spent 1.9 GB on them, a quarter of a run's
// allocations. The bytes are the same (TestSmallFilePagesSameBytes, and TestOneWorkerSameBytes
// through Table): a page is cut when a column's buffered size passes 98 % of the buffer, and
// every column of these tables is a number or dictionary-encoded text (writerOptions), none
// repeated, so a row buffers at most 13 bytes a column (an 8-byte number or a 4-byte dictionary
// index, and for an optional column a 4-byte row index and a definition level). smallFileRows
// rows fit in one page with either buffer. A dictionary that passes DictionaryMaxBytes switches
// only the pages after the current one to PLAIN, and a file this small has one.
const (
	smallFileRows       = 256
	smallPageBufferSize = 8 << 10
)

func (f *fileWriter[T]) write(ctx context.Context, rows []T) error {
	if f.out == nil {
		f.name = fmt.Sprintf("%s/%s%05d%s", f.folder, f.prefix, f.n, f.ext)
		f.n++
		out, err := f.create(ctx, f.name)
		if err != nil {
			return err
		}
		f.out = out
		f.enc.start(out, f.rows)
	}
	if _, err := f.enc.pw.Write(rows); err != nil {
		return f.fail(err)
	}
	f.res.Rows += int64(len(rows))
	if err := f.enc.pw.Flush(); err != nil {
		return f.fail(err)
	}
	if f.enc.cw.n >= f.opts.TargetFileSize {
		return f.close()
	}
	return nil
}

func (f *fileWriter[T]) close() error {
	if f.out == nil {
		return nil
	}
	out := f.out
	f.out = nil
	if err := f.enc.pw.Close(); err != nil {
		out.Abort()
		return f.fail(err)
	}
	if err := f.enc.buf.Flush(); err != nil {
		out.Abort()
		return f.fail(err)
	}
	if err := out.Close(); err != nil {
		return err // the store's errors name the object
	}
	f.res.Files++
	f.res.Bytes += f.enc.cw.n
	f.res.Names = append(f.res.Names, f.name)
	f.res.Sizes = append(f.res.Sizes, f.enc.cw.n)
	return nil
}

// fail returns a write error naming the file once: the store's own errors already name it (a
// full disk: "write <file>: no space left on device"); the Parquet encoder's do not.
func (f *fileWriter[T]) fail(err error) error {
	if cw := &f.enc.cw; cw.err != nil && errors.Is(err, cw.err) {
		return cw.err
	}
	return fmt.Errorf("write %s: %w", f.st.Location(f.name), err)
}

func (f *fileWriter[T]) abort() {
	if f.out != nil {
		f.out.Abort()
		f.out = nil
	}
}

// encoder is the Parquet writer of a file of rows of type T.
type encoder[T any] interface {
	Write(rows []T) (int, error)
	Flush() error
	Close() error
}

// newEncoder returns the writer for rows of T: the rows' wire form for the tables that have one
// (see package wire: optional text as pointers, which parquet-go writes exactly), T itself
// otherwise.
func newEncoder[T any](w io.Writer, opts []parquet.WriterOption) encoder[T] {
	switch any(*new(T)).(type) {
	case table.Songplay:
		return any(newWireEncoder(w, opts, wire.FromSongplay)).(encoder[T])
	case table.User:
		return any(newWireEncoder(w, opts, wire.FromUser)).(encoder[T])
	case table.Artist:
		return any(newWireEncoder(w, opts, wire.FromArtist)).(encoder[T])
	}
	return parquet.NewGenericWriter[T](w, opts...)
}

// wireEncoder converts rows to their wire form W and writes those.
type wireEncoder[T, W any] struct {
	*parquet.GenericWriter[W]
	wire func(*T) W
	buf  []W
}

func newWireEncoder[T, W any](w io.Writer, opts []parquet.WriterOption, wire func(*T) W) *wireEncoder[T, W] {
	return &wireEncoder[T, W]{GenericWriter: parquet.NewGenericWriter[W](w, opts...), wire: wire}
}

// Write converts and writes rows wireChunk at a time: the encoder is new for each file, and a
// buffer of a whole row group's wire rows, grown anew for each, was a tenth of a run's
// allocations. Rows written in several calls give the same bytes as in one.
func (e *wireEncoder[T, W]) Write(rows []T) (int, error) {
	written := 0
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), wireChunk)]
		rows = rows[len(chunk):]
		if e.buf == nil {
			e.buf = make([]W, 0, len(chunk))
		}
		e.buf = e.buf[:0]
		for i := range chunk {
			e.buf = append(e.buf, e.wire(&chunk[i]))
		}
		n, err := e.GenericWriter.Write(e.buf)
		clear(e.buf) // the wire rows point into rows: do not keep them alive
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// wireChunk is how many rows a wireEncoder converts at a time.
const wireChunk = 4096

// DictionaryMaxBytes is the size past which a column chunk's dictionary stops growing and the
// rest of the row group is written PLAIN: 1 MiB, the dictionary page limit of parquet-mr (Spark,
// Hive) and of pyarrow.
const DictionaryMaxBytes = 1 << 20

// writerOptions are the Parquet writer's settings: what Spark and pyarrow write by default, which
// every reader takes, rather than parquet-go's own defaults (DATA_PAGE_V2 pages and
// DELTA_LENGTH_BYTE_ARRAY strings, which Spark's vectorized reader rejected before 3.4 and
// Iceberg's until 2026). Every setting is spelled out, defaults included, so that a library
// upgrade cannot change the files silently.
//
//   - DATA_PAGE (version 1) pages;
//   - strings dictionary-encoded (RLE_DICTIONARY, with a PLAIN dictionary page); when a column's
//     dictionary grows past DictionaryMaxBytes within a row group, parquet-go writes that
//     row group's remaining pages of the column PLAIN (the pages already written keep the
//     dictionary, which is still written);
//   - numbers PLAIN: parquet-go has no check of whether a dictionary pays for itself, as
//     parquet-mr and Arrow have, so ids and timestamps, unique per row, would carry a dictionary
//     as big as the column plus the indexes;
//   - statistics (min, max, null count) in the column chunk metadata and in every data page
//     header, and the column and offset indexes.
//
// The writer does not buffer its output: Table's workers buffer it themselves, in one buffer each
// that lasts from file to file, where parquet-go's would be 32 KiB allocated for every file.
func writerOptions(codec compress.Codec, version string) []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(codec),
		parquet.CreatedBy("sparkify", version, ""),
		parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		parquet.DictionaryMaxBytes(DictionaryMaxBytes),
		parquet.PageBufferSize(parquet.DefaultPageBufferSize),
		parquet.DataPageStatistics(true),
		parquet.WriteBufferSize(0),
	}
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error // the first error of the store's writer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// Merge returns the result of a table written by several calls of Table, each with rows of other
// partitions or file groups, as one call with all the rows would have returned it.
func Merge(rs ...Result) Result {
	var m Result
	for _, r := range rs {
		m.Parts = append(m.Parts, r.Parts...)
	}
	slices.SortStableFunc(m.Parts, func(a, b Part) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Group, b.Group))
	})
	for i, p := range m.Parts {
		if p.Name != "" && (i == 0 || m.Parts[i-1].Name != p.Name) {
			m.Partitions++
		}
		m.Rows += p.Rows
		m.Files += p.Files
		m.Bytes += p.Bytes
		m.Names = append(m.Names, p.Names...)
	}
	return m
}
