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
const Format = 2

// Names of the state's files, relative to its folder.
const (
	MetaFile    = "meta/state.json"
	SongsFile   = "catalog/songs.parquet"
	UsersFile   = "users/users.parquet"
	IDsFile     = "ids/ids.bin"
	RejectsFile = "rejects/rejects.parquet"
	playsDir    = "plays"
	playsExt    = ".parquet"
)

// PlaysFile returns the name of the file of one day's plays of a partition, relative to the
// state's folder: plays/<partition>/<day>.parquet, e.g.
// plays/year=2018/month=11/2018-11-30.parquet.
func PlaysFile(partition, day string) string {
	return playsDir + "/" + partition + "/" + day + playsExt
}

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
// that are not listed, and refuses to run when a listed one's size or version changed.
type Loaded struct {
	Input string `json:"input"` // the input's name, e.g. "song" or "event"
	Path  string `json:"path"`  // relative to the input's root
	Size  int64  `json:"size"`
	ETag  string `json:"etag"` // storage.Object.Version: the ETag, or the modification time
}

// Span is one plays file: a day of a partition, with the range of its plays' session ids, which
// lets a run read only the days where a new play's duplicate may be.
type Span struct {
	Partition  string `json:"partition"`
	Day        string `json:"day"`
	Rows       int64  `json:"rows"`
	MinSession int64  `json:"min_session"`
	MaxSession int64  `json:"max_session"`
}

// Part is what the published lake holds in one partition of a table ("" for an unpartitioned
// table), or in one file group of a partition: the figures the run's manifest reports, kept so
// that a run that rewrites only some partitions can still report the whole table.
//
// A table written one file per day has an entry per day instead of per partition: Partition is
// the partition's folder, Group the day (2018-11-30), Names the group's files, and the entry's
// key in Meta.Tables[table] is "<partition>/<group>", e.g. "year=2018/month=11/2018-11-30". For
// a whole partition, Partition, Group and Names are empty and the key is the partition.
type Part struct {
	Partition string   `json:"partition,omitempty"` // set when the entry is a file group: its partition folder
	Group     string   `json:"group,omitempty"`     // the file group (a day, 2018-11-30); "" for a whole partition
	Rows      int64    `json:"rows"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	Matched   int64    `json:"matched"`         // songplays: plays matched to a song
	Names     []string `json:"names,omitempty"` // the group's files, relative to the table folder
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
	// Tables are the published tables' partitions: table name -> partition -> figures, or
	// table name -> "<partition>/<group>" -> figures for a table written one file per day (see
	// Part).
	Tables map[string]map[string]Part `json:"tables"`
	// Files lists every data file of the state (not meta/state.json itself) with its size and
	// SHA-256, which every Read checks before it decodes.
	Files []File `json:"files"`
	// Plays are the plays files present, one per day of a partition, written sorted by
	// partition and day: each has its file (PlaysFile) in Files, and each plays file in Files
	// has its span.
	Plays []Span `json:"plays"`
}

// AddFile records f in m, replacing an entry of the same name, and keeps Files sorted by name so
// that the same state gives the same meta/state.json. It does not touch Plays: a plays file's
// span is the caller's to add.
func (m *Meta) AddFile(f File) {
	i, found := slices.BinarySearchFunc(m.Files, f.Name, func(e File, name string) int { return strings.Compare(e.Name, name) })
	if found {
		m.Files[i] = f
	} else {
		m.Files = slices.Insert(m.Files, i, f)
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

// maxYearDigits bounds the year of a day: an int64 of milliseconds reaches year 292278994.
const maxYearDigits = 9

// ValidDay checks a plays file's day: a date as time.DateOnly formats it, YYYY-MM-DD, e.g.
// 2018-11-30. Years have at least 4 digits, more past 9999 and a "-" before them BC, as
// time.Time.Format writes them, so that the day of any millisecond timestamp an int64 holds
// (time.UnixMilli(ms).UTC().Format(time.DateOnly)) is valid. The date must exist (no
// 2018-02-30) and be spelled as Format spells it (no 02018-11-30).
func ValidDay(day string) error {
	bad := func(why string) error { return fmt.Errorf("day %q is not a date YYYY-MM-DD: %s", day, why) }
	rest, neg := strings.CutPrefix(day, "-")
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n < 4 || n > maxYearDigits {
		return bad("its year does not have 4 to 9 digits")
	}
	if len(rest) != n+6 || rest[n] != '-' || rest[n+3] != '-' {
		return bad("not year-MM-DD")
	}
	year := atoi(rest[:n])
	month, mok := digits2(rest[n+1 : n+3])
	d, dok := digits2(rest[n+4:])
	if !mok || !dok {
		return bad("month or day is not 2 digits")
	}
	if neg {
		year = -year
	}
	t := time.Date(year, time.Month(month), d, 0, 0, 0, 0, time.UTC)
	if t.Format(time.DateOnly) != day {
		return bad("no such date")
	}
	return nil
}

// atoi converts a string of at most maxYearDigits decimal digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func digits2(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return atoi(s), true
}

// parsePlaysFile returns the partition and the day of a plays file's name, as PlaysFile makes
// it; ok is false for any other name.
func parsePlaysFile(name string) (partition, day string, ok bool) {
	rest, ok := strings.CutPrefix(name, playsDir+"/")
	if !ok {
		return "", "", false
	}
	rest, ok = strings.CutSuffix(rest, playsExt)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	partition, day = rest[:i], rest[i+1:]
	if ValidPartition(partition) != nil || ValidDay(day) != nil {
		return "", "", false
	}
	return partition, day, true
}

// checkDir checks the state's folder: "" (the store's root) or a relative slash-separated path.
func checkDir(dir string) error {
	if dir != "" && !fs.ValidPath(dir) {
		return fmt.Errorf("state: folder %q is not a relative slash-separated path", dir)
	}
	return nil
}

func join(dir, name string) string { return path.Join(dir, name) }
