package state

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

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
			{Input: "event", Path: "2018/11/2018-11-01-events.json", Size: 1234, ETag: `"9b2cf535f27731c974343645a3985328"`},
			{Input: "song", Path: "A/A/A/TRAAAAW128F429D538.json", Size: 0, ETag: "1543622399123456789"},
			{Input: "song", Path: "Beyoncé ♫.json"},
		},
		Counters: map[string]int64{"plays": 6820, "duplicates": 0, "max": 1<<63 - 1, "min": -1 << 63},
		Tables: map[string]map[string]Part{
			"songplays": {
				"year=2018/month=11/2018-11-30": {Partition: "year=2018/month=11", Group: "2018-11-30", Rows: 6820, Files: 2, Bytes: 250_000, Matched: 333,
					Names: []string{"year=2018/month=11/part-2018-11-30-0.parquet", "year=2018/month=11/part-2018-11-30-1.parquet"}},
				"year=2018/month=12/2018-12-01": {Partition: "year=2018/month=12", Group: "2018-12-01", Rows: 0, Files: 0},
			},
			"users": {"": {Rows: 96, Files: 1, Bytes: 3000}},
			"songs": {"year=2018/artist_id=AR1": {Rows: 3, Files: 1, Bytes: 300}},
			"time":  {},
		},
		Files: []File{{SongsFile, 10, sha('a')}, {IDsFile, 16, sha('d')}, {PlaysFile("year=2018/month=11", "2018-11-01"), 20, sha('b')},
			{PlaysFile("year=2018/month=11", "2018-11-30"), 30, sha('e')}, {UsersFile, 0, sha('c')}},
		Plays: []Span{
			{Partition: "year=2018/month=11", Day: "2018-11-01", Rows: 12, MinSession: -5, MaxSession: 1 << 40},
			{Partition: "year=2018/month=11", Day: "2018-11-30", Rows: 1, MinSession: 7, MaxSession: 7},
		},
	}
}

func TestMetaRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := &Meta{Format: Format, Settings: map[string]string{}, Loaded: []Loaded{}, Files: []File{}, Plays: []Span{}}
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
	m.Format = 0                                    // WriteMeta writes Format
	m.Plays[0], m.Plays[1] = m.Plays[1], m.Plays[0] // and sorts the spans
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
	if m.Format != 0 || compareSpans(m.Plays[0], m.Plays[1]) < 0 {
		t.Error("WriteMeta changed its argument")
	}
	data, _ := storage.ReadFile(ctx, st, "a/"+MetaFile)
	for _, want := range []string{"{\n  \"format\": 2,\n  \"version\":", `"etag": "1543622399123456789"`,
		`"plays": [
    {
      "partition": "year=2018/month=11",
      "day": "2018-11-01",
      "rows": 12,
      "min_session": -5,
      "max_session": 1099511627776
    },`, `"year=2018/month=11/2018-11-30": {
        "partition": "year=2018/month=11",
        "group": "2018-11-30",
        "rows": 6820,`, `"users": {
      "": {
        "rows": 96,
        "files": 1,
        "bytes": 3000,
        "matched": 0
      }`} {
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
		if _, err := WriteIDs(ctx, st, Dir, nil); err != nil {
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
	// A state of Format 1, as the sparkify before plays by day wrote it: the engine rebuilds it.
	format1 := `{
  "format": 1,
  "version": "sparkify 1.3.0",
  "rules": "r1",
  "settings": null,
  "roots": null,
  "loaded": null,
  "counters": null,
  "tables": null,
  "files": [
    {
      "name": "keys/keys.parquet",
      "size": 10,
      "sha256": "` + sha('a') + `"
    },
    {
      "name": "plays/year=2018/month=11/plays.parquet",
      "size": 20,
      "sha256": "` + sha('b') + `"
    }
  ],
  "partitions": [
    "year=2018/month=11"
  ]
}
`
	for _, data := range []string{format1, `{"format": 1}`, `{"format": 3, "whatever": true}`, `{"format": 0}`, `{"format": -1, "files": 3}`} {
		if err := storage.WriteFile(ctx, st, Dir+"/"+MetaFile, []byte(data)); err != nil {
			t.Fatal(err)
		}
		_, err := ReadMeta(ctx, st, Dir)
		if !errors.Is(err, ErrIncompatible) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "format 2") {
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
		"empty":                  "",
		"not JSON":               "format: 2",
		"null":                   "null",
		"an array":               "[1]",
		"truncated":              s[:len(s)/2],
		"last brace cut":         s[:len(s)-2],
		"no format":              edit(`"format": 2,`, ``),
		"format a string":        edit(`"format": 2`, `"format": "2"`),
		"format a float":         edit(`"format": 2`, `"format": 2.0`),
		"no rules":               edit(`"rules": "2026-11-30",`, ``),
		"no files":               edit(`"files": [`, `"filez": [`),
		"unknown field":          edit(`"format": 2,`, `"format": 2, "extra": 1,`),
		"no plays":               edit(`"plays": [`, `"partitions": [`),
		"no plays field":         s[:strings.Index(s, ",\n  \"plays\": [")] + "\n}\n",
		"partitions of format 1": edit(`"plays": [`, `"partitions": ["year=2018/month=11"], "plays": [`),
		"text after":             s + "{}",
		"reindented":             strings.ReplaceAll(s, "  ", "\t"),
		"no etag in a loaded file": edit(`,
      "etag": ""
`, "\n"),
		"file listed twice":       edit(`"name": "users/users.parquet"`, `"name": "catalog/songs.parquet"`),
		"span without file":       edit(`"day": "2018-11-30"`, `"day": "2018-11-29"`),
		"plays file without span": edit(`"name": "catalog/songs.parquet"`, `"name": "plays/year=2018/month=11/2018-11-29.parquet"`),
		"no spans": edit(s[strings.Index(s, `"plays": [`):], `"plays": []
}
`),
		"spans out of order": edit(`"day": "2018-11-01",
      "rows": 12,
      "min_session": -5,
      "max_session": 1099511627776
    },
    {
      "partition": "year=2018/month=11",
      "day": "2018-11-30",`, `"day": "2018-11-30",
      "rows": 12,
      "min_session": -5,
      "max_session": 1099511627776
    },
    {
      "partition": "year=2018/month=11",
      "day": "2018-11-01",`),
		"span of no rows":   edit(`"rows": 1,`, `"rows": 0,`),
		"sessions reversed": edit(`"min_session": -5`, `"min_session": 1099511627777`),
		"span day invalid": strings.ReplaceAll(strings.ReplaceAll(s, `"day": "2018-11-30"`, `"day": "2018-11-31"`),
			`2018-11-30.parquet"`, `2018-11-31.parquet"`),
		"a format 1 keys file":  edit(`"name": "ids/ids.bin"`, `"name": "keys/keys.parquet"`),
		"format 1 plays file":   edit(`"name": "catalog/songs.parquet"`, `"name": "plays/year=2018/month=11/plays.parquet"`),
		"group key mismatch":    edit(`"year=2018/month=11/2018-11-30": {`, `"year=2018/month=11/2018-11-29": {`),
		"group files not names": edit(`"files": 2,`, `"files": 3,`),
		"group name escaping":   edit(`"year=2018/month=11/part-2018-11-30-1.parquet"`, `"../part.parquet"`),
		"partition of no group": edit(`"rows": 96,`, `"partition": "year=2018", "rows": 96,`),
		"unknown file":          edit(`"name": "users/users.parquet"`, `"name": "users/other.parquet"`),
		"file escaping":         edit(`"name": "users/users.parquet"`, `"name": "../users.parquet"`),
		"partition with ..": strings.ReplaceAll(strings.ReplaceAll(s, "plays/year=2018/month=11/", "plays/year=2018/../"), `"partition": "year=2018/month=11",
      "day"`, `"partition": "year=2018/..",
      "day"`),
		"span partition with ..": strings.ReplaceAll(s, `"partition": "year=2018/month=11",
      "day"`, `"partition": "year=2018/..",
      "day"`),
		"ids file renamed":   edit(`"name": "ids/ids.bin"`, `"name": "ids/ids.parquet"`),
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
			if what == "no plays field" && err != nil && !strings.Contains(err.Error(), what) {
				t.Errorf("message %q does not say %q", err, what)
			}
		})
	}
}

func TestWriteMetaRefusesWhatCannotBeReadBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[string]func(*Meta){
		"version not UTF-8":     func(m *Meta) { m.Version = "\xff" },
		"loaded path not UTF-8": func(m *Meta) { m.Loaded[0].Path = "a\xc3\x28.json" },
		"root not UTF-8":        func(m *Meta) { m.Roots["song"] = "\xfe" },
		"counter not UTF-8":     func(m *Meta) { m.Counters["\xfe"] = 1 },
		"input listed twice":    func(m *Meta) { m.Loaded = append(m.Loaded, m.Loaded[0]) },
		"file listed twice":     func(m *Meta) { m.Files = append(m.Files, m.Files[0]) },
		"span without file":     func(m *Meta) { m.Plays = append(m.Plays, Span{"year=2019/month=1", "2019-01-01", 1, 0, 0}) },
		"file without span":     func(m *Meta) { m.Plays = m.Plays[1:] },
		"no spans":              func(m *Meta) { m.Plays = nil },
		"negative bytes":        func(m *Meta) { m.Tables["users"][""] = Part{Bytes: -1} },
		"table name not UTF-8":  func(m *Meta) { m.Tables["\xff"] = nil },
		"bad hash":              func(m *Meta) { m.Files[0].SHA256 = "x" },
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

// WriteMeta writes the spans sorted by partition, then day, whatever their order in the Meta,
// which it does not change; it derives no span from Files.
func TestWriteMetaSortsPlays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{})
	m := fullMeta()
	extra := []day{{"year=2018/month=1", "2018-01-31"}, {"year=2018/month=1", "2018-01-02"}, {"year=2017/month=12", "2017-12-31"}, {"year=2018/month=11", "2018-11-02"}}
	for i, d := range extra {
		m.AddFile(File{PlaysFile(d.partition, d.day), 1, sha('0' + byte(i))})
		m.Plays = append(m.Plays, Span{Partition: d.partition, Day: d.day, Rows: 1})
	}
	slices.Reverse(m.Plays)
	given := slices.Clone(m.Plays)
	if _, err := WriteMeta(ctx, st, Dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(ctx, st, Dir)
	if err != nil {
		t.Fatal(err)
	}
	var days []day
	for _, s := range got.Plays {
		days = append(days, day{s.Partition, s.Day})
	}
	want := []day{{"year=2017/month=12", "2017-12-31"}, {"year=2018/month=1", "2018-01-02"}, {"year=2018/month=1", "2018-01-31"},
		{"year=2018/month=11", "2018-11-01"}, {"year=2018/month=11", "2018-11-02"}, {"year=2018/month=11", "2018-11-30"}}
	if !reflect.DeepEqual(days, want) {
		t.Errorf("plays %v, want %v", days, want)
	}
	if !reflect.DeepEqual(m.Plays, given) {
		t.Error("WriteMeta changed its argument")
	}
	// Nothing is derived from Files: a plays file without its span is refused.
	m.Plays = nil
	if _, err := WriteMeta(ctx, st, "nil", m); err == nil || !strings.Contains(err.Error(), "no span") {
		t.Errorf("nil Plays with plays files: got %v", err)
	}
}

func TestAddFileKeepsFilesSorted(t *testing.T) {
	t.Parallel()
	var m Meta
	m.AddFile(File{Name: UsersFile, Size: 1})
	m.AddFile(File{Name: PlaysFile("year=2018/month=12", "2018-12-01"), Size: 2})
	m.AddFile(File{Name: SongsFile, Size: 3})
	m.AddFile(File{Name: PlaysFile("year=2018/month=11", "2018-11-30"), Size: 4})
	m.AddFile(File{Name: PlaysFile("year=2018/month=11", "2018-11-01"), Size: 6})
	m.AddFile(File{Name: IDsFile, Size: 7})
	m.AddFile(File{Name: UsersFile, Size: 5}) // replaces
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	want := []string{SongsFile, IDsFile, PlaysFile("year=2018/month=11", "2018-11-01"), PlaysFile("year=2018/month=11", "2018-11-30"),
		PlaysFile("year=2018/month=12", "2018-12-01"), UsersFile}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if f, _ := m.File(UsersFile); f.Size != 5 {
		t.Errorf("users entry %+v, want the last one added", f)
	}
	if m.Plays != nil {
		t.Errorf("AddFile added spans %+v", m.Plays)
	}
}

// checkMeta's rules for the spans and the file groups, one change at a time from a valid Meta.
func TestCheckMetaSpansAndGroups(t *testing.T) {
	t.Parallel()
	if err := checkMeta(fullMeta()); err != nil {
		t.Fatalf("the valid Meta: %v", err)
	}
	const p, d = "year=2018/month=11", "2018-11-30"
	group := func(m *Meta) *Part {
		part := m.Tables["songplays"][p+"/"+d]
		return &part
	}
	setGroup := func(m *Meta, key string, part *Part) {
		delete(m.Tables["songplays"], p+"/"+d)
		m.Tables["songplays"][key] = *part
	}
	bad := map[string]func(*Meta){
		"span partition empty":      func(m *Meta) { m.Plays[1].Partition = "" },
		"span partition not a=b":    func(m *Meta) { m.Plays[1].Partition = "2018/11" },
		"span partition with ..":    func(m *Meta) { m.Plays[1].Partition = "year=2018/.." },
		"span day empty":            func(m *Meta) { m.Plays[1].Day = "" },
		"span day with a slash":     func(m *Meta) { m.Plays[1].Day = "2018/11/30" },
		"span day not a date":       func(m *Meta) { m.Plays[1].Day = "2018-11-31" },
		"span day with a partition": func(m *Meta) { m.Plays[0].Partition, m.Plays[0].Day = "year=2018", "month=11/2018-11-01" },
		"span of 0 rows":            func(m *Meta) { m.Plays[1].Rows = 0 },
		"span of -1 rows":           func(m *Meta) { m.Plays[1].Rows = -1 },
		"sessions reversed":         func(m *Meta) { m.Plays[1].MinSession, m.Plays[1].MaxSession = 8, 7 },
		"span twice":                func(m *Meta) { m.Plays = append(m.Plays, m.Plays[1]) },
		"spans out of order":        func(m *Meta) { m.Plays[0], m.Plays[1] = m.Plays[1], m.Plays[0] },
		"span without its file":     func(m *Meta) { m.Plays[1].Day = "2018-11-29" },
		"span of another partition": func(m *Meta) { m.Plays[1].Partition = "year=2018/month=12" },
		"plays file without span":   func(m *Meta) { m.Plays = m.Plays[:1] },
		"no spans":                  func(m *Meta) { m.Plays = nil },
		"group key without group":   func(m *Meta) { g := group(m); setGroup(m, d, g) },
		"group key of another day":  func(m *Meta) { g := group(m); g.Group = "2018-11-29"; setGroup(m, p+"/"+d, g) },
		"group key without partition": func(m *Meta) {
			g := group(m)
			g.Partition = ""
			setGroup(m, p+"/"+d, g)
		},
		"group names too few":     func(m *Meta) { g := group(m); g.Names = g.Names[:1]; setGroup(m, p+"/"+d, g) },
		"group names too many":    func(m *Meta) { g := group(m); g.Files = 1; setGroup(m, p+"/"+d, g) },
		"group name not UTF-8":    func(m *Meta) { g := group(m); g.Names[0] = "\xff.parquet"; setGroup(m, p+"/"+d, g) },
		"group name absolute":     func(m *Meta) { g := group(m); g.Names[0] = "/x.parquet"; setGroup(m, p+"/"+d, g) },
		"group name escaping":     func(m *Meta) { g := group(m); g.Names[0] = "../x.parquet"; setGroup(m, p+"/"+d, g) },
		"group name empty":        func(m *Meta) { g := group(m); g.Names[0] = ""; setGroup(m, p+"/"+d, g) },
		"group name dot":          func(m *Meta) { g := group(m); g.Names[0] = "."; setGroup(m, p+"/"+d, g) },
		"group name backslash":    func(m *Meta) { g := group(m); g.Names[0] = `a\b.parquet`; setGroup(m, p+"/"+d, g) },
		"group name twice":        func(m *Meta) { g := group(m); g.Names[1] = g.Names[0]; setGroup(m, p+"/"+d, g) },
		"group not UTF-8":         func(m *Meta) { g := group(m); g.Group = "\xff"; setGroup(m, p+"/\xff", g) },
		"partition without group": func(m *Meta) { m.Tables["users"][""] = Part{Partition: "x=1", Rows: 96} },
		"names without group":     func(m *Meta) { m.Tables["users"][""] = Part{Names: []string{"a.parquet"}, Files: 1} },
		"negative matched":        func(m *Meta) { g := group(m); g.Matched = -1; setGroup(m, p+"/"+d, g) },
	}
	for what, change := range bad {
		m := fullMeta()
		change(m)
		if err := checkMeta(m); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	good := map[string]func(*Meta){
		"one row, one session":  func(m *Meta) { m.Plays[0].Rows, m.Plays[0].MinSession, m.Plays[0].MaxSession = 1, -1, -1 },
		"extreme sessions":      func(m *Meta) { m.Plays[0].MinSession, m.Plays[0].MaxSession = math.MinInt64, math.MaxInt64 },
		"many rows":             func(m *Meta) { m.Plays[0].Rows = math.MaxInt64 },
		"a day of year 10000":   func(m *Meta) { m.Plays[0].Day = "10000-01-01"; m.Files[2].Name = PlaysFile(p, "10000-01-01") },
		"a group of no files":   func(m *Meta) { g := group(m); g.Files, g.Names = 0, nil; setGroup(m, p+"/"+d, g) },
		"a group not a day":     func(m *Meta) { g := group(m); g.Group = "g1"; setGroup(m, p+"/g1", g) },
		"no spans and no plays": func(m *Meta) { m.Plays, m.Files = nil, m.Files[:2] },
	}
	for what, change := range good {
		m := fullMeta()
		change(m)
		if err := checkMeta(m); err != nil {
			t.Errorf("%s: refused: %v", what, err)
		}
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
			if len(m.Plays) != len(fx.plays) {
				t.Errorf("%d spans, want %d", len(m.Plays), len(fx.plays))
			}
			for _, s := range m.Plays {
				d := day{s.Partition, s.Day}
				if want := spanOf(d, fx.plays[d]); s != want {
					t.Errorf("span %+v, want %+v", s, want)
				}
				plays, err := ReadPlays(ctx, st, "_staging/run/_state", m, s.Partition, s.Day)
				check(t, s.Partition+"/"+s.Day, plays, fx.plays[d], err)
			}
			ids, err := ReadIDs(ctx, st, "_staging/run/_state", m)
			if err != nil || !slices.Equal(ids, fx.ids) {
				t.Errorf("ids: %d read, %d written, %v", len(ids), len(fx.ids), err)
			}
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
