package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// line is one line of an input as split should report it.
type line struct {
	no   int
	off  int64
	text string // without its newline; for a long line, its first bytes
	size int64  // for a long line, its size
}

// wantLines splits data the simple way: every line with its number and offset.
func wantLines(data []byte) []line {
	var out []line
	off := int64(0)
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		out = append(out, line{no: i + 1, off: off, text: string(bytes.TrimSuffix(l, []byte("\n")))})
		off += int64(len(l))
	}
	return out
}

// runSplit splits data read through wrap with a buffer of maxLine+1 bytes and returns the lines
// of its blocks and its long lines, checking each block on the way.
func runSplit(t *testing.T, data []byte, maxLine int, wrap func(io.Reader) io.Reader) (lines, long []line) {
	t.Helper()
	size, err := split(context.Background(), wrap(bytes.NewReader(data)), make([]byte, maxLine+1), maxLine, func(b Block) {
		if len(b.Data) == 0 || len(b.Data) > maxLine+1 {
			t.Fatalf("block of %d bytes", len(b.Data))
		}
		if !bytes.Equal(b.Data, data[b.Offset:b.Offset+int64(len(b.Data))]) {
			t.Fatalf("block at %d: not the input's bytes", b.Offset)
		}
		if want := 1 + bytes.Count(data[:b.Offset], []byte("\n")); b.FirstLine != want {
			t.Fatalf("block at %d: first line %d, want %d", b.Offset, b.FirstLine, want)
		}
		if b.Lines != bytes.Count(b.Data, []byte("\n")) {
			t.Fatalf("block at %d: %d lines counted", b.Offset, b.Lines)
		}
		if b.Data[len(b.Data)-1] != '\n' && (!b.EOF || b.Offset+int64(len(b.Data)) != int64(len(data))) {
			t.Fatalf("block at %d does not end with a line", b.Offset)
		}
		for _, l := range wantLines(b.Data) {
			lines = append(lines, line{no: b.FirstLine + l.no - 1, off: b.Offset + l.off, text: l.text})
		}
	}, func(no int, off, size int64, head []byte) {
		long = append(long, line{no: no, off: off, text: string(head), size: size})
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(data)) {
		t.Fatalf("size %d, want %d", size, len(data))
	}
	return lines, long
}

// TestSplitMatchesWholeFile: on random inputs, read in pieces of every size, split hands over
// every line of at most maxLine bytes whole, at its exact line number and offset, and every
// longer line (but a blank one) as one long line with its size: what the decoder saw when it was
// given the whole file, less the long lines.
func TestSplitMatchesWholeFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	wraps := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for i := range 300 {
		maxLine := 1 + rng.IntN(40)
		var b bytes.Buffer
		for range rng.IntN(30) {
			switch rng.IntN(6) {
			case 0:
				b.WriteString(strings.Repeat("x", maxLine+1+rng.IntN(3*maxLine))) // long
			case 1:
				b.WriteString(strings.Repeat(" ", maxLine+1+rng.IntN(3*maxLine))) // long and blank
			case 2:
				b.WriteString(strings.Repeat("y", maxLine)) // the longest that fits
			case 3:
				b.WriteString("\r")
			default:
				b.WriteString(strings.Repeat("z", rng.IntN(maxLine+1)))
			}
			if rng.IntN(5) > 0 {
				b.WriteByte('\n')
			}
		}
		data := b.Bytes()
		var want, wantLong []line
		for _, l := range wantLines(data) {
			switch {
			case len(l.text) <= maxLine:
				want = append(want, l)
			case !blank([]byte(l.text)):
				l.size = int64(len(l.text))
				l.text = l.text[:min(len(l.text), RawHeadSize, maxLine+1)] // the head is cut from one buffer
				wantLong = append(wantLong, l)
			}
		}
		for name, wrap := range wraps {
			lines, long := runSplit(t, data, maxLine, wrap)
			if fmt.Sprint(lines) != fmt.Sprint(want) || fmt.Sprint(long) != fmt.Sprint(wantLong) {
				t.Fatalf("input %d (%q, max %d), read %s:\ngot  %v %v\nwant %v %v", i, data, maxLine, name, lines, long, want, wantLong)
			}
		}
	}
}

// gz compresses data.
func gz(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// TestTooLarge: a line over MaxLineSize and a song file over MaxSongFileSize are each one
// too_large reject with their place, size and first bytes; the lines around the long one are
// read at their places.
func TestTooLarge(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("é", MaxLineSize) // 2 bytes each: a UTF-8 sequence is cut at RawHeadSize
	events := []byte("{\"a\":1}\n" + long + "\r\n{\"b\":2}")
	bigSong := []byte(`{"song_id":"` + strings.Repeat("s", MaxSongFileSize) + `"}`)
	for name, data := range map[string][]byte{
		"logs/e.json": events, "logs/e.json.gz": gz(events),
		"songs/s.json": bigSong, "songs/s.json.gz": gz(bigSong), "songs/ok.json": []byte(`{"song_id":"x"}`),
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	check := func(r *record.Reject, kind record.Kind, path string, lineNo int, off, size int64, limit int) {
		t.Helper()
		if r.Kind != kind || r.Src != (record.Source{Path: path, Line: lineNo, Offset: off}) || r.Reason != record.ReasonTooLarge ||
			r.FullSize != size || len(r.Raw) > RawHeadSize || len(r.Raw) < RawHeadSize-3 ||
			!strings.Contains(r.Detail, fmt.Sprint(size)) || !strings.Contains(r.Detail, fmt.Sprint(limit)) {
			t.Errorf("got reject %v %v (%d bytes of raw, of %d)", r.Kind, r, len(r.Raw), r.FullSize)
		}
	}

	logs, _ := Resolve(ctx, filepath.Join(dir, "logs"), nil)
	files, err := logs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var got []string
		var rejects []*record.Reject
		size, err := logs.EventLines(ctx, f, func(b Block) {
			got = append(got, fmt.Sprintf("%d@%d:%q", b.FirstLine, b.Offset, b.Data))
		}, func(r *record.Reject) { rejects = append(rejects, r) })
		if err != nil {
			t.Fatal(err)
		}
		want := []string{`1@0:"{\"a\":1}\n"`, fmt.Sprintf(`3@%d:"{\"b\":2}"`, 8+len(long)+2)}
		if fmt.Sprint(got) != fmt.Sprint(want) || size != int64(len(events)) {
			t.Errorf("%s: got blocks %v and size %d, want %v and %d", f.Path, got, size, want, len(events))
		}
		if len(rejects) != 1 {
			t.Fatalf("%s: got %d rejects, want 1", f.Path, len(rejects))
		}
		check(rejects[0], record.KindEvent, f.Path, 2, 8, int64(len(long)+1), MaxLineSize)
		if !strings.HasPrefix(long, string(rejects[0].Raw)) {
			t.Errorf("raw is not the line's start")
		}
	}

	songs, _ := Resolve(ctx, filepath.Join(dir, "songs"), nil)
	files, err = songs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var rejects []*record.Reject
		data, size, err := songs.SongFile(ctx, f, func(r *record.Reject) { rejects = append(rejects, r) })
		if err != nil {
			t.Fatal(err)
		}
		if f.Path == "ok.json" {
			if string(data) != `{"song_id":"x"}` || len(rejects) != 0 {
				t.Errorf("ok.json: got %q and %v", data, rejects)
			}
			continue
		}
		if data != nil || size != int64(len(bigSong)) || len(rejects) != 1 {
			t.Fatalf("%s: got %d bytes of data, size %d and %d rejects; want none, %d and 1", f.Path, len(data), size, len(rejects), len(bigSong))
		}
		check(rejects[0], record.KindSong, f.Path, 1, 0, int64(len(bigSong)), MaxSongFileSize)
	}
}

// endless is a store whose objects never end: lines of zeros, for ever.
type endless struct{ storage.Store }

func (endless) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(endlessReader{}), nil
}

type endlessReader struct{}

func (endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
		if i%100 == 99 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}

// TestReadingStopsWhenCancelled: a cancelled context stops a file's reading within a block, and
// the error is the cancellation's, not an input error.
func TestReadingStopsWhenCancelled(t *testing.T) {
	st, _ := storage.NewLocal(t.TempDir())
	r := &Root{Store: endless{st}, Display: "endless"}
	for _, name := range []string{"e.json", "e.json.long"} {
		ctx, cancel := context.WithCancel(context.Background())
		blocks := 0
		done := make(chan error, 1)
		go func() {
			var err error
			if name == "e.json" {
				_, err = r.EventLines(ctx, File{Name: name, Path: name}, func(Block) {
					if blocks++; blocks == 3 {
						cancel()
					}
				}, func(*record.Reject) {})
			} else {
				cancel()
				_, _, err = r.SongFile(ctx, File{Name: name, Path: name}, func(*record.Reject) {})
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrInput) {
				t.Errorf("%s: got %v, want context.Canceled only", name, err)
			}
			if blocks > 3 {
				t.Errorf("%s: %d blocks read after the cancel", name, blocks-3)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still reading 10 s after the cancel", name)
		}
		cancel()
	}
}
