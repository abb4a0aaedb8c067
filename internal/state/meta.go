package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sparkify/lake/internal/storage"
)

// WriteMeta writes m as meta/state.json under dir, after the files it lists. It writes Format
// whatever m.Format says and Plays sorted by partition and day, without changing m. It refuses a Meta that ReadMeta would reject (a file listed twice, a plays file without its
// span or a span without its file, text that is not UTF-8, which JSON would silently replace), so
// that what it writes can be read back.
func WriteMeta(ctx context.Context, st storage.Store, dir string, m *Meta) (File, error) {
	c := *m
	c.Format = Format
	c.Plays = slices.Clone(m.Plays)
	slices.SortFunc(c.Plays, compareSpans)
	if err := checkMeta(&c); err != nil {
		return File{}, fmt.Errorf("state: invalid meta: %w", err)
	}
	data, err := encodeMeta(&c)
	if err != nil {
		return File{}, fmt.Errorf("state: %w", err)
	}
	return writeObject(ctx, st, dir, MetaFile, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// encodeMeta is the one encoding of a Meta: indented JSON in the fields' order, map keys sorted.
func encodeMeta(m *Meta) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// maxMetaSize bounds what ReadMeta reads: a meta lists a few thousand files and inputs, far
// below this; more is not a state.
const maxMetaSize = 256 << 20

// ReadMeta reads the Meta of the state under dir. It returns an error wrapping ErrNoState when
// there is none, ErrIncompatible when it has another Format, and ErrCorrupt when it is not
// exactly what WriteMeta writes: invalid JSON, a field missing or unknown, a file listed twice, a
// plays span without its file, or any other change made by hand.
func ReadMeta(ctx context.Context, st storage.Store, dir string) (*Meta, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	name := join(dir, MetaFile)
	loc := st.Location(name)
	r, err := st.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", loc, ErrNoState)
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxMetaSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetaSize {
		return nil, &CorruptError{Location: loc, Reason: fmt.Sprintf("larger than %d bytes", maxMetaSize)}
	}
	return decodeMeta(data, loc)
}

// decodeMeta decodes and checks the bytes of a meta/state.json found at loc.
func decodeMeta(data []byte, loc string) (*Meta, error) {
	corrupt := func(reason string, err error) error {
		return &CorruptError{Location: loc, Reason: reason, Err: err}
	}
	// The fields as raw text first (one pass over a meta of tens of thousands of loaded files),
	// and of them the format, read leniently: another format may have other fields.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, corrupt("not valid JSON", err)
		}
		return nil, corrupt("not a JSON object", err)
	}
	format, ok := fields["format"]
	if !ok {
		return nil, corrupt("no format field", nil)
	}
	var got int
	if err := json.Unmarshal(format, &got); err != nil {
		return nil, corrupt("format is not a number", err)
	}
	if got != Format {
		return nil, fmt.Errorf("%s: %w: format %d, this sparkify reads format %d (run without --incremental to rebuild it)", loc, ErrIncompatible, got, Format)
	}
	// Every field is written, so every field must be there (null for an empty map or list).
	for _, f := range []string{"format", "version", "rules", "settings", "roots", "loaded", "counters", "tables", "files", "plays"} {
		if _, ok := fields[f]; !ok {
			return nil, corrupt(fmt.Sprintf("no %s field", f), nil)
		}
	}
	m := new(Meta)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, corrupt("not a meta", err)
	}
	if err := checkMeta(m); err != nil {
		return nil, corrupt("invalid", err)
	}
	// Last, the catch-all: the bytes must be those WriteMeta writes for this Meta, which finds
	// a field missing from a listed file or input, a value changed to an equivalent spelling,
	// or text appended after the object.
	canon, err := encodeMeta(m)
	if err != nil {
		return nil, corrupt("cannot be encoded again", err)
	}
	if !bytes.Equal(canon, data) {
		return nil, corrupt("not as sparkify wrote it (edited by hand?)", nil)
	}
	return m, nil
}

// compareSpans orders spans by partition, then day.
func compareSpans(a, b Span) int {
	if c := strings.Compare(a.Partition, b.Partition); c != 0 {
		return c
	}
	return strings.Compare(a.Day, b.Day)
}

// checkMeta checks what JSON cannot: the files and plays spans agree, nothing is listed twice,
// the spans are in the order WriteMeta writes them, and all text is UTF-8, which JSON would
// otherwise change without a word.
func checkMeta(m *Meta) error {
	if m.Format != Format {
		return fmt.Errorf("format %d, want %d", m.Format, Format)
	}
	if !utf8.ValidString(m.Version) || !utf8.ValidString(m.Rules) {
		return errors.New("version or rules is not UTF-8")
	}
	for _, mp := range []map[string]string{m.Settings, m.Roots} {
		for k, v := range mp {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return fmt.Errorf("setting or root %q is not UTF-8", k)
			}
		}
	}
	for k := range m.Counters {
		if !utf8.ValidString(k) {
			return fmt.Errorf("counter %q is not UTF-8", k)
		}
	}
	for t, parts := range m.Tables {
		if !utf8.ValidString(t) {
			return fmt.Errorf("table %q is not UTF-8", t)
		}
		for p, part := range parts {
			if err := checkPart(p, &part); err != nil {
				return fmt.Errorf("table %q partition %q: %w", t, p, err)
			}
		}
	}
	type input struct{ input, path string }
	loaded := make(map[input]bool, len(m.Loaded))
	for i, l := range m.Loaded {
		switch {
		case !utf8.ValidString(l.Input) || !utf8.ValidString(l.Path) || !utf8.ValidString(l.ETag):
			return fmt.Errorf("loaded file %d (%q) is not UTF-8", i, l.Path)
		case l.Size < 0:
			return fmt.Errorf("loaded file %q has size %d", l.Path, l.Size)
		case loaded[input{l.Input, l.Path}]:
			return fmt.Errorf("loaded file %s %q listed twice", l.Input, l.Path)
		}
		loaded[input{l.Input, l.Path}] = true
	}
	files := make(map[string]bool, len(m.Files))
	plays := 0
	for _, f := range m.Files {
		switch {
		case !knownFile(f.Name):
			return fmt.Errorf("%q is not a state file", f.Name)
		case files[f.Name]:
			return fmt.Errorf("%q listed twice", f.Name)
		case f.Size < 0:
			return fmt.Errorf("%q has size %d", f.Name, f.Size)
		case !isSHA256(f.SHA256):
			return fmt.Errorf("%q has SHA-256 %q", f.Name, f.SHA256)
		}
		files[f.Name] = true
		if _, _, ok := parsePlaysFile(f.Name); ok {
			plays++
		}
	}
	spans := make(map[string]bool, len(m.Plays))
	for i, s := range m.Plays {
		if err := ValidPartition(s.Partition); err != nil {
			return fmt.Errorf("plays span %d: %w", i, err)
		}
		if err := ValidDay(s.Day); err != nil {
			return fmt.Errorf("plays span %d: %w", i, err)
		}
		name := PlaysFile(s.Partition, s.Day)
		switch {
		case s.Rows < 1:
			return fmt.Errorf("plays of %s %s: %d rows, want at least 1", s.Partition, s.Day, s.Rows)
		case s.MinSession > s.MaxSession:
			return fmt.Errorf("plays of %s %s: sessions from %d to %d", s.Partition, s.Day, s.MinSession, s.MaxSession)
		case spans[name]:
			return fmt.Errorf("plays of %s %s listed twice", s.Partition, s.Day)
		case i > 0 && compareSpans(m.Plays[i-1], s) > 0:
			return fmt.Errorf("plays of %s %s listed after %s %s", s.Partition, s.Day, m.Plays[i-1].Partition, m.Plays[i-1].Day)
		case !files[name]:
			return fmt.Errorf("plays of %s %s have no file %q", s.Partition, s.Day, name)
		}
		spans[name] = true
	}
	if plays != len(spans) {
		for _, f := range m.Files {
			if _, _, ok := parsePlaysFile(f.Name); ok && !spans[f.Name] {
				return fmt.Errorf("plays file %q has no span", f.Name)
			}
		}
	}
	return nil
}

// checkPart checks the figures of a table's partition or file group, whose key in Meta.Tables
// is key.
func checkPart(key string, part *Part) error {
	switch {
	case !utf8.ValidString(key):
		return errors.New("not UTF-8")
	case part.Rows < 0 || part.Files < 0 || part.Bytes < 0 || part.Matched < 0:
		return fmt.Errorf("negative figures %+v", *part)
	case part.Group == "":
		if part.Partition != "" || len(part.Names) != 0 {
			return fmt.Errorf("partition %q or file names without a group", part.Partition)
		}
		return nil
	case key != part.Partition+"/"+part.Group: // so both are UTF-8, as key is
		return fmt.Errorf("key is not %q, the group's partition/group", part.Partition+"/"+part.Group)
	case len(part.Names) != part.Files:
		return fmt.Errorf("%d files, %d names", part.Files, len(part.Names))
	}
	names := make(map[string]bool, len(part.Names))
	for _, n := range part.Names {
		switch {
		case !utf8.ValidString(n):
			return fmt.Errorf("file name %q is not UTF-8", n)
		case n == "." || !fs.ValidPath(n) || strings.Contains(n, `\`):
			return fmt.Errorf("file name %q is not a relative slash-separated path", n)
		case names[n]:
			return fmt.Errorf("file %q listed twice", n)
		}
		names[n] = true
	}
	return nil
}

// knownFile reports whether name is one of the state's data files.
func knownFile(name string) bool {
	switch name {
	case SongsFile, UsersFile, IDsFile, RejectsFile:
		return true
	}
	_, _, ok := parsePlaysFile(name)
	return ok
}

func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readChecked reads a data file of the state whole and checks it against its entry in m: its
// size (read no further than one byte past it, so a huge stray object is not loaded) and its
// SHA-256. A file m does not list, or that is missing, is corrupt too: m lists every file the
// state has.
func readChecked(ctx context.Context, st storage.Store, dir string, m *Meta, rel string) ([]byte, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	name := join(dir, rel)
	loc := st.Location(name)
	f, ok := m.File(rel)
	if !ok {
		return nil, &CorruptError{Location: loc, Reason: "not listed in " + MetaFile}
	}
	r, err := st.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &CorruptError{Location: loc, Reason: "missing", Err: err}
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	buf := bytes.NewBuffer(make([]byte, 0, min(f.Size, 64<<20)+1))
	n, err := io.Copy(io.MultiWriter(buf, h), io.LimitReader(r, f.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", loc, err)
	}
	if n > f.Size {
		return nil, &CorruptError{Location: loc, Reason: fmt.Sprintf("larger than its %d bytes", f.Size)}
	}
	if n != f.Size {
		return nil, &CorruptError{Location: loc, Reason: fmt.Sprintf("size %d, want %d", n, f.Size)}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return nil, &CorruptError{Location: loc, Reason: fmt.Sprintf("SHA-256 %s, want %s", sum, f.SHA256)}
	}
	return buf.Bytes(), nil
}
