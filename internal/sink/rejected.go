package sink

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// rejectLine is the JSON form of a reject. Raw holds the record's bytes as a JSON string when they
// are UTF-8 (decoding the string gives the bytes back exactly); otherwise RawBase64 holds them.
// For a record too large to be held (too_large), they are only its first bytes: Truncated says
// so and Size gives the record's whole size.
type rejectLine struct {
	Input     string `json:"input"`
	Source    string `json:"source"`
	Line      int    `json:"line"`
	Offset    int64  `json:"offset"`
	Reason    string `json:"reason"`
	Field     string `json:"field,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Raw       string `json:"raw,omitempty"`
	RawBase64 string `json:"raw_base64,omitempty"`
}

// Rejects writes rejects, in the order given, as JSON lines to name. It writes nothing when there
// are none. Its folder is one unpartitioned part (Result.Parts has one entry, named "").
func Rejects(ctx context.Context, st storage.Store, name string, rejects []*record.Reject) (Result, error) {
	res := Result{Table: name, Parts: []Part{{}}}
	if len(rejects) == 0 {
		return res, nil
	}
	w, err := st.Create(ctx, name)
	if err != nil {
		return res, err
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range rejects {
		l := rejectLine{
			Input: string(r.Kind), Source: r.Src.Path, Line: r.Src.Line, Offset: r.Src.Offset,
			Reason: string(r.Reason), Field: r.Field, Detail: r.Detail,
		}
		if r.FullSize > int64(len(r.Raw)) {
			l.Truncated, l.Size = true, r.FullSize
		}
		if utf8.Valid(r.Raw) {
			l.Raw = string(r.Raw)
		} else {
			l.RawBase64 = base64.StdEncoding.EncodeToString(r.Raw)
		}
		if err := enc.Encode(&l); err != nil {
			w.Abort()
			return res, fmt.Errorf("write %s: %w", st.Location(name), err)
		}
	}
	if err := bw.Flush(); err != nil {
		w.Abort()
		return res, fmt.Errorf("write %s: %w", st.Location(name), err)
	}
	if err := w.Close(); err != nil {
		return res, err
	}
	res.Rows, res.Files, res.Bytes, res.Names = int64(len(rejects)), 1, cw.n, []string{name}
	res.Parts[0] = Part{Rows: res.Rows, Files: res.Files, Bytes: res.Bytes, Names: res.Names, Sizes: []int64{cw.n}}
	return res, nil
}
