package state

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Dir is the state's folder under the output root.
const Dir = "_state"

// Format is the version of the layout and encodings. A state of another format is not read
// (ErrIncompatible): bump it whenever a file, a column or a Meta field changes.
const Format = 1

// Names of the state's files, relative to its folder.
const (
	MetaFile    = "meta/state.json"
	SongsFile   = "catalog/songs.parquet"
	UsersFile   = "users/users.parquet"
	KeysFile    = "keys/keys.parquet"
	RejectsFile = "rejects/rejects.parquet"
	playsDir    = "plays"
	playsName   = "plays.parquet"
)

// PlaysFile returns the name of a plays partition's file, relative to the state's folder.
func PlaysFile(partition string) string { return playsDir + "/" + partition + "/" + playsName }

var (
	// ErrNoState is returned by ReadMeta when the folder holds no state: the first incremental
	// run on an output, or one written before incremental runs existed.
	ErrNoState = errors.New("no state")
	// ErrCorrupt is the cause of every error about a damaged state: a file missing, of the wrong
	// size or hash, or that does not decode. The state cannot be trusted; a run without
	// --incremental rebuilds it.
	ErrCorrupt = errors.New("state is damaged")
	// ErrIncompatible is the cause of the error for a state written in another Format, by an
	// older or newer sparkify. A run without --incremental rebuilds it.
	ErrIncompatible = errors.New("state has another format")
)

// CorruptError is a damaged state file. It matches ErrCorrupt (errors.Is) and unwraps to the
// decoding error, if any.
type CorruptError struct {
	Location string // the file, as the store names it for a user
	Reason   string // what is wrong, e.g. "size 10, want 20"
	Err      error  // the underlying error, if any
}

func (e *CorruptError) Error() string {
	var b strings.Builder
	b.WriteString("state file ")
	b.WriteString(e.Location)
	b.WriteString(" is damaged: ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	b.WriteString(" (run without --incremental to rebuild the state)")
	return b.String()
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

// File is one data file of the state, as recorded in Meta.
type File struct {
	Name   string `json:"name"` // relative to the state's folder, e.g. "catalog/songs.parquet"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex
}

// Loaded is an input file already folded into the state. An incremental run loads the files
// that are not listed, or whose size, ETag or modification time changed.
type Loaded struct {
	Input   string    `json:"input"` // the input's name, e.g. "song" or "event"
	Path    string    `json:"path"`  // relative to the input's root
	Size    int64     `json:"size"`
	ETag    string    `json:"etag"`     // storage.Object.Version
	ModTime time.Time `json:"mod_time"` // stored in UTC, to the nanosecond
}

// Key is one entry of the plays index: the play with this key is in the plays file of Partition.
type Key struct {
	UserID        int64
	SessionID     int64
	ItemInSession int32
	Partition     string
}

// Part is what the published lake holds in one partition of a table ("" for an unpartitioned
// table): the figures the run's manifest reports, kept so that a run that rewrites only some
// partitions can still report the whole table.
type Part struct {
	Rows    int64 `json:"rows"`
	Files   int   `json:"files"`
	Bytes   int64 `json:"bytes"`
	Matched int64 `json:"matched"` // songplays: plays matched to a song
}

// Meta describes a state: what it was built from, with which settings, and its files. It is
// written last (WriteMeta), after every file it lists.
type Meta struct {
	Format   int               `json:"format"`   // always Format when written by this package
	Version  string            `json:"version"`  // the sparkify version that wrote it
	Rules    string            `json:"rules"`    // the version of the transform rules
	Settings map[string]string `json:"settings"` // what changes the tables' bytes (compression, text repair, ...)
	Roots    map[string]string `json:"roots"`    // input name -> root location
	Loaded   []Loaded          `json:"loaded"`
	Counters map[string]int64  `json:"counters"` // the engine's running totals
	// Tables are the published tables' partitions: table name -> partition -> figures.
	Tables map[string]map[string]Part `json:"tables"`
	// Files lists every data file of the state (not meta/state.json itself) with its size and
	// SHA-256, which every Read checks before it decodes.
	Files []File `json:"files"`
	// Partitions are the plays partitions present, sorted; each has its file in Files, and
	// WriteMeta fills them in from Files when they are nil.
	Partitions []string `json:"partitions"`
}

// AddFile records f in m, replacing an entry of the same name, and keeps Files sorted by name so
// that the same state gives the same meta/state.json. A plays file's partition is added to
// Partitions, which is kept sorted too.
func (m *Meta) AddFile(f File) {
	i, found := slices.BinarySearchFunc(m.Files, f.Name, func(e File, name string) int { return strings.Compare(e.Name, name) })
	if found {
		m.Files[i] = f
	} else {
		m.Files = slices.Insert(m.Files, i, f)
	}
	if p, ok := playsPartition(f.Name); ok {
		if j, found := slices.BinarySearch(m.Partitions, p); !found {
			m.Partitions = slices.Insert(m.Partitions, j, p)
		}
	}
}

// File returns the entry of the file called name (relative to the state's folder).
func (m *Meta) File(name string) (File, bool) {
	for _, f := range m.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// ValidPartition checks a plays partition: a Hive-style path of name=value segments, none of
// them empty, "." or "..", so that it stays a folder below plays/.
func ValidPartition(p string) error {
	if p == "" {
		return errors.New("empty partition")
	}
	if !fs.ValidPath(p) || strings.Contains(p, `\`) {
		return fmt.Errorf("partition %q is not a relative slash-separated path", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("partition %q has a %q segment", p, seg)
		}
		if i := strings.IndexByte(seg, '='); i <= 0 {
			return fmt.Errorf("partition %q: segment %q is not name=value", p, seg)
		}
	}
	return nil
}

// playsPartition returns the partition of a plays file's name.
func playsPartition(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, playsDir+"/")
	if !ok {
		return "", false
	}
	p, ok := strings.CutSuffix(rest, "/"+playsName)
	if !ok || ValidPartition(p) != nil {
		return "", false
	}
	return p, true
}

// checkDir checks the state's folder: "" (the store's root) or a relative slash-separated path.
func checkDir(dir string) error {
	if dir != "" && !fs.ValidPath(dir) {
		return fmt.Errorf("state: folder %q is not a relative slash-separated path", dir)
	}
	return nil
}

func join(dir, name string) string { return path.Join(dir, name) }
