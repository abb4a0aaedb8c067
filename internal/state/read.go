package state

// The reader of the state's Parquet files.
//
// The files are decoded by parquet-go, the library that wrote them. That is sound because
// readChecked has checked every byte against the SHA-256 that meta/state.json records before
// anything here runs: the bytes are the ones this package wrote, and someone able to forge both
// a file and its hash can as well rewrite the lake's tables. What follows is defence in depth
// against a bug or a hand edit that slipped past the hash, cheap enough to run on every read:
//
//   - the footer is decoded first, with parquet-go's thrift decoder behind a reader that refuses a
//     list longer than the bytes left. parquet-go's own decoding of it allocates whatever length
//     a list claims: a 19-byte file whose footer claims 2^31 row groups asks for 188 GB, which
//     is a fatal out-of-memory error, not a panic that could be recovered;
//   - the footer's schema must be exactly the one this package writes for the file's row type,
//     its row groups must add up to its row count, and that count must fit the file's size
//     (maxRows), so that the rows allocated for the result stay a bounded multiple of the file;
//   - its column chunks must lie end to end as the writer lays them out: a chunk's offset moved
//     by one flipped bit makes parquet-go read page data as a page header, which once asked for
//     2.9 GB;
//   - parquet-go reads neither page indexes nor bloom filters, which reading the whole file does
//     not need and whose lengths a file could lie about, and must deliver exactly the footer's
//     rows;
//   - a panic while decoding becomes an error, hence ErrCorrupt naming the file.
//
// What is left to parquet-go is the pages themselves: a page header that claims 2^31-1 bytes
// makes it allocate about 3 GB before it finds the bytes missing, and damaged page data can make
// it panic. Only the checksum keeps such a file out; no fuzz target runs the reader on arbitrary
// bytes for that reason.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// readBatch is how many rows parquet-go decodes at a time: the rows are converted to records
// one batch at a time, so that only a batch is held twice.
const readBatch = 1024

// maxRows is the most rows a state file of size bytes can hold. Every row type has a PLAIN
// INT64 column (src_line), 8 bytes a row before Snappy, which expands at most 64/3
// times (its densest element is a 3-byte copy of 64 bytes): a row takes at least 3/8 of a byte
// of the file, so size bytes hold fewer than 8/3·size rows. TestDensestFilesReadBack writes
// files of zero values, the densest there are, to keep this honest.
func maxRows(size int) int64 { return 3 * int64(size) }

// errTooLong is a thrift list or map longer than the bytes left to hold it, or than the memory
// its input may cost.
var errTooLong = errors.New("thrift container longer than its input")

// boundedReader refuses thrift lists, sets and maps that claim more elements than there are
// bytes left (every element takes at least one byte), before the decoder allocates them. It
// also charges each element what it may cost in memory (a struct of the footer is up to 560
// bytes, however few bytes encode it) and refuses to go past a budget proportional to the
// input, far above what a real footer needs (about 12 times its size).
type boundedReader struct {
	thrift.BytesReader
	size   int
	budget int
}

func (r *boundedReader) left() int { return r.size - r.BytesRead() }

// charge accounts for a container of n elements of type t, each taking at least min bytes.
func (r *boundedReader) charge(n int32, t thrift.Type, min int) error {
	cost := 32 // a slice or string header, or a number
	if t == thrift.STRUCT {
		cost = 1024
	}
	if n < 0 || int(n) > r.left()/min || int(n)*cost > r.budget {
		return errTooLong
	}
	r.budget -= int(n) * cost
	return nil
}

func (r *boundedReader) ReadList() (thrift.List, error) {
	l, err := r.BytesReader.ReadList()
	if err == nil {
		err = r.charge(l.Size, l.Type, 1)
	}
	return l, err
}

func (r *boundedReader) ReadSet() (thrift.Set, error) {
	s, err := r.BytesReader.ReadSet()
	if err == nil {
		err = r.charge(s.Size, s.Type, 1)
	}
	return s, err
}

func (r *boundedReader) ReadMap() (thrift.Map, error) {
	m, err := r.BytesReader.ReadMap()
	if err == nil {
		t := m.Value
		if m.Key == thrift.STRUCT {
			t = thrift.STRUCT
		}
		err = r.charge(m.Size, t, 2)
	}
	return m, err
}

// Discard lets the decoder skip unknown fields: a bytes reader skips by moving its offset.
func (r *boundedReader) Discard(n int) (int, error) {
	d, ok := r.BytesReader.(interface{ Discard(int) (int, error) })
	if !ok {
		return 0, errors.New("thrift reader cannot skip")
	}
	return d.Discard(n)
}

// footer decodes a Parquet file's footer, which must fill the bytes its length says exactly.
func footer(data []byte) (*format.FileMetaData, error) {
	const magic = "PAR1"
	if len(data) < 12 {
		return nil, fmt.Errorf("%d bytes is too short for a Parquet file", len(data))
	}
	if string(data[:4]) != magic || string(data[len(data)-4:]) != magic {
		return nil, errors.New("no Parquet magic number")
	}
	n := uint64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	if n > uint64(len(data)-12) {
		return nil, fmt.Errorf("footer of %d bytes does not fit", n)
	}
	b := data[len(data)-8-int(n) : len(data)-8]
	var p thrift.CompactProtocol
	r := &boundedReader{BytesReader: p.NewReaderFromBytes(b), size: len(b), budget: 1<<20 + 64*len(b)}
	md := new(format.FileMetaData)
	if err := thrift.NewDecoder(r).Decode(md); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	if k := r.BytesRead(); k != len(b) {
		return nil, fmt.Errorf("footer: %d bytes after its end", len(b)-k)
	}
	return md, nil
}

// table is what the reader knows of the files of rows of type R: the schema this package writes
// for them, which a file must have exactly.
type table[R any] struct {
	schema []format.SchemaElement
}

// newTable derives the schema of R's files by writing an empty one.
func newTable[R any]() *table[R] {
	data, err := encodeParquet[R](0, nil)
	if err == nil {
		var md *format.FileMetaData
		if md, err = footer(data); err == nil {
			return &table[R]{schema: md.Schema}
		}
	}
	panic(fmt.Sprintf("state: schema of %T: %v", *new(R), err))
}

// checkFooter checks a file's footer before parquet-go opens it, and returns its row count.
func (t *table[R]) checkFooter(data []byte) (int64, error) {
	md, err := footer(data)
	if err != nil {
		return 0, err
	}
	if !reflect.DeepEqual([]format.SchemaElement(md.Schema), t.schema) {
		return 0, errors.New("its schema is not the one this sparkify writes")
	}
	if md.NumRows < 0 || md.NumRows > maxRows(len(data)) {
		return 0, fmt.Errorf("%d rows cannot fit in %d bytes", md.NumRows, len(data))
	}
	// The column chunks must lie end to end from the magic number on, in the order the writer
	// writes them, before the footer: parquet-go reads a chunk's bytes as page headers from its
	// first page on, and a page header found where there is none can claim gigabytes.
	var total int64
	pos, end := int64(4), int64(len(data))-8-int64(binary.LittleEndian.Uint32(data[len(data)-8:]))
	for i, rg := range md.RowGroups {
		if rg.NumRows < 0 || rg.NumRows > md.NumRows-total {
			return 0, fmt.Errorf("row group %d: %d rows, more than the file's %d", i, rg.NumRows, md.NumRows)
		}
		total += rg.NumRows
		if len(rg.Columns) != len(t.schema)-1 {
			return 0, fmt.Errorf("row group %d: %d columns, want %d", i, len(rg.Columns), len(t.schema)-1)
		}
		for j := range rg.Columns {
			c := &rg.Columns[j].MetaData
			start := c.DataPageOffset
			if c.DictionaryPageOffset != 0 {
				start = c.DictionaryPageOffset
			}
			if rg.Columns[j].FilePath != "" || start != pos || c.DataPageOffset < start ||
				c.TotalCompressedSize < 0 || c.TotalCompressedSize > end-pos || c.DataPageOffset >= pos+c.TotalCompressedSize {
				return 0, fmt.Errorf("row group %d, column %d: its bytes are not where the writer puts them", i, j)
			}
			pos += c.TotalCompressedSize
		}
	}
	if total != md.NumRows {
		return 0, fmt.Errorf("row groups hold %d rows, the footer says %d", total, md.NumRows)
	}
	return md.NumRows, nil
}

// decode decodes the rows of a state file, each converted to a record by conv. Its errors say
// what is wrong; the caller adds which file.
func decode[R, T any](data []byte, t *table[R], conv func(*R, *T) error) (out []T, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("parquet-go panicked: %v", p)
		}
	}()
	n, err := t.checkFooter(data)
	if err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, err
	}
	if f.NumRows() != n {
		return nil, fmt.Errorf("parquet-go counts %d rows, the footer %d", f.NumRows(), n)
	}
	if n == 0 {
		return nil, nil
	}
	r := parquet.NewGenericReader[R](f)
	defer r.Close()
	out = make([]T, n)
	buf := make([]R, min(n, readBatch))
	var done int64
	for {
		k, err := r.Read(buf)
		if int64(k) > n-done {
			return nil, fmt.Errorf("more rows than the footer's %d", n)
		}
		for i := range k {
			if err := conv(&buf[i], &out[done]); err != nil {
				return nil, fmt.Errorf("row %d: %w", done, err)
			}
			done++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if done != n {
		return nil, fmt.Errorf("%d rows, the footer says %d", done, n)
	}
	return out, nil
}
