package state

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/sparkify/lake/internal/storage"
)

// rowGroupRows is the number of rows per row group. The state is read whole, so row groups only
// bound the writer's memory and the dictionaries' reach: 64 Ki rows of plays are a few MB.
const rowGroupRows = 1 << 16

// pageBufferSize is parquet-go's default (256 KiB), spelled out so that a library upgrade cannot
// change the files.
const pageBufferSize = 256 << 10

// dictionaryMaxBytes is the size past which a column chunk's dictionary stops growing and the
// rest of its row group is written PLAIN (as package sink does).
const dictionaryMaxBytes = 1 << 20

// createdBy is written into every file instead of a version, so that the same rows give the same
// bytes whichever sparkify wrote them; Meta.Version says which one did.
const createdBy = "sparkify-state"

// writerOptions are the Parquet writer's settings, every one explicit so that the same rows
// always give the same bytes: Snappy, DATA_PAGE (v1) pages, strings dictionary-encoded (paths and
// pages repeat on every row), numbers and booleans PLAIN (parquet-go's default for them, on
// which the reader's bound on rows, maxRows, relies), no page statistics (nobody filters on them: the state is read whole).
func writerOptions(schema *parquet.Schema) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy(createdBy, "", ""),
		parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary),
		parquet.DictionaryMaxBytes(dictionaryMaxBytes),
		parquet.PageBufferSize(pageBufferSize),
		parquet.DataPageStatistics(false),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
	}
	for _, path := range schema.Columns() {
		opts = append(opts, parquet.SkipPageBounds(path...))
	}
	return opts
}

// hashWriter counts and hashes what goes through it to the store's writer.
type hashWriter struct {
	w    io.Writer
	h    hash.Hash
	n    int64
	werr error // the first error of w: the store's errors name the object
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	if err != nil && hw.werr == nil {
		hw.werr = err
	}
	return n, err
}

// writeObject writes one object of the state through write, and returns its entry for Meta.
// Nothing is visible under the name unless every byte was written (storage.Store.Create).
func writeObject(ctx context.Context, st storage.Store, dir, rel string, write func(io.Writer) error) (File, error) {
	if err := checkDir(dir); err != nil {
		return File{}, err
	}
	if err := ctx.Err(); err != nil {
		return File{}, err
	}
	name := join(dir, rel)
	out, err := st.Create(ctx, name)
	if err != nil {
		return File{}, err
	}
	buf := bufio.NewWriterSize(out, 64<<10)
	hw := &hashWriter{w: buf, h: sha256.New()}
	err = write(hw)
	if err == nil {
		err = buf.Flush()
	}
	if err != nil {
		out.Abort()
		if hw.werr != nil {
			return File{}, hw.werr
		}
		return File{}, fmt.Errorf("write %s: %w", st.Location(name), err)
	}
	if err := out.Close(); err != nil {
		return File{}, err
	}
	return File{Name: rel, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))}, nil
}

// writeParquet writes n rows as a Parquet file; fill converts row i. Rows are converted one row
// group at a time, so only one row group's rows are held twice.
func writeParquet[R any](ctx context.Context, w io.Writer, n int, fill func(i int, r *R)) error {
	pw := parquet.NewGenericWriter[R](w, writerOptions(parquet.SchemaOf(new(R)))...)
	buf := make([]R, 0, min(n, rowGroupRows))
	for start := 0; start < n; start += rowGroupRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:min(rowGroupRows, n-start)]
		for i := range buf {
			fill(start+i, &buf[i]) // sets every field
		}
		if _, err := pw.Write(buf); err != nil {
			return err
		}
		// One row group per batch: the file's shape depends only on the number of rows.
		if err := pw.Flush(); err != nil {
			return err
		}
	}
	return pw.Close()
}

// encodeParquet returns the Parquet file of n rows.
func encodeParquet[R any](n int, fill func(i int, r *R)) ([]byte, error) {
	var b bytes.Buffer
	err := writeParquet(context.Background(), &b, n, fill)
	return b.Bytes(), err
}
