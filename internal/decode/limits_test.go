package decode

import (
	"bytes"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/record"
)

// decodeAll decodes data as a whole song file (kind song) or a block of event lines (kind event)
// and returns how many records it accepted and the rejects.
func decodeAll(d *Decoder, kind record.Kind, data []byte) (accepted int, rejects []*record.Reject) {
	rej := func(r *record.Reject) { rejects = append(rejects, r) }
	if kind == record.KindSong {
		d.SongFile("f.json", data, func(record.Song) { accepted++ }, rej)
	} else {
		d.EventLines("f.json", data, 1, 0, func(record.Event) { accepted++ }, rej)
	}
	return accepted, rejects
}

// allocated returns the bytes f allocates: a deterministic measure of its work, where the
// quadratic failures this guards against (a parser that wraps its error once per nesting level)
// show as well as in time.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func nested(open, close string, depth int, inner string) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

func TestDepthLimit(t *testing.T) {
	const deep = "nesting deeper than 64"
	// goodEvent with one more field, whose value is given.
	eventPlus := func(value string) string { return strings.Replace(goodEvent, "{", `{"x": `+value+`, `, 1) }
	songPlus := func(value string) string { return strings.Replace(goodSong, "{", `{"x": `+value+`, `, 1) }
	tests := []struct {
		name   string
		kind   record.Kind
		data   string
		reason record.Reason // "" when the record is accepted
		field  string
		detail string // a substring of the reject's detail
	}{
		{"event line of 30,000 [", record.KindEvent, strings.Repeat("[", 30000), record.ReasonInvalidJSON, "", deep},
		{"event line of 30,000 balanced [ ]", record.KindEvent, nested("[", "]", 30000, ""), record.ReasonInvalidJSON, "", deep},
		{"event line of 30,000 nested objects", record.KindEvent, strings.Repeat(`{"a":`, 30000), record.ReasonInvalidJSON, "", deep},
		{"event with a field nested 65 deep", record.KindEvent, eventPlus(nested("[", "]", 64, "1")), record.ReasonInvalidJSON, "", deep},
		{"event with a field nested 64 deep is accepted", record.KindEvent, eventPlus(nested("[", "]", 63, "1")), "", "", ""},
		{"event with ts nested 64 deep is the wrong type", record.KindEvent, eventWith("ts", nested("[", "]", 63, "1")), record.ReasonWrongType, "ts", ""},
		{"event line nested 64 deep is not an object", record.KindEvent, nested("[", "]", 64, ""), record.ReasonNotObject, "", ""},
		{"event of 64 nested objects misses its fields", record.KindEvent, nested(`{"a":`, "}", 64, "1"), record.ReasonMissingField, "ts", ""},
		{"event of 65 nested objects", record.KindEvent, nested(`{"a":`, "}", 65, "1"), record.ReasonInvalidJSON, "", deep},
		// A nested field sends these lines to the general path, where the depth is counted.
		{"brackets in strings do not nest", record.KindEvent, eventPlus(`[], "z": "` + strings.Repeat("[{", 100) + `\"["`), "", "", ""},
		{"brackets in escaped strings do not nest", record.KindEvent, eventPlus(`[], "y": "\\\"` + strings.Repeat("[", 100) + `"`), "", "", ""},
		{"brackets in a song's strings do not nest", record.KindSong, songWith("title", `"`+strings.Repeat("[{", 100)+`"`), "", "", ""},
		{"deep invalid JSON after a string", record.KindEvent, `{"a":"x\"]]]",` + strings.Repeat("[", 100), record.ReasonInvalidJSON, "", deep},
		{"3 MB song file of [", record.KindSong, strings.Repeat("[", 3<<20), record.ReasonInvalidJSON, "", deep},
		{"3 MB song file of balanced [ ]", record.KindSong, nested("[", "]", 3<<19, ""), record.ReasonInvalidJSON, "", deep},
		{"3 MB song file of nested objects", record.KindSong, strings.Repeat(`{"a":`, 3<<20/5), record.ReasonInvalidJSON, "", deep},
		{"3 MB event line of [", record.KindEvent, strings.Repeat("[", 3<<20), record.ReasonInvalidJSON, "", deep},
		{"song of 65 nested objects", record.KindSong, nested(`{"a":`, "}", 65, "1"), record.ReasonInvalidJSON, "", deep},
		{"song of 64 nested objects misses its fields", record.KindSong, nested(`{"a":`, "}", 64, "1"), record.ReasonMissingField, "song_id", ""},
		{"song nested 64 deep is not an object", record.KindSong, nested("[", "]", 64, ""), record.ReasonNotObject, "", ""},
		{"song with a field nested 64 deep is accepted", record.KindSong, songPlus(nested("[", "]", 63, "")), "", "", ""},
		{"song with a field nested 65 deep", record.KindSong, songPlus(nested("[", "]", 64, "")), record.ReasonInvalidJSON, "", deep},
		{"song with a title nested 64 deep is the wrong type", record.KindSong, songWith("title", nested("[", "]", 63, `"t"`)), record.ReasonWrongType, "title", ""},
	}
	// Before the limit, the deepest of these inputs took minutes and gigabytes: fail fast instead
	// of hanging the test binary. Milliseconds are expected; the watchdog is generous.
	watchdog := time.AfterFunc(time.Minute, func() {
		panic("TestDepthLimit: decoding took over a minute: deep nesting reaches the JSON parser")
	})
	defer watchdog.Stop()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decoder{MaxTS: MaxTSAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}
			var accepted int
			var rejects []*record.Reject
			work := allocated(func() { accepted, rejects = decodeAll(&d, tt.kind, []byte(tt.data)) })
			// Linear: the reject holds a copy of the input; anything beyond a few copies and a
			// constant is the parser doing work per nesting level.
			if limit := uint64(4*len(tt.data) + 1<<20); work > limit {
				t.Errorf("decoding %d bytes allocated %d bytes, want at most %d", len(tt.data), work, limit)
			}
			if tt.reason == "" {
				if accepted != 1 || len(rejects) != 0 {
					t.Fatalf("got %d records and rejects %v, want 1 record", accepted, rejects)
				}
				return
			}
			if accepted != 0 || len(rejects) != 1 {
				t.Fatalf("got %d records and %d rejects, want one reject", accepted, len(rejects))
			}
			r := rejects[0]
			if r.Reason != tt.reason || r.Field != tt.field || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("got reject %s %q %q, want %s %q with detail %q", r.Reason, r.Field, shorten(r.Detail), tt.reason, tt.field, tt.detail)
			}
			if tt.detail == "" && strings.Contains(r.Detail, deep) {
				t.Errorf("depth %d rejected for its depth: %s", MaxDepth, r.Detail)
			}
			if !bytes.Equal(r.Raw, []byte(tt.data)) {
				t.Errorf("reject raw is %d bytes, want the %d bytes of input", len(r.Raw), len(tt.data))
			}
		})
	}
}

func TestTimestampRange(t *testing.T) {
	if want := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(); MinTS != want {
		t.Fatalf("MinTS = %d, want %d", MinTS, want)
	}
	fixed := time.Date(2026, 3, 14, 15, 9, 26, 535e6, time.UTC)
	if got, want := MaxTSAt(fixed), fixed.UnixMilli()+24*3600*1000; got != want {
		t.Fatalf("MaxTSAt = %d, want %d", got, want)
	}
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	tests := []struct {
		name   string
		ts     string
		reject bool
	}{
		{"MaxInt64", strconv.FormatInt(math.MaxInt64, 10), true},
		{"MinInt64", strconv.FormatInt(math.MinInt64, 10), true},
		{"zero", "0", true},
		{"minus zero", "-0", true},
		{"-1", "-1", true},
		{"1999-12-31", ms(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)), true},
		{"the last ms of 1999", strconv.FormatInt(MinTS-1, 10), true},
		{"2000-01-01 exactly", strconv.FormatInt(MinTS, 10), false},
		{"2000-01-01 as a float", "946684800000.0", false},
		{"the sample's first play", "1541105830796", false},
		{"run start + 23h", ms(fixed.Add(23 * time.Hour)), false},
		{"run start + 24h exactly", ms(fixed.Add(24 * time.Hour)), false},
		{"run start + 24h + 1 ms", ms(fixed.Add(24*time.Hour + time.Millisecond)), true},
		{"run start + 25h", ms(fixed.Add(25 * time.Hour)), true},
		{"year 292278994", "9223372036854775000", true},
	}
	for _, tt := range tests {
		// The fast path takes the flat line; a nested extra field sends it to the general path.
		for _, path := range []struct {
			name string
			fast bool
			line string
		}{
			{"fast", true, eventWith("ts", tt.ts)},
			{"general", false, strings.Replace(eventWith("ts", tt.ts), "{", `{"x": [0], `, 1)},
		} {
			t.Run(tt.name+"/"+path.name, func(t *testing.T) {
				var s flatScanner
				if s.event([]byte(path.line)) != path.fast {
					t.Fatalf("the line does not take the %s path", path.name)
				}
				d := Decoder{MaxTS: MaxTSAt(fixed)}
				e, r := d.Event([]byte(path.line), record.Source{})
				if !tt.reject {
					if r != nil {
						t.Fatalf("got reject %v, want an event", r)
					}
					if strconv.FormatInt(e.TS, 10) != strings.TrimSuffix(tt.ts, ".0") {
						t.Errorf("got ts %d, want %s", e.TS, tt.ts)
					}
					return
				}
				if r == nil {
					t.Fatalf("got event at %v, want a reject", time.UnixMilli(e.TS).UTC())
				}
				if r.Reason != record.ReasonOutOfRange || r.Field != "ts" {
					t.Errorf("got reject %s %q, want out_of_range ts", r.Reason, r.Field)
				}
				for _, bound := range []string{"2000-01-01T00:00:00Z", "2026-03-15T15:09:26.535Z"} {
					if !strings.Contains(r.Detail, bound) {
						t.Errorf("detail %q does not name the bound %s", r.Detail, bound)
					}
				}
			})
		}
	}
}

func TestTimestampRangeDefaultsToNow(t *testing.T) {
	now := time.Now()
	var d Decoder // the zero value: MaxTS is now + 24h, taken on first use
	for _, tt := range []struct {
		ts     time.Time
		reject bool
	}{
		{now.Add(23 * time.Hour), false},
		{now.Add(25 * time.Hour), true},
		{time.Date(2018, 11, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		_, r := d.Event([]byte(eventWith("ts", strconv.FormatInt(tt.ts.UnixMilli(), 10))), record.Source{})
		if got := r != nil; got != tt.reject {
			t.Errorf("ts %v: got reject %v, want reject %v", tt.ts, r, tt.reject)
		}
	}
	if d.MaxTS < MaxTSAt(now) || d.MaxTS > MaxTSAt(time.Now()) {
		t.Errorf("MaxTS %d is not now + 24h", d.MaxTS)
	}
}

func TestDuplicateKey(t *testing.T) {
	// Each input has its last (or only) repeated key at the end, after goodEvent's or goodSong's
	// own fields, or at the start: both places must be caught.
	addEnd := func(obj, fields string) string { return strings.TrimSuffix(obj, "}") + ", " + fields + "}" }
	addStart := func(obj, fields string) string { return strings.Replace(obj, "{", "{"+fields+", ", 1) }
	tests := []struct {
		name  string
		kind  record.Kind
		raw   string
		field string // "" when the record is accepted
	}{
		{"event: a known key twice", record.KindEvent, addEnd(goodEvent, `"page": "Home"`), "page"},
		{"event: the same value twice", record.KindEvent, addEnd(goodEvent, `"ts": 1542837407796`), "ts"},
		{"event: an unknown key twice", record.KindEvent, addEnd(goodEvent, `"x": 1, "x": 2`), "x"},
		{"event: an unknown key twice, apart", record.KindEvent, addEnd(addStart(goodEvent, `"x": 1`), `"x": 2`), "x"},
		{"event: an escaped key equals a plain one", record.KindEvent, addStart(goodEvent, `"pa\u0067e": "Home"`), "page"},
		{"event: an escaped unknown key equals a plain one", record.KindEvent, addEnd(goodEvent, `"\u0078": 1, "x": 2`), "x"},
		{"event: two escaped forms of one key", record.KindEvent, addEnd(goodEvent, `"\u00e9": 1, "\u00E9": 2`), "é"},
		{"event: repeated keys of a nested object are not checked", record.KindEvent, addEnd(goodEvent, `"x": {"a": 1, "a": 2}`), ""},
		{"event: keys differ in case", record.KindEvent, addEnd(goodEvent, `"X": 1, "x": 2, "Page": "Home"`), ""},
		{"event: a repeated key wins over a missing field", record.KindEvent, `{"a": 1, "a": 2}`, "a"},
		{"event: a repeat among many keys", record.KindEvent, addEnd(goodEvent, manyKeys(200)+`, "k7": 0`), "k7"},
		{"event: many distinct keys", record.KindEvent, addEnd(goodEvent, manyKeys(200)), ""},
		{"song: a known key twice", record.KindSong, addEnd(goodSong, `"title": "Other"`), "title"},
		{"song: an unknown key twice", record.KindSong, addStart(goodSong, `"a": [1], "a": [1]`), "a"},
		{"song: an escaped key equals a plain one", record.KindSong, addEnd(goodSong, `"t\u0069tle": "Other"`), "title"},
		{"song: repeated keys of a nested object are not checked", record.KindSong, addEnd(goodSong, `"x": [{"a": 1, "a": 2}]`), ""},
		{"song: a repeat among many keys", record.KindSong, addStart(goodSong, manyKeys(100)+`, "k99": 0`), "k99"},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *record.Reject
			if tt.kind == record.KindSong {
				_, r = d.Song([]byte(tt.raw), record.Source{})
			} else {
				_, r = d.Event([]byte(tt.raw), record.Source{})
			}
			if tt.field == "" {
				if r != nil {
					t.Fatalf("got reject %v, want a record", r)
				}
				return
			}
			if r == nil {
				t.Fatal("got a record, want a duplicate_key reject")
			}
			if r.Reason != record.ReasonDuplicateKey || r.Field != tt.field || r.Detail == "" {
				t.Errorf("got reject %s %q %q, want duplicate_key %q with a detail", r.Reason, r.Field, r.Detail, tt.field)
			}
		})
	}
}

// manyKeys returns n fields k0 … k(n-1), to fill an object past any small-size shortcut.
func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `": ` + strconv.Itoa(i))
	}
	return b.String()
}

func TestInvalidUTF8Detail(t *testing.T) {
	tests := []struct {
		name   string
		kind   record.Kind
		raw    string
		field  string
		detail string
	}{
		{"song title", record.KindSong, songWith("title", "\"a\xffb\""), "title", "byte 0xff at offset 1 "},
		{"song title after an escape", record.KindSong, songWith("title", "\"\\u00e9\\n\xc3(\""), "title", "byte 0xc3 at offset 3 "},
		{"event artist, fast path", record.KindEvent, eventWith("artist", "\"Bj\xf6rk\""), "artist", "byte 0xf6 at offset 2 "},
		{"event artist, general path", record.KindEvent, strings.Replace(eventWith("artist", "\"Bj\xf6rk\""), "{", `{"x": [], `, 1), "artist", "byte 0xf6 at offset 2 "},
		{"event page, truncated sequence at the end", record.KindEvent, eventWith("page", "\"Next\xe2\x82\""), "page", "byte 0xe2 at offset 4 "},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *record.Reject
			if tt.kind == record.KindSong {
				_, r = d.Song([]byte(tt.raw), record.Source{})
			} else {
				_, r = d.Event([]byte(tt.raw), record.Source{})
			}
			if r == nil {
				t.Fatal("got a record, want an invalid_utf8 reject")
			}
			if r.Reason != record.ReasonInvalidUTF8 || r.Field != tt.field || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("got reject %s %q %q, want invalid_utf8 %q with detail %q", r.Reason, r.Field, r.Detail, tt.field, tt.detail)
			}
		})
	}
}
