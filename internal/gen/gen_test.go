package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/textfix"
)

// memFiles collects what Generate writes, in memory.
type memFiles map[string]*bytes.Buffer

type memFile struct{ *bytes.Buffer }

func (memFile) Close() error { return nil }

func (m memFiles) create(name string) (io.WriteCloser, error) {
	if _, ok := m[name]; ok {
		return nil, fmt.Errorf("%s created twice", name)
	}
	b := &bytes.Buffer{}
	m[name] = b
	return memFile{b}, nil
}

func (m memFiles) names(prefix string) []string {
	var out []string
	for name := range m {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func generate(t testing.TB, o Options) (Counts, memFiles) {
	t.Helper()
	m := memFiles{}
	c, err := Generate(context.Background(), o, m.create)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

var configs = []struct {
	name string
	opts Options
}{
	{"sample", Sample()},
	{"packed", Options{Songs: 300, SongsPerFile: 7, Events: 4000, Users: 40, Days: 5, Start: day(2018, 11, 28), Seed: 7, MatchShare: 0.5}},
	{"new year", Options{Songs: 50, Artists: 45, Events: 2500, Users: 10, Days: 4, Start: day(2018, 12, 30), Seed: 8, MatchShare: 0.3}},
	{"dirty", Options{Songs: 400, SongsPerFile: 3, Events: 20000, Users: 60, Days: 7, Start: day(2019, 2, 26), Seed: 9, MatchShare: 0.3, Dirty: true}},
	{"dirty one per file", Options{Songs: 120, Events: 3000, Users: 15, Days: 2, Start: day(2018, 11, 1), Seed: 10, MatchShare: 0.9, Dirty: true}},
	{"no catalog", Options{Events: 500, Users: 3, Days: 10, Seed: 11, MatchShare: 0.5}},
}

func TestDeterministic(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			c1, a := generate(t, tc.opts)
			c2, b := generate(t, tc.opts)
			if !sameFiles(a, b) || fmt.Sprint(c1) != fmt.Sprint(c2) {
				t.Fatal("same seed, different output")
			}
			o := tc.opts
			o.Seed++
			_, d := generate(t, o)
			if sameFiles(a, d) {
				t.Fatal("different seed, same output")
			}
		})
	}
}

func sameFiles(a, b memFiles) bool {
	if len(a) != len(b) {
		return false
	}
	for name, x := range a {
		if y, ok := b[name]; !ok || !bytes.Equal(x.Bytes(), y.Bytes()) {
			return false
		}
	}
	return true
}

func TestWriteDir(t *testing.T) {
	o := configs[1].opts
	dir := t.TempDir()
	c, err := WriteDir(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	want, m := generate(t, o)
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counts %+v, want %+v", c, want)
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got, err := os.ReadFile(p)
		if b, ok := m[filepath.ToSlash(rel)]; !ok || !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s differs from Generate's", rel)
		}
		n++
		return err
	})
	if err != nil || n != len(m) {
		t.Fatalf("walk: %v; %d files, want %d", err, n, len(m))
	}
}

// The validation below follows the SPEC on its own (encoding/json, no code shared with the
// generator), and lists every defect of a record: a bad record must have exactly one.

func decodeAny(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

func isInteger(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53
}

type defects []string

func (d *defects) add(reason string) { *d = append(*d, reason) }

// requiredText checks a field that must be a non-empty string.
func (d *defects) requiredText(m map[string]any, k string) {
	switch v, ok := m[k]; {
	case !ok || v == nil:
		d.add(ReasonMissingField)
	case fmt.Sprintf("%T", v) != "string":
		d.add(ReasonWrongType)
	case v == "":
		d.add(ReasonEmptyValue)
	}
}

func (d *defects) optionalText(m map[string]any, k string) {
	if v := m[k]; v != nil {
		if _, ok := v.(string); !ok {
			d.add(ReasonWrongType)
		}
	}
}

func (d *defects) requiredInteger(m map[string]any, k string) {
	switch v, ok := m[k]; {
	case !ok || v == nil:
		d.add(ReasonMissingField)
	case !isInteger(v):
		d.add(ReasonWrongType)
	}
}

func classify(raw []byte) (map[string]any, defects) {
	if !json.Valid(raw) {
		return nil, defects{ReasonInvalidJSON}
	}
	v, err := decodeAny(raw)
	if err != nil {
		return nil, defects{ReasonInvalidJSON}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, defects{ReasonNotObject}
	}
	return m, nil
}

func classifySong(raw []byte) (map[string]any, defects) {
	m, d := classify(raw)
	if m == nil {
		return nil, d
	}
	for _, k := range []string{"song_id", "title", "artist_id", "artist_name"} {
		d.requiredText(m, k)
	}
	d.optionalText(m, "artist_location")
	for k, limit := range map[string]float64{"artist_latitude": 90, "artist_longitude": 180} {
		if v := m[k]; v != nil {
			if n, ok := v.(json.Number); !ok {
				d.add(ReasonWrongType)
			} else if f, _ := n.Float64(); math.Abs(f) > limit {
				d.add(ReasonOutOfRange)
			}
		}
	}
	switch v, ok := m["duration"]; {
	case !ok || v == nil:
		d.add(ReasonMissingField)
	case fmt.Sprintf("%T", v) != "json.Number":
		d.add(ReasonWrongType)
	default:
		if f, _ := v.(json.Number).Float64(); !(f > 0) {
			d.add(ReasonOutOfRange)
		}
	}
	d.requiredInteger(m, "year")
	return m, d
}

func classifyEvent(raw []byte) (map[string]any, defects) {
	m, d := classify(raw)
	if m == nil {
		return nil, d
	}
	d.requiredInteger(m, "ts")
	d.requiredInteger(m, "sessionId")
	d.requiredInteger(m, "itemInSession")
	page, _ := m["page"].(string)
	if page == "" {
		d.add(ReasonMissingField)
	}
	uid, isText := m["userId"].(string)
	switch {
	case m["userId"] == nil:
		d.add(ReasonMissingField)
	case !isText:
		d.add(ReasonWrongType)
	case uid != "":
		if _, err := strconv.ParseInt(uid, 10, 64); err != nil {
			d.add(ReasonWrongType)
		}
	}
	for _, k := range []string{"artist", "auth", "firstName", "gender", "lastName", "level", "location", "method", "song", "userAgent"} {
		if page != "NextSong" || k != "artist" && k != "song" {
			d.optionalText(m, k)
		}
	}
	if v := m["length"]; v != nil {
		if _, ok := v.(json.Number); !ok {
			d.add(ReasonWrongType)
		}
	}
	if page == "NextSong" {
		if isText && uid == "" {
			d.add(ReasonEmptyValue)
		}
		d.requiredText(m, "song")
		d.requiredText(m, "artist")
	}
	return m, d
}

var eventKeys = []string{"artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
	"location", "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId"}

var songKeys = []string{"artist_id", "artist_latitude", "artist_location", "artist_longitude", "artist_name",
	"duration", "num_songs", "song_id", "title", "year"}

func keys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// splitValues cuts a song file into its JSON values; an incomplete value takes the rest of the file.
func splitValues(data []byte) [][]byte {
	var out [][]byte
	d := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		start := d.InputOffset()
		err := d.Decode(&raw)
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, bytes.TrimSpace(data[start:]))
		}
		out = append(out, raw)
	}
}

var (
	songPathRE = regexp.MustCompile(`^song_data/([A-Z])/([A-Z])/([A-Z])/TR([A-Z]{3})[A-Z]{2}[0-9A-F]{11}\.json$`)
	idRE       = regexp.MustCompile(`^(AR|SO)[A-Z0-9]{16}$`)
	regRE      = regexp.MustCompile(`"registration":(null|\d{13}\.0),`)
	numberRE   = regexp.MustCompile(`"(duration|artist_latitude|artist_longitude)": (-?\d+\.\d+|null)`)
)

// TestDataset checks every file of each configuration against the SPEC, the real data's format
// and the Counts.
func TestDataset(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			c, m := generate(t, o)
			if err := o.normalize(); err != nil {
				t.Fatal(err)
			}
			rejected := map[string]int{}
			rejectedSongs := map[string]int{}

			// The catalog.
			pairs := map[string]bool{}
			artists := map[string]bool{}
			songFiles, songs := 0, 0
			for _, name := range m.names("song_data/") {
				data := m[name].Bytes()
				songFiles++
				sm := songPathRE.FindStringSubmatch(name)
				if sm == nil || sm[4] != sm[1]+sm[2]+sm[3] {
					t.Errorf("bad song path %s", name)
				}
				if len(data) == 0 || data[len(data)-1] == '\n' {
					t.Errorf("%s: empty or ends with a newline", name)
				}
				if bytes.Contains(data, []byte(`\/`)) {
					t.Errorf("%s: '/' escaped, json.dumps does not", name)
				}
				values := splitValues(data)
				if o.SongsPerFile == 1 && len(values) != 1 {
					t.Errorf("%s: %d songs, want 1", name, len(values))
				}
				for _, raw := range values {
					songs++
					checkASCII(t, name, raw)
					s, d := classifySong(raw)
					if len(d) > 1 {
						t.Errorf("%s: %d defects %v in %s", name, len(d), d, raw)
					}
					if len(d) == 1 {
						rejected[d[0]]++
						rejectedSongs[d[0]]++
						if len(values) != 1 {
							t.Errorf("%s: a bad song shares its file", name)
						}
						continue
					}
					if got := keys(s); !slices.Equal(got, songKeys) {
						t.Errorf("%s: keys %v", name, got)
					}
					if !idRE.MatchString(s["song_id"].(string)) || !idRE.MatchString(s["artist_id"].(string)) {
						t.Errorf("%s: ids %v %v", name, s["song_id"], s["artist_id"])
					}
					for _, nm := range numberRE.FindAllSubmatch(raw, -1) {
						if i := bytes.IndexByte(nm[2], '.'); i >= 0 && len(nm[2])-i-1 > 5 {
							t.Errorf("%s: more than 5 decimals in %s", name, nm[0])
						}
					}
					key := s["title"].(string) + "\x00" + s["artist_name"].(string)
					if pairs[key] {
						t.Errorf("%s: (title, artist) %q twice in the catalog", name, key)
					}
					pairs[key] = true
					artists[s["artist_id"].(string)] = true
				}
			}
			if songFiles != c.SongFiles || songs != c.Songs || len(artists) != c.Artists {
				t.Errorf("song files %d, songs %d, artists %d; counts say %d, %d, %d", songFiles, songs, len(artists), c.SongFiles, c.Songs, c.Artists)
			}
			if songs-sum(rejectedSongs) != o.Songs {
				t.Errorf("%d valid songs, want %d", songs-sum(rejectedSongs), o.Songs)
			}

			// The event log.
			logNames := m.names("log_data/")
			var want []string
			for d := range o.Days {
				want = append(want, o.Start.AddDate(0, 0, d).Format("log_data/2006/01/2006-01-02-events.json"))
			}
			if !slices.Equal(logNames, want) || c.LogFiles != o.Days {
				t.Fatalf("log files %v (count %d), want %v", logNames, c.LogFiles, want)
			}
			type key struct {
				user string
				sid  int64
				item int64
			}
			var (
				lines, plays, dups, matched, shared int
				lastItem                            = map[int64]int64{}
				sessionUsers                        = map[int64]map[string]bool{}
				levels                              = map[string]map[string]bool{}
				users                               = map[string]bool{}
				played                              = map[key]bool{}
				pages                               = map[string]int{}
			)
			for i, name := range logNames {
				data := m[name].Bytes()
				if len(data) > 0 && data[len(data)-1] == '\n' {
					t.Errorf("%s ends with a newline", name)
				}
				if len(data) == 0 {
					continue
				}
				dayStart := o.Start.AddDate(0, 0, i).UnixMilli()
				lastTS := int64(0)
				for n, raw := range bytes.Split(data, []byte("\n")) {
					lines++
					where := fmt.Sprintf("%s:%d", name, n+1)
					checkASCII(t, where, raw)
					e, d := classifyEvent(raw)
					if len(d) > 1 {
						t.Errorf("%s: %d defects %v", where, len(d), d)
					}
					if len(d) == 1 {
						rejected[d[0]]++
						continue
					}
					if got := keys(e); !slices.Equal(got, eventKeys) {
						t.Fatalf("%s: keys %v", where, got)
					}
					if bytes.Count(raw, []byte("/")) != bytes.Count(raw, []byte(`\/`)) {
						t.Errorf("%s: unescaped '/'", where)
					}
					if !regRE.Match(raw) {
						t.Errorf("%s: registration not like 1540919166796.0", where)
					}
					ts, _ := e["ts"].(json.Number).Int64()
					if ts < dayStart || ts >= dayStart+dayMs {
						t.Errorf("%s: ts %d outside the file's day", where, ts)
					}
					if ts < lastTS {
						t.Errorf("%s: ts goes back", where)
					}
					lastTS = ts
					sid, _ := e["sessionId"].(json.Number).Int64()
					item, _ := e["itemInSession"].(json.Number).Int64()
					uid := e["userId"].(string)
					page := e["page"].(string)
					pages[page]++
					k := key{uid, sid, item}
					last, ok := lastItem[sid]
					switch {
					case !ok && item != 0:
						t.Errorf("%s: session %d starts at item %d", where, sid, item)
					case ok && item == last && page == "NextSong" && played[k]:
						dups++
					case ok && item != last+1:
						t.Errorf("%s: session %d goes from item %d to %d", where, sid, last, item)
					}
					lastItem[sid] = item
					if sessionUsers[sid] == nil {
						sessionUsers[sid] = map[string]bool{}
					}
					sessionUsers[sid][uid] = true
					if uid == "" {
						if e["auth"] != "Logged Out" || e["firstName"] != nil || e["registration"] != nil || e["userAgent"] != nil {
							t.Errorf("%s: logged-out line with user details", where)
						}
					} else {
						users[uid] = true
						if e["auth"] != "Logged In" {
							t.Errorf("%s: user %s not logged in", where, uid)
						}
						if levels[uid] == nil {
							levels[uid] = map[string]bool{}
						}
						levels[uid][e["level"].(string)] = true
						ua := e["userAgent"].(string)
						if quoted := strings.HasPrefix(ua, `"`) && strings.HasSuffix(ua, `"`); quoted != strings.Contains(ua, ",") {
							t.Errorf("%s: user agent quoting %q", where, ua)
						}
					}
					if (page == "NextSong") != (e["length"] != nil) {
						t.Errorf("%s: length on page %s", where, page)
					}
					if page != "NextSong" {
						continue
					}
					plays++
					if !played[k] {
						played[k] = true
						// Matched as the SPEC matches: after text repair.
						song, _ := textfix.Repair(e["song"].(string))
						artist, _ := textfix.Repair(e["artist"].(string))
						if pairs[song+"\x00"+artist] {
							matched++
						}
					}
				}
			}
			for _, us := range sessionUsers {
				if us[""] && len(us) > 1 {
					shared++
				}
			}
			changed := 0
			for _, l := range levels {
				if len(l) > 1 {
					changed++
				}
			}
			if lines != c.Events || lines != o.Events || plays != c.NextSong || dups != c.DuplicateEvents || matched != c.Matched || len(users) != c.Users {
				t.Errorf("lines %d, plays %d, dups %d, matched %d, users %d; counts %+v", lines, plays, dups, matched, len(users), c)
			}
			if fmt.Sprint(rejected) != fmt.Sprint(c.Rejected) && (len(rejected) > 0 || len(c.Rejected) > 0) {
				t.Errorf("rejected %v, counts say %v", rejected, c.Rejected)
			}
			if fmt.Sprint(rejectedSongs) != fmt.Sprint(c.RejectedSongs) && (len(rejectedSongs) > 0 || len(c.RejectedSongs) > 0) {
				t.Errorf("rejected songs %v, counts say %v", rejectedSongs, c.RejectedSongs)
			}
			if o.Dirty {
				for _, r := range []string{ReasonInvalidJSON, ReasonNotObject, ReasonMissingField, ReasonWrongType, ReasonOutOfRange, ReasonEmptyValue} {
					if rejected[r] == 0 {
						t.Errorf("no %s record", r)
					}
				}
				if dups == 0 {
					t.Error("no duplicate plays")
				}
			} else if len(rejected) > 0 || dups > 0 {
				t.Errorf("clean data with rejects %v, %d duplicates", rejected, dups)
			}
			if share := float64(plays) / float64(lines); share < 0.78 || share > 0.92 {
				t.Errorf("NextSong share %.3f, pages %v", share, pages)
			}
			if uniq := plays - dups; uniq > 500 && o.Songs > 0 {
				if got := float64(matched) / float64(uniq); math.Abs(got-o.MatchShare) > 0.06 {
					t.Errorf("match share %.3f, want about %.2f", got, o.MatchShare)
				}
			}
			if o.Songs == 0 && matched > 0 {
				t.Error("matches without a catalog")
			}
			if changed == 0 || shared == 0 {
				t.Errorf("%d users changed level, %d sessions shared with a logged-out visit; want some of each", changed, shared)
			}
			t.Logf("%+v; pages %v; %d level changes, %d shared sessions", c, pages, changed, shared)
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkASCII: the real files are pure ASCII (non-ASCII is \u-escaped).
func checkASCII(t *testing.T, where string, raw []byte) {
	t.Helper()
	for _, c := range raw {
		if c >= 0x80 {
			t.Errorf("%s: raw non-ASCII byte", where)
			return
		}
	}
}

// TestUnicode checks that accented, CJK and emoji names are generated, and survive the escaping.
func TestUnicode(t *testing.T) {
	_, m := generate(t, Options{Songs: 400, Events: 0, Days: 1, Seed: 1})
	kinds := map[string]bool{}
	for _, name := range m.names("song_data/") {
		var s map[string]any
		if err := json.Unmarshal(m[name].Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"artist_name", "title", "artist_location"} {
			for _, r := range s[k].(string) {
				switch {
				case r >= 0x1F300:
					kinds["emoji"] = true
				case r >= 0x3040:
					kinds["cjk"] = true
				case r >= 0x80:
					kinds["accent"] = true
				}
			}
		}
	}
	if len(kinds) != 3 {
		t.Errorf("unicode kinds %v, want accent, cjk and emoji", kinds)
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct {
		in, log, song string
	}{
		{"", `""`, `""`},
		{"AC/DC", `"AC\/DC"`, `"AC/DC"`},
		{`say "hi" \o/`, `"say \"hi\" \\o\/"`, `"say \"hi\" \\o/"`},
		{"Björk", `"Bj\u00f6rk"`, `"Bj\u00f6rk"`},
		{"東京", `"\u6771\u4eac"`, `"\u6771\u4eac"`},
		{"🔥!", `"\ud83d\udd25!"`, `"\ud83d\udd25!"`},
		{"a\tb\n\x00\x1f\x7f", `"a\u0009b\u000a\u0000\u001f` + "\x7f\"", `"a\u0009b\u000a\u0000\u001f` + "\x7f\""},
		{"bad\xffbyte", `"bad\ufffdbyte"`, `"bad\ufffdbyte"`},
	} {
		if got := string(appendString(nil, tc.in, true)); got != tc.log {
			t.Errorf("log flavour of %q: %s, want %s", tc.in, got, tc.log)
		}
		if got := string(appendString(nil, tc.in, false)); got != tc.song {
			t.Errorf("song flavour of %q: %s, want %s", tc.in, got, tc.song)
		}
		var back string
		if err := json.Unmarshal(appendString(nil, tc.in, true), &back); err != nil || back != strings.ToValidUTF8(tc.in, "\uFFFD") {
			t.Errorf("%q reads back as %q (%v)", tc.in, back, err)
		}
	}
	if got, want := mojibake("Björk"), "Bj\u00c3\u0083\u00c2\u00b6rk"; got != want {
		t.Errorf("mojibake: %q, want %q", got, want)
	}
}

func TestAppendFixed5(t *testing.T) {
	for units, want := range map[int64]string{
		26958322: "269.58322", 24756200: "247.562", 20000000: "200.0", 0: "0.0",
		-8678549: "-86.78549", 12300000: "123.0", 1: "0.00001",
	} {
		if got := string(appendFixed5(nil, units)); got != want {
			t.Errorf("%d: %s, want %s", units, got, want)
		}
	}
}

func TestZipf(t *testing.T) {
	r := stream(1, 1)
	for _, n := range []int{1, 2, 7, 1000, 100000} {
		z := newZipf(n, 1+n/20)
		hits := make([]int, n)
		for range 20000 {
			hits[z.pick(r)]++
		}
		if n > 1 && hits[0] <= hits[n-1] {
			t.Errorf("n=%d: head %d, tail %d: not skewed", n, hits[0], hits[n-1])
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{
		{Songs: -1, Days: 1},
		{Events: 10, Days: 1},
		{Events: 10, Users: 1},
		{Events: 10, Users: 1, Days: 1, MatchShare: 1.5},
		{Events: 10, Users: 1, Days: 1, MatchShare: math.NaN()},
		{Events: 50, Users: 1, Days: 1, Dirty: true},
		{Songs: 1, Days: 1, SongsPerFile: -2},
	} {
		if _, err := Generate(context.Background(), o, memFiles{}.create); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, configs[3].opts, memFiles{}.create); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// BenchmarkGenerate measures the whole of Generate (catalog, pool, users and log) with output
// thrown away, so that it measures the generator and not a disk.
func BenchmarkGenerate(b *testing.B) {
	o := Options{Songs: 10000, SongsPerFile: 100, Events: 1_000_000, Users: 1000, Days: 30,
		Start: day(2018, 11, 1), Seed: 1, MatchShare: 0.3, Dirty: true}
	b.ReportAllocs()
	var written int64
	create := func(string) (io.WriteCloser, error) { return discard{}, nil }
	for b.Loop() {
		c, err := Generate(context.Background(), o, create)
		if err != nil {
			b.Fatal(err)
		}
		written += int64(c.Events)
	}
	b.ReportMetric(float64(written)/b.Elapsed().Seconds(), "events/s")
}
