// Package source turns the input roots a user names — a folder, a glob, a single file, a .zip
// archive or the built-in sample — into an ordered list of input files, and streams their bytes.
//
// It hides where the bytes live behind storage.Store and undoes .gz compression, so the decoders
// only ever see plain JSON. It does not decode anything, but it holds no more of a file than
// its limits allow (MaxLineSize, MaxSongFileSize): a record over them becomes a too_large
// reject. Every error it returns about an input matches ErrInput.
package source

import (
	"archive/zip"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sparkify/lake/internal/storage"
)

// Root is a resolved input root.
type Root struct {
	Store   storage.Store
	Prefix  string // objects below this prefix are candidates
	Pattern string // a glob on the names relative to Prefix; "" takes every JSON file
	Display string // how the user named the root
	close   func() error
}

// Close releases what the root holds open (a .zip archive).
func (r *Root) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close()
}

// File is one input file.
type File struct {
	Name string // object name in the root's store
	Path string // name relative to the root: what records cite and what orders them
	Size int64  // stored (possibly compressed) size
	// Version is the store's identity of this content (storage.Object.Version): an incremental
	// run compares it with what it loaded before.
	Version string
}

// ErrInput is matched (errors.Is) by every error this package returns about an input: a path or
// bucket that is missing or forbidden, a listing that failed, a file that cannot be read or
// decompressed (ErrUnreadable), a root with no input file (ErrNoInput). Errors about the output
// (OpenOutput), about usage (ErrUnsupported, a bad glob, a bad URL) and those of a cancelled
// context do not match it.
var ErrInput = errors.New("input error")

// ErrNoInput is returned when a root holds no input file. It matches ErrInput.
var ErrNoInput error = &inputSentinel{"no .json or .json.gz files"}

// ErrUnreadable is returned, with the cause, when an input file cannot be read or decompressed.
// It matches ErrInput.
var ErrUnreadable error = &inputSentinel{"unreadable input file"}

// inputSentinel is a sentinel error with its own message that also matches ErrInput.
type inputSentinel struct{ msg string }

func (e *inputSentinel) Error() string { return e.msg }
func (e *inputSentinel) Unwrap() error { return ErrInput }

// inputError marks an error about an input, keeping its message.
type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{e.err, ErrInput} }

// inputErr marks err as an error about an input, unless ctx was cancelled: then the failure is
// the cancellation's.
func inputErr(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrInput) || ctx.Err() != nil {
		return err
	}
	return &inputError{err}
}

// ErrUnsupported is returned for roots this build cannot read.
var ErrUnsupported = errors.New("not supported")

// Sample returns a root over an embedded file system.
func Sample(fsys fs.FS, display string) *Root {
	return &Root{Store: storage.NewFS(fsys, display), Display: display}
}

// OpenInput opens an input root as the user gave it; "" is the built-in dataset builtin returns.
func OpenInput(ctx context.Context, spec string, builtin func() fs.FS, display string, remote Remote) (*Root, error) {
	if spec == "" {
		return Sample(builtin(), display), nil
	}
	return Resolve(ctx, spec, remote)
}

// OpenOutput opens an output location: a local folder, or a URL that remote opens.
func OpenOutput(spec string, remote Remote) (storage.Store, error) {
	if scheme, _, ok := strings.Cut(spec, "://"); ok {
		if remote == nil {
			return nil, fmt.Errorf("%s: scheme %q is %w (use a local path)", spec, scheme, ErrUnsupported)
		}
		return remote(spec) // which refuses the schemes it does not serve
	}
	return storage.NewLocal(spec)
}

// Remote opens the store rooted at a URL (s3://bucket/prefix). It is how the caller, which owns
// the clients and their credentials, lends them to Resolve.
type Remote func(url string) (storage.Store, error)

// Resolve interprets what a user gave as an input root: a local path, or a URL that remote
// opens (nil refuses URLs).
func Resolve(ctx context.Context, spec string, remote Remote) (*Root, error) {
	if scheme, _, ok := strings.Cut(spec, "://"); ok {
		if remote == nil {
			return nil, fmt.Errorf("%s: scheme %q is %w (use a local path)", spec, scheme, ErrUnsupported)
		}
		return resolveRemote(ctx, spec, remote)
	}
	if hasMeta(spec) {
		return resolveGlob(ctx, spec)
	}
	info, err := os.Stat(spec)
	if err != nil {
		return nil, inputErr(ctx, statError(spec, err))
	}
	switch {
	case info.IsDir():
		st, err := storage.NewLocal(spec)
		if err != nil {
			return nil, err
		}
		return &Root{Store: st, Display: spec}, nil
	case strings.EqualFold(filepath.Ext(spec), ".zip"):
		zr, err := zip.OpenReader(spec)
		if err != nil {
			return nil, inputErr(ctx, fmt.Errorf("%s: %w", spec, err))
		}
		return &Root{Store: storage.NewFS(zr, spec), Display: spec, close: zr.Close}, nil
	default:
		st, err := storage.NewLocal(filepath.Dir(spec))
		if err != nil {
			return nil, err
		}
		// A file named on its own is read whatever its extension: the user chose it.
		return &Root{Store: st, Prefix: filepath.Base(spec), Pattern: filepath.Base(spec), Display: spec}, nil
	}
}

// statError says what is wrong with a path the user gave, without the system call's name.
func statError(path string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", path, pe.Err)
	}
	return err
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// resolveRemote resolves a URL: a prefix, a glob (split like a local one at its first wildcard)
// or a single object.
func resolveRemote(ctx context.Context, spec string, remote Remote) (*Root, error) {
	scheme, rest, _ := strings.Cut(spec, "://")
	if strings.EqualFold(path.Ext(rest), ".zip") {
		return nil, fmt.Errorf("%s: a .zip archive must be a local file: %w", spec, ErrUnsupported)
	}
	if static, pattern, err := splitGlob(strings.TrimRight(rest, "/")); err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	} else if pattern != "" && static != "" {
		st, err := remote(scheme + "://" + static)
		if err != nil {
			return nil, err
		}
		return &Root{Store: st, Pattern: pattern, Display: spec}, nil
	}
	parts := strings.Split(strings.TrimRight(rest, "/"), "/")
	st, err := remote(spec)
	if err != nil {
		return nil, err
	}
	if len(parts) > 1 {
		// A key that is an object is a single file, read whatever its name.
		parent, err := remote(scheme + "://" + strings.Join(parts[:len(parts)-1], "/"))
		if err != nil {
			return nil, err
		}
		base := parts[len(parts)-1]
		if _, err := parent.Stat(ctx, base); err == nil {
			return &Root{Store: parent, Prefix: base, Pattern: base, Display: spec}, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, inputErr(ctx, err)
		}
	}
	return &Root{Store: st, Display: spec}, nil
}

// splitGlob cuts a slash-separated path at its first segment with a wildcard: the segments
// before it name where to look, the rest is a pattern on the names found there. pattern is ""
// when there is no wildcard.
func splitGlob(p string) (static, pattern string, err error) {
	parts := strings.Split(p, "/")
	i := slices.IndexFunc(parts, hasMeta)
	if i < 0 {
		return p, "", nil
	}
	static, pattern = strings.Join(parts[:i], "/"), strings.Join(parts[i:], "/")
	if _, err := path.Match(pattern, ""); err != nil {
		return "", "", fmt.Errorf("bad pattern: %w", err)
	}
	return static, pattern, nil
}

// resolveGlob splits a glob into the folder before its first wildcard, which becomes the store's
// root, and the pattern after it.
func resolveGlob(ctx context.Context, spec string) (*Root, error) {
	dir, pattern, err := splitGlob(filepath.ToSlash(spec))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	if dir == "" && strings.HasPrefix(spec, "/") {
		dir = "/"
	} else if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, inputErr(ctx, statError(dir, err))
	}
	st, err := storage.NewLocal(dir)
	if err != nil {
		return nil, err
	}
	return &Root{Store: st, Pattern: pattern, Display: spec}, nil
}

// isJSON reports whether a name is an input file by its extension.
func isJSON(name string) bool {
	name = strings.ToLower(name)
	return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz")
}

// hidden reports whether any segment of a relative name starts with "." or "_": like Hadoop's
// input formats, such files (e.g. a zip's __MACOSX/ folder, _SUCCESS markers) are not data.
func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}

// Reasons an entry below a root is not read, besides storage's Skip* (symlink to a folder, broken
// symlink, not a regular file).
const (
	SkipNotJSON = "not_json" // the name ends neither in .json nor in .json.gz
	SkipHidden  = "hidden"   // a segment of the name starts with "." or "_"
)

// Skipped is an entry below a root that is not read, and why.
type Skipped struct {
	Name   string // name in the root's store, like File.Name
	Path   string // relative to the root, like File.Path
	Reason string // SkipNotJSON, SkipHidden or one of storage's Skip* reasons
}

// Listing is what a root holds: its input files, sorted by Path, so that "first record wins"
// means the same thing wherever the files are stored, and the entries that are not read, sorted
// by Path too. Entries that a glob does not take are neither: the user left them out.
type Listing struct {
	Files   []File
	Skipped []Skipped
}

// SkippedBy counts the skipped entries by reason; it is nil when there are none.
func (l *Listing) SkippedBy() map[string]int64 {
	if len(l.Skipped) == 0 {
		return nil
	}
	by := map[string]int64{}
	for _, s := range l.Skipped {
		by[s.Reason]++
	}
	return by
}

// classify decides whether an entry (rel, its name relative to the root; skip, why storage cannot
// read it) is an input file; when it is not, why ("" when the root's glob does not take it).
// A name matches a glob when the pattern matches its leading segments, so a pattern that names
// folders takes the JSON files below them.
func (r *Root) classify(rel, skip string) (ok bool, why string) {
	if r.Pattern == "" {
		return inputFile(rel, rel, skip)
	}
	n := strings.Count(r.Pattern, "/") + 1
	segs := strings.Split(rel, "/")
	if len(segs) < n {
		return false, ""
	}
	if ok, _ := path.Match(r.Pattern, strings.Join(segs[:n], "/")); !ok {
		return false, ""
	}
	if len(segs) == n && !hasMeta(r.Pattern) {
		// A single file named by the user is read whatever its name.
		return skip == "", skip
	}
	return inputFile(rel, strings.Join(segs[n-1:], "/"), skip)
}

// inputFile applies the rules on names to an entry that the root's glob takes: tail is the part
// of its name below the glob's folders.
func inputFile(rel, tail, skip string) (bool, string) {
	switch {
	case hidden(tail):
		return false, SkipHidden
	case skip != "":
		return false, skip
	case !isJSON(rel):
		return false, SkipNotJSON
	}
	return true, ""
}

// List returns the root's input files (see Scan).
func (r *Root) List(ctx context.Context) ([]File, error) {
	l, err := r.Scan(ctx)
	return l.Files, err
}

// Scan lists the root: its input files, and the entries below it that are not read. A root with
// no input file is an error wrapping ErrNoInput.
func (r *Root) Scan(ctx context.Context) (Listing, error) {
	var l Listing
	err := r.Store.List(ctx, r.Prefix, func(o storage.Object) error {
		rel := o.Name
		if r.Prefix != "" && r.Pattern == "" {
			rel = strings.TrimPrefix(strings.TrimPrefix(o.Name, r.Prefix), "/")
		}
		if ok, why := r.classify(rel, o.Skip); ok {
			l.Files = append(l.Files, File{Name: o.Name, Path: rel, Size: o.Size, Version: o.Version})
		} else if why != "" {
			l.Skipped = append(l.Skipped, Skipped{Name: o.Name, Path: rel, Reason: why})
		}
		return nil
	})
	if err != nil {
		return Listing{}, inputErr(ctx, err) // stores name the location in their errors
	}
	slices.SortFunc(l.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(l.Skipped, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
	if len(l.Files) == 0 {
		if len(l.Skipped) > 0 {
			return Listing{}, fmt.Errorf("%s: %w; %s", r.Display, ErrNoInput, SkippedText(l.SkippedBy()))
		}
		return Listing{}, fmt.Errorf("%s: %w", r.Display, ErrNoInput)
	}
	return l, nil
}

// skipText says, for people, why entries were skipped.
var skipText = map[string]string{
	SkipNotJSON:                 "not .json",
	SkipHidden:                  "hidden",
	storage.SkipSymlinkToFolder: "symlink to a folder",
	storage.SkipBrokenSymlink:   "broken symlink",
	storage.SkipNotRegular:      "not a regular file",
}

// SkippedText describes skipped entries counted by reason, for people: "skipped 3 entries (2 not
// .json, 1 symlink to a folder)". It is "" when there are none.
func SkippedText(by map[string]int64) string {
	var total int64
	reasons := make([]string, 0, len(by))
	for r, n := range by {
		total += n
		reasons = append(reasons, r)
	}
	if total == 0 {
		return ""
	}
	slices.Sort(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", by[r], cmp.Or(skipText[r], r))
	}
	noun := "entries"
	if total == 1 {
		noun = "entry"
	}
	return fmt.Sprintf("skipped %d %s (%s)", total, noun, strings.Join(parts, ", "))
}
