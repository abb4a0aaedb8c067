// Package source turns the input roots a user names — a folder, a glob, a single file, a .zip
// archive or the built-in sample — into an ordered list of input files and their bytes.
//
// It hides where the bytes live behind storage.Store and undoes .gz compression, so the decoders
// only ever see plain JSON. It does not decode anything.
package source

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
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
}

// ErrNoInput is returned when a root holds no input file.
var ErrNoInput = errors.New("no .json or .json.gz files")

// ErrUnreadable is returned, with the cause, when an input file cannot be read or decompressed.
var ErrUnreadable = errors.New("unreadable input file")

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
		return resolveGlob(spec)
	}
	info, err := os.Stat(spec)
	if err != nil {
		return nil, statError(spec, err)
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
			return nil, fmt.Errorf("%s: %w", spec, err)
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
			return nil, err
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
func resolveGlob(spec string) (*Root, error) {
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
		return nil, statError(dir, err)
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

// matches applies the root's glob: a name matches when the pattern matches its leading segments,
// so a pattern that names folders takes the JSON files below them.
func (r *Root) matches(rel string) bool {
	if r.Pattern == "" {
		return isJSON(rel) && !hidden(rel)
	}
	n := strings.Count(r.Pattern, "/") + 1
	segs := strings.Split(rel, "/")
	if len(segs) < n {
		return false
	}
	if ok, _ := path.Match(r.Pattern, strings.Join(segs[:n], "/")); !ok {
		return false
	}
	if len(segs) == n && !hasMeta(r.Pattern) {
		return true // a single file named by the user
	}
	return isJSON(rel) && !hidden(strings.Join(segs[n-1:], "/"))
}

// List returns the root's input files sorted by Path, so that "first record wins" means the same
// thing wherever the files are stored. A root with no input file is an error wrapping ErrNoInput.
func (r *Root) List(ctx context.Context) ([]File, error) {
	var files []File
	err := r.Store.List(ctx, r.Prefix, func(o storage.Object) error {
		rel := o.Name
		if r.Prefix != "" && r.Pattern == "" {
			rel = strings.TrimPrefix(strings.TrimPrefix(o.Name, r.Prefix), "/")
		}
		if r.matches(rel) {
			files = append(files, File{Name: o.Name, Path: rel, Size: o.Size})
		}
		return nil
	})
	if err != nil {
		return nil, err // stores name the location in their errors
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: %w", r.Display, ErrNoInput)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// ReadAll returns the whole content of an input file, decompressed when its name ends in .gz.
func (r *Root) ReadAll(ctx context.Context, f File) ([]byte, error) {
	rc, err := r.Store.Open(ctx, f.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreadable, r.Store.Location(f.Name), err)
	}
	defer rc.Close()
	var in io.Reader = rc
	if strings.HasSuffix(strings.ToLower(f.Name), ".gz") {
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnreadable, r.Store.Location(f.Name), err)
		}
		defer zr.Close()
		in = zr
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreadable, r.Store.Location(f.Name), err)
	}
	return data, nil
}
