package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sparkify/lake/internal/record"
)

// The limits on what is held of one input file. Memory does not depend on a file's size: event
// logs are streamed in blocks of whole lines, a line at most MaxLineSize bytes long, and a song
// file is held whole only up to MaxSongFileSize. A record over a limit is read past, not held,
// and becomes one reject, too_large, whose raw bytes are only the record's first RawHeadSize.
const (
	// MaxLineSize is the longest event-log line read, in bytes before its newline (a real line
	// is about 300).
	MaxLineSize = 1 << 20
	// MaxSongFileSize is the largest song file read, decompressed (a real one is about 300 bytes).
	MaxSongFileSize = 16 << 20
	// RawHeadSize is how many of a too_large record's first bytes its reject keeps.
	RawHeadSize = 4 << 10
)

// Block is a run of whole lines of an event-log file, as EventLines hands them over.
type Block struct {
	Data      []byte // whole lines: only the file's last line may lack its "\n"; valid during the call only
	FirstLine int    // the 1-based number of Data's first line in the file
	Offset    int64  // Data's byte offset in the (decompressed) file
	Lines     int    // the newlines in Data
	Stored    int64  // the stored (possibly compressed) bytes of the file read so far
	EOF       bool   // Data ends the file
}

// blockBuffers hold one block each: a line of MaxLineSize bytes and its newline fit.
var blockBuffers = sync.Pool{New: func() any {
	b := make([]byte, MaxLineSize+1)
	return &b
}}

// EventLines streams an event-log file: fn is given its lines in order, in blocks of about 1 MiB
// cut after a newline, with their line numbers and offsets. A line longer than MaxLineSize is
// read past without being held and given to rej as one too_large reject (a line of JSON
// whitespace only, which holds no record, is skipped like a blank line). It returns the file's
// decompressed size. The context is checked between blocks.
func (r *Root) EventLines(ctx context.Context, f File, fn func(Block), rej func(*record.Reject)) (int64, error) {
	in, stored, err := r.open(ctx, f)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	buf := blockBuffers.Get().(*[]byte)
	defer blockBuffers.Put(buf)
	return split(ctx, in, *buf, MaxLineSize, func(b Block) {
		b.Stored = stored.n
		fn(b)
	}, func(line int, off, size int64, head []byte) {
		rej(tooLarge(record.KindEvent, record.Source{Path: f.Path, Line: line, Offset: off}, "line", size, MaxLineSize, head))
	})
}

// SongFile returns the content of a song file, decompressed, and its size. A file over
// MaxSongFileSize is read to its end to count its bytes, without holding them, and given to rej
// as one too_large reject (line 1, offset 0); data is then nil.
func (r *Root) SongFile(ctx context.Context, f File, rej func(*record.Reject)) (data []byte, size int64, err error) {
	in, _, err := r.open(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	data, err = io.ReadAll(io.LimitReader(in, MaxSongFileSize+1))
	n := int64(len(data))
	if err != nil {
		return nil, n, err
	}
	if n <= MaxSongFileSize {
		return data, n, nil
	}
	head := rawHead(data)
	data = nil
	rest, err := discard(ctx, in)
	if err != nil {
		return nil, n + rest, err
	}
	rej(tooLarge(record.KindSong, record.Source{Path: f.Path, Line: 1}, "file", n+rest, MaxSongFileSize, head))
	return nil, n + rest, nil
}

// tooLarge is the reject of a record over a limit, of which only head was kept.
func tooLarge(kind record.Kind, src record.Source, what string, size, limit int64, head []byte) *record.Reject {
	return &record.Reject{
		Kind: kind, Src: src, Reason: record.ReasonTooLarge, Raw: head, FullSize: size,
		Detail: fmt.Sprintf("a %s of %d bytes: the limit is %d; raw holds its first %d bytes", what, size, limit, len(head)),
	}
}

// rawHead copies the first RawHeadSize bytes of b, less a UTF-8 sequence cut at the end, so that
// a head of text stays text.
func rawHead(b []byte) []byte {
	if len(b) > RawHeadSize {
		b = b[:RawHeadSize]
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return bytes.Clone(b)
}

// discard reads in to its end and returns how many bytes it held, checking ctx as it goes.
func discard(ctx context.Context, in io.Reader) (int64, error) {
	buf := blockBuffers.Get().(*[]byte)
	defer blockBuffers.Put(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := in.Read(*buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// split reads in and hands its whole lines to block, in blocks of at most len(buf) bytes; a
// line of more than maxLine bytes (len(buf) must be maxLine+1: a longest line and its newline)
// is read past and given to long with its size and first bytes, unless it holds only JSON
// whitespace.
// Line numbers and offsets are those of the whole input. It returns the input's size.
func split(ctx context.Context, in io.Reader, buf []byte, maxLine int, block func(Block), long func(line int, off, size int64, head []byte)) (int64, error) {
	line, off := 1, int64(0) // of buf[0]
	n := 0                   // bytes held in buf
	for {
		if err := ctx.Err(); err != nil {
			return off, err
		}
		k, err := io.ReadFull(in, buf[n:])
		n += k
		// ReadFull says EOF, or ErrUnexpectedEOF when it read some bytes first; in's own errors
		// are never these (open wraps them).
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return off + int64(n), err
		}
		cut := bytes.LastIndexByte(buf[:n], '\n') + 1
		if eof && n-cut <= maxLine {
			cut = n // the file's last line, without a newline
		}
		if cut > 0 {
			b := Block{Data: buf[:cut], FirstLine: line, Offset: off, EOF: eof && cut == n}
			b.Lines = bytes.Count(b.Data, []byte{'\n'})
			block(b)
			line += b.Lines
			off += int64(cut)
			n = copy(buf, buf[cut:n])
		}
		if eof {
			if n > 0 { // a last line over maxLine, without a newline
				if !blank(buf[:n]) {
					long(line, off, int64(n), rawHead(buf[:n]))
				}
				off += int64(n)
			}
			return off, nil
		}
		if n < len(buf) {
			continue
		}
		// The buffer is full and holds no newline: a line of more than maxLine bytes starts at
		// buf[0].
		// Read on to its newline, keeping only its first bytes.
		head, isBlank, size := rawHead(buf), blank(buf), int64(n)
		n = 0
		for {
			if err := ctx.Err(); err != nil {
				return off + size, err
			}
			k, err := in.Read(buf)
			if i := bytes.IndexByte(buf[:k], '\n'); i >= 0 {
				isBlank = isBlank && blank(buf[:i])
				size += int64(i)
				n = copy(buf, buf[i+1:k])
				if !isBlank {
					long(line, off, size, head)
				}
				line++
				off += size + 1
				if err != nil && err != io.EOF {
					return off, err
				}
				break
			}
			isBlank = isBlank && blank(buf[:k])
			size += int64(k)
			if err == io.EOF {
				if !isBlank {
					long(line, off, size, head)
				}
				return off + size, nil
			}
			if err != nil {
				return off + size, err
			}
		}
	}
}

// blank reports whether b holds only JSON whitespace, as the decoder's blank lines do.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func isGzip(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".gz") }

// open opens an input file for reading, decompressed when its name ends in .gz, and counts the
// stored bytes read. Every error it and its reader return, but io.EOF and those of a cancelled
// ctx, wraps ErrUnreadable and names the file.
func (r *Root) open(ctx context.Context, f File) (io.ReadCloser, *countingReader, error) {
	loc := r.Store.Location(f.Name)
	rc, err := r.Store.Open(ctx, f.Name)
	if err != nil {
		return nil, nil, unreadable(ctx, loc, err)
	}
	counted := &countingReader{r: rc}
	if !isGzip(f.Name) {
		return &fileReader{ctx: ctx, loc: loc, r: counted, close: rc.Close}, counted, nil
	}
	zr, err := gzip.NewReader(counted)
	if err != nil {
		rc.Close()
		return nil, nil, unreadable(ctx, loc, err)
	}
	return &fileReader{ctx: ctx, loc: loc, r: zr, close: func() error { zr.Close(); return rc.Close() }}, counted, nil
}

func unreadable(ctx context.Context, loc string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnreadable, loc, err)
}

// fileReader reads an input file, its errors wrapped by unreadable.
type fileReader struct {
	ctx   context.Context
	loc   string
	r     io.Reader
	close func() error
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF {
		err = unreadable(f.ctx, f.loc, err)
	}
	return n, err
}

func (f *fileReader) Close() error { return f.close() }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// IsCompressed reports whether f is stored compressed: its size is not the size of its content.
func IsCompressed(f File) bool { return isGzip(f.Name) }
