// Package spill keeps a run's plays on local disk when they do not fit in memory: a folder of
// files, each an append-only sequence of plays in a compact binary form, written by many
// goroutines and read back once, in full, by one.
//
// The files live only as long as the run that writes them: they are never read by another
// program or another version, so the form has no version and no schema. It is still checked as it
// is read, because a disk can fail: a damaged file is an error naming it, never a wrong row.
package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/sparkify/lake/internal/record"
)

// Dir is a run's spill folder.
type Dir struct {
	path string
}

// Create makes a new spill folder inside parent ("" means os.TempDir()).
func Create(parent string) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	path, err := os.MkdirTemp(parent, "sparkify-spill-")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &Dir{path: path}, nil
}

// Path is the folder's path, for messages.
func (d *Dir) Path() string { return d.path }

// Remove removes the folder and every file in it.
func (d *Dir) Remove() error { return os.RemoveAll(d.path) }

// Create creates the file name in the folder, for writing.
func (d *Dir) Create(name string) (*File, error) {
	path := filepath.Join(d.path, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spill to %s: %w", d.path, err)
	}
	return &File{f: f, w: bufio.NewWriterSize(f, 64<<10), dir: d.path}, nil
}

// File is a spill file being written. Write may be called from many goroutines: each call's
// bytes stay together.
type File struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	dir string
	n   int64
	err error
	// mapped is the block Map returned when it is the file mapped into memory; nil until then
	// and after Release.
	mapped []byte
}

// Write appends p, whole records only.
func (f *File) Write(p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, err := f.w.Write(p); err != nil {
		f.err = f.fail(err)
		return f.err
	}
	f.n += int64(len(p))
	return nil
}

// Size is the number of bytes written.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// fail names the folder in a write error: a full disk is the likely cause, and the folder is
// what the user can change (--temp-dir).
func (f *File) fail(err error) error {
	return fmt.Errorf("spill to %s: %w", f.dir, err)
}

// ReadAll flushes what was written and returns the whole file. The file must not be written
// any more. Its plays are then taken one by one with Next and View, in place: a file is read
// back as one pointer-free block, which costs the garbage collector nothing to hold.
func (f *File) ReadAll() ([]byte, error) {
	return f.read(false)
}

// Map is ReadAll that, where the system can, returns the file mapped into memory (mapFile)
// rather than a copy: the data is then the page cache's own, with no heap to allocate and
// fill, which at M took a tenth of the run's processor time in the merge. It is valid until
// Release, which the caller must call once it, and every string that View made from it, are no
// longer used; Remove may come before.
//
// A mapped file that the disk fails to read faults on access instead of returning an error: a
// caller reads it with debug.SetPanicOnFault set, in the one goroutine that holds the data, and
// turns the fault into an error (see Fault).
func (f *File) Map() ([]byte, error) {
	return f.read(true)
}

func (f *File) read(mapped bool) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if err := f.w.Flush(); err != nil {
		f.err = f.fail(err)
		return nil, f.err
	}
	if f.mapped != nil {
		return f.mapped, nil
	}
	if mapped {
		if data, ok := mapFile(f.f, f.n); ok {
			f.mapped = data
			return data, nil
		}
	}
	data := make([]byte, f.n)
	if _, err := f.f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("spill: read %s: %w", f.f.Name(), err)
	}
	return data, nil
}

// Fault turns what recover returned, after a fault in reading a mapped file with
// debug.SetPanicOnFault set, into an error naming the file; it returns nil for any other
// panic, which the caller should panic with again.
func (f *File) Fault(r any) error {
	if e, ok := r.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("spill: read %s: %w: a page could not be read (fault at %#x)", f.f.Name(), ErrDamaged, e.Addr())
	}
	return nil
}

// Release gives back the memory of the block Map returned, which must not be used after.
func (f *File) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mapped != nil {
		unmap(f.mapped)
		f.mapped = nil
	}
}

// Name is the file's path, for messages.
func (f *File) Name() string { return f.f.Name() }

// Close closes the file; its content stays until the folder is removed.
func (f *File) Close() error { return f.f.Close() }

// Remove closes the file and removes it, giving its disk space back before the run ends.
func (f *File) Remove() error {
	_ = f.f.Close()
	return os.Remove(f.f.Name())
}

// The fields of a play record: a length, then the numbers as varints, the flags, the length if
// any, and the strings, each a length and its bytes.
const (
	flagHasUser = 1 << iota
	flagHasLength
)

// AppendPlay appends to b the record of the play e, with the catalog song it was matched to
// (songID and artistID, "" for none). Only the fields a play's row and its deduplication need
// are kept: a spilled play is not a user's latest event (users are folded in memory).
func AppendPlay(b []byte, e *record.Event, songID, artistID string) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // the record's length, set below
	b = binary.AppendVarint(b, e.TS)
	b = binary.AppendVarint(b, e.SessionID)
	b = binary.AppendVarint(b, int64(e.ItemInSession))
	b = binary.AppendVarint(b, e.UserID)
	b = binary.AppendVarint(b, int64(e.Src.Line))
	b = binary.AppendVarint(b, e.Src.Offset)
	var flags byte
	if e.HasUser {
		flags |= flagHasUser
	}
	if e.HasLength {
		flags |= flagHasLength
	}
	b = append(b, flags)
	if e.HasLength {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e.Length))
	}
	for _, s := range [...]string{e.Src.Path, e.Artist, e.Song, e.Level, e.Location, e.UserAgent, songID, artistID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// ErrDamaged reports a spill file that does not read back as it was written.
var ErrDamaged = errors.New("damaged spill file")

// Next splits the first record off data: rec is a play for View, rest what follows. It fails
// with ErrDamaged when data does not start with a whole record.
func Next(data []byte) (rec, rest []byte, err error) {
	if len(data) < 4 {
		return nil, nil, fmt.Errorf("%w: %d bytes where a record starts", ErrDamaged, len(data))
	}
	n := binary.LittleEndian.Uint32(data)
	if uint64(n) > uint64(len(data)-4) {
		return nil, nil, fmt.Errorf("%w: a record of %d bytes where %d are left", ErrDamaged, n, len(data)-4)
	}
	return data[:4+n], data[4+n:], nil
}

// View decodes the play rec into e (its Page is NextSong) and returns its match. The text of e,
// songID and artistID is not copied: it points into rec, which must not change while they are in
// use (spilled data is written once and then only read).
func View(rec []byte, e *record.Event) (songID, artistID string, err error) {
	d := decoder{b: rec[min(4, len(rec)):]}
	h := d.head()
	*e = record.Event{Page: record.PageNextSong, TS: h.TS, SessionID: h.SessionID, ItemInSession: h.ItemInSession, UserID: h.UserID}
	e.Src.Line = int(d.varint())
	e.Src.Offset = d.varint()
	flags := d.byte()
	e.HasUser = flags&flagHasUser != 0
	if flags&flagHasLength != 0 {
		e.HasLength = true
		e.Length = math.Float64frombits(d.uint64())
	}
	var strs [8]string
	for i := range strs {
		if b := d.bytes(); len(b) > 0 {
			strs[i] = unsafe.String(&b[0], len(b))
		}
	}
	if d.bad || len(d.b) != 0 || len(rec) < 4 {
		return "", "", fmt.Errorf("%w: a record that does not decode", ErrDamaged)
	}
	e.Src.Path, e.Artist, e.Song, e.Level, e.Location, e.UserAgent = strs[0], strs[1], strs[2], strs[3], strs[4], strs[5]
	return strs[6], strs[7], nil
}

// Head is the front of a play record: its deduplication key and start time, all a merge needs to
// choose a play's winner without decoding its text.
type Head struct {
	TS, SessionID int64
	ItemInSession int32
	UserID        int64
}

// ViewHead decodes the head of the play rec. Only the head is checked: a record whose head
// decodes but whose rest is damaged fails in View, which every play that is kept goes through.
func ViewHead(rec []byte) (Head, error) {
	d := decoder{b: rec[min(4, len(rec)):]}
	h := d.head()
	if d.bad || len(rec) < 4 {
		return Head{}, fmt.Errorf("%w: a record that does not decode", ErrDamaged)
	}
	return h, nil
}

// head takes a record's head, the numbers AppendPlay writes first.
func (d *decoder) head() Head {
	return Head{TS: d.varint(), SessionID: d.varint(), ItemInSession: int32(d.varint()), UserID: d.varint()}
}

// AppendMatched appends to b the play rec, a record of AppendPlay without a match, with the
// match songID and artistID: the bytes of the play are copied, not decoded again.
func AppendMatched(b, rec []byte, songID, artistID string) []byte {
	start := len(b)
	b = append(b, rec[:len(rec)-2]...) // the two empty strings of "no match"
	for _, s := range [...]string{songID, artistID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// decoder takes fields off the front of a record; bad is set, and zero values returned, once a
// field does not fit.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.bad, d.b = true, nil
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.bad, d.b = true, nil
		return nil
	}
	s := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return s
}
