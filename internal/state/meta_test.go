package state

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/storage"
)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func fullMeta() *Meta {
	return &Meta{
		Format:   Format,
		Version:  "sparkify 1.4.0",
		Rules:    "2026-11-30",
		Settings: map[string]string{"compression": "snappy", "text_repair": "on", "": "empty key"},
		Roots:    map[string]string{"song": "s3://udacity-dend/song_data", "event": "/data/log <&> \"quoted\""},
		Loaded: []Loaded{
			{Input: "event", Path: "2018/11/2018-11-01-events.json", Size: 1234, ETag: `"9b2cf535f27731c974343645a3985328"`,
				ModTime: time.Date(2018, 11, 30, 23, 59, 59, 123456789, time.UTC)},
			{Input: "song", Path: "A/A/A/TRAAAAW128F429D538.json", Size: 0, ModTime: time.Unix(0, 0).UTC()},
			{Input: "song", Path: "Beyoncé ♫.json"},
		},
		Counters: map[string]int64{"plays": 6820, "duplicates": 0, "max": 1<<63 - 1, "min": -1 << 63},
		Tables: map[string]map[string]Part{
			"songplays": {"year=2018/month=11": {Rows: 6820, Files: 1, Bytes: 250_000, Matched: 333}},
			"users":     {"": {Rows: 96, Files: 1, Bytes: 3000}},
			"time":      {},
		},
		Files:      []File{{SongsFile, 10, sha('a')}, {PlaysFile("year=2018/month=11"), 20, sha('b')}, {UsersFile, 0, sha('c')}},
		Partitions: []string{"year=2018/month=11"},
	}
}

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := &Meta{Format: Format, Settings: map[string]string{}, Loaded: []Loaded{}, Files: []File{}, Partitions: []string{}}
	for name, m := range map[string]*Meta{"full": fullMeta(), "nil collections": {Format: Format}, "empty collections": empty} {
		for sname, st := range stores(t) {
			t.Run(name+"/"+sname, func(t *testing.T) {
				f, err := WriteMeta(ctx, st, "_staging/r/_state", m)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ReadMeta(ctx, st, "_staging/r/_state")
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, m) {
					t.Errorf("got  %+v\nwant %+v", got, m)
				}
				data, _ := storage.ReadFile(ctx, st, "_staging/r/_state/"+MetaFile)
				if f.Name != MetaFile || f.Size != int64(len(data)) {
					t.Errorf("File %+v for %d bytes", f, len(data))
				}
			})
		}
	}
}

func TestWriteMetaIsDeterministicAndCanonical(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{})
	m := fullMeta()
	m.Format = 0                                                            // WriteMeta writes Format
	m.Loaded[0].ModTime = m.Loaded[0].ModTime.In(time.FixedZone("X", 3600)) // and UTC times
	a, err := WriteMeta(ctx, st, "a", m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteMeta(ctx, st, "b", fullMeta())
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != b.SHA256 {
		t.Error("the same Meta gave different bytes")
	}
	if m.Format != 0 || m.Loaded[0].ModTime.Location().String() != "X" {
		t.Error("WriteMeta changed its argument")
	}
	data, _ := storage.ReadFile(ctx, st, "a/"+MetaFile)
	for _, want := range []string{"{\n  \"format\": 1,\n  \"version\":", `"mod_time": "2018-11-30T23:59:59.123456789Z"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("meta lacks %q:\n%s", want, data)
		}
	}
}

func TestReadMetaWithoutStateIsErrNoState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, st := range stores(t) {
		// Other files of a state, but no meta: the meta is written last, so there is no state.
		if _, err := WriteKeys(ctx, st, Dir, nil); err != nil {
			t.Fatal(err)
		}
		_, err := ReadMeta(ctx, st, Dir)
		if !errors.Is(err, ErrNoState) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrNoState", name, err)
		}
	}
}

func TestReadMetaOfAnotherFormatIsErrIncompatible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{})
	for _, data := range []string{`{"format": 2, "whatever": true}`, `{"format": 0}`, `{"format": -1, "files": 3}`} {
		if err := storage.WriteFile(ctx, st, Dir+"/"+MetaFile, []byte(data)); err != nil {
			t.Fatal(err)
		}
		_, err := ReadMeta(ctx, st, Dir)
		if !errors.Is(err, ErrIncompatible) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 1") {
			t.Errorf("%s: got %v, want ErrIncompatible naming both formats", data, err)
		}
	}
}

func TestDamagedMetaIsCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{Name: "lake"})
	if _, err := WriteMeta(ctx, st, Dir, fullMeta()); err != nil {
		t.Fatal(err)
	}
	good, _ := storage.ReadFile(ctx, st, Dir+"/"+MetaFile)
	s := string(good)
	edit := func(old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("meta lacks %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	cases := map[string]string{
		"empty":                    "",
		"not JSON":                 "format: 1",
		"null":                     "null",
		"an array":                 "[1]",
		"truncated":                s[:len(s)/2],
		"last brace cut":           s[:len(s)-2],
		"no format":                edit(`"format": 1,`, ``),
		"format a string":          edit(`"format": 1`, `"format": "1"`),
		"format a float":           edit(`"format": 1`, `"format": 1.5`),
		"no rules":                 edit(`"rules": "2026-11-30",`, ``),
		"no files":                 edit(`"files": [`, `"filez": [`),
		"unknown field":            edit(`"format": 1,`, `"format": 1, "extra": 1,`),
		"text after":               s + "{}",
		"reindented":               strings.ReplaceAll(s, "  ", "\t"),
		"no etag in a loaded file": edit(`"etag": "",`, ``),
		"file listed twice":        edit(`"name": "users/users.parquet"`, `"name": "catalog/songs.parquet"`),
		"partition without file": edit(`"year=2018/month=11"
  ]`, `"year=2018/month=11", "year=2018/month=12"
  ]`),
		"plays file without partition": edit(`"partitions": [
    "year=2018/month=11"
  ]`, `"partitions": []`),
		"unknown file":       edit(`"name": "users/users.parquet"`, `"name": "users/other.parquet"`),
		"file escaping":      edit(`"name": "users/users.parquet"`, `"name": "../users.parquet"`),
		"partition with ..":  strings.ReplaceAll(s, "year=2018/month=11", "year=2018/.."),
		"hash in upper case": edit(sha('c'), strings.ToUpper(sha('c'))),
		"hash too short":     edit(sha('c'), sha('c')[1:]),
		"negative size":      edit(`"size": 20`, `"size": -20`),
		"a size as text":     edit(`"size": 20`, `"size": "20"`),
		"equivalent escape":  edit(`Beyoncé`, `Beyonc\u00e9`),
		"input listed twice": edit(`"path": "A/A/A/TRAAAAW128F429D538.json"`, `"path": "Beyoncé ♫.json"`),
	}
	loc := st.Location(Dir + "/" + MetaFile)
	for what, data := range cases {
		if err := storage.WriteFile(ctx, st, Dir+"/"+MetaFile, []byte(data)); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMeta(ctx, st, Dir)
		t.Run(what, func(t *testing.T) {
			if m != nil {
				t.Errorf("got a Meta %+v", m)
			}
			wantCorrupt(t, err, loc)
		})
	}
}

func TestWriteMetaRefusesWhatCannotBeReadBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]func(*Meta){
		"version not UTF-8":      func(m *Meta) { m.Version = "\xff" },
		"loaded path not UTF-8":  func(m *Meta) { m.Loaded[0].Path = "a\xc3\x28.json" },
		"root not UTF-8":         func(m *Meta) { m.Roots["song"] = "\xfe" },
		"counter not UTF-8":      func(m *Meta) { m.Counters["\xfe"] = 1 },
		"input listed twice":     func(m *Meta) { m.Loaded = append(m.Loaded, m.Loaded[0]) },
		"file listed twice":      func(m *Meta) { m.Files = append(m.Files, m.Files[0]) },
		"partition without file": func(m *Meta) { m.Partitions = append(m.Partitions, "year=2019/month=1") },
		"file without partition": func(m *Meta) { m.Partitions = []string{} },
		"negative bytes":         func(m *Meta) { m.Tables["users"][""] = Part{Bytes: -1} },
		"table name not UTF-8":   func(m *Meta) { m.Tables["\xff"] = nil },
		"bad hash":               func(m *Meta) { m.Files[0].SHA256 = "x" },
		"year 10000":             func(m *Meta) { m.Loaded[0].ModTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for what, change := range cases {
		st := storage.NewMemory(storage.MemoryOptions{})
		m := fullMeta()
		change(m)
		if _, err := WriteMeta(ctx, st, Dir, m); err == nil {
			t.Errorf("%s: written", what)
		}
		if _, err := ReadMeta(ctx, st, Dir); !errors.Is(err, ErrNoState) {
			t.Errorf("%s: a refused meta left %v", what, err)
		}
	}
}

func TestWriteMetaFillsInNilPartitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{})
	m := fullMeta()
	m.Files = append(m.Files, File{PlaysFile("year=2018/month=1"), 1, sha('d')})
	m.Partitions = nil
	if _, err := WriteMeta(ctx, st, Dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(ctx, st, Dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"year=2018/month=1", "year=2018/month=11"}; !reflect.DeepEqual(got.Partitions, want) {
		t.Errorf("partitions %q, want %q", got.Partitions, want)
	}
	if m.Partitions != nil {
		t.Error("WriteMeta changed its argument")
	}
}

func TestAddFileKeepsFilesAndPartitionsSorted(t *testing.T) {
	t.Parallel()
	var m Meta
	m.AddFile(File{Name: UsersFile, Size: 1})
	m.AddFile(File{Name: PlaysFile("year=2018/month=12"), Size: 2})
	m.AddFile(File{Name: SongsFile, Size: 3})
	m.AddFile(File{Name: PlaysFile("year=2018/month=11"), Size: 4})
	m.AddFile(File{Name: UsersFile, Size: 5}) // replaces
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	want := []string{SongsFile, PlaysFile("year=2018/month=11"), PlaysFile("year=2018/month=12"), UsersFile}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if f, _ := m.File(UsersFile); f.Size != 5 {
		t.Errorf("users entry %+v, want the last one added", f)
	}
	if !reflect.DeepEqual(m.Partitions, []string{"year=2018/month=11", "year=2018/month=12"}) {
		t.Errorf("partitions %q", m.Partitions)
	}
}

// A whole state written and read back, through its Meta, on both stores.
func TestWholeStateRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			fx := writeState(t, st, "_staging/run/_state", 11, 200)
			m, err := ReadMeta(ctx, st, "_staging/run/_state")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, fx.meta) {
				t.Fatalf("meta %+v, want %+v", m, fx.meta)
			}
			songs, err := ReadSongs(ctx, st, "_staging/run/_state", m)
			check(t, "songs", songs, fx.songs, err)
			users, err := ReadUsers(ctx, st, "_staging/run/_state", m)
			check(t, "users", users, fx.users, err)
			for p, want := range fx.plays {
				plays, err := ReadPlays(ctx, st, "_staging/run/_state", m, p)
				check(t, p, plays, want, err)
			}
			keys, err := ReadKeys(ctx, st, "_staging/run/_state", m)
			check(t, "keys", keys, fx.keys, err)
			rejects, err := ReadRejects(ctx, st, "_staging/run/_state", m)
			check(t, "rejects", rejects, fx.rejects, err)
		})
	}
}

func check[T any](t *testing.T, what string, got, want []T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	} else if d := sameRows(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}
