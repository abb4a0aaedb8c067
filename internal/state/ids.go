package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/sparkify/lake/internal/storage"
)

// The id index, ids/ids.bin, is raw binary: every id as an 8-byte little-endian int64, in
// strictly increasing order, and nothing else (no header, no count: the file's size in Meta
// says how many). It holds millions of ids, which a Parquet file would only make slower to read.

// idBatch is how many ids are encoded at a time: 64 KiB a batch.
const idBatch = 8 << 10

// WriteIDs writes the id index, ids/ids.bin under dir, and returns its entry for Meta.Files. The
// ids must be strictly increasing; if they are not, it writes nothing and returns an error.
func WriteIDs(ctx context.Context, st storage.Store, dir string, ids []int64) (File, error) {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return File{}, fmt.Errorf("state: ids not strictly increasing: id %d at %d follows %d", ids[i], i, ids[i-1])
		}
	}
	return writeObject(ctx, st, dir, IDsFile, func(w io.Writer) error {
		buf := make([]byte, 8*min(len(ids), idBatch))
		for start := 0; start < len(ids); start += idBatch {
			if err := ctx.Err(); err != nil {
				return err
			}
			batch := ids[start:min(start+idBatch, len(ids))]
			b := buf[:8*len(batch)]
			for i, id := range batch {
				binary.LittleEndian.PutUint64(b[8*i:], uint64(id))
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadIDs reads the id index of the state m describes, checked against its size and SHA-256 in
// m. A file whose length is not a multiple of 8, or whose ids are not strictly increasing, is
// ErrCorrupt. An empty index reads as nil.
func ReadIDs(ctx context.Context, st storage.Store, dir string, m *Meta) ([]int64, error) {
	data, err := readChecked(ctx, st, dir, m, IDsFile)
	if err != nil {
		return nil, err
	}
	corrupt := func(reason string) error {
		return &CorruptError{Location: st.Location(join(dir, IDsFile)), Reason: reason}
	}
	if len(data)%8 != 0 {
		return nil, corrupt(fmt.Sprintf("%d bytes, not a whole number of 8-byte ids", len(data)))
	}
	if len(data) == 0 {
		return nil, nil
	}
	// One pass, decoding and checking: the file is already in memory, the ids are what is
	// allocated.
	ids := make([]int64, len(data)/8)
	ids[0] = int64(binary.LittleEndian.Uint64(data))
	for i := 1; i < len(ids); i++ {
		data = data[8:]
		id := int64(binary.LittleEndian.Uint64(data))
		if id <= ids[i-1] {
			return nil, corrupt(fmt.Sprintf("ids not strictly increasing: id %d at %d follows %d", id, i, ids[i-1]))
		}
		ids[i] = id
	}
	return ids, nil
}
