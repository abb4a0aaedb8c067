package decode

import (
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/record"
)

const goodSong = `{"num_songs": 1, "artist_id": "AR1", "artist_latitude": 35.5, "artist_longitude": -97.5, "artist_location": "Oklahoma", "artist_name": "Elena", "song_id": "SO1", "title": "Setanta matins", "duration": 269.58159, "year": 2005}`

func songWith(field, value string) string {
	return replaceField(goodSong, field, value)
}

// replaceField swaps one field's value in a flat JSON object, or removes the field when value is "".
func replaceField(obj, field, value string) string {
	key := `"` + field + `": `
	i := strings.Index(obj, key)
	if i < 0 {
		panic("no field " + field)
	}
	j := i + len(key)
	depth, inStr := 0, false
	for ; j < len(obj); j++ {
		c := obj[j]
		if inStr {
			if c == '\\' {
				j++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
		} else if c == '[' || c == '{' {
			depth++
		} else if (c == ',' || c == '}') && depth == 0 {
			break
		} else if c == ']' || c == '}' {
			depth--
		}
	}
	if value == "" {
		rest := obj[j:]
		if strings.HasPrefix(rest, ", ") {
			rest = rest[2:]
		} else {
			return strings.TrimSuffix(strings.TrimRight(obj[:i], " "), ",") + rest
		}
		return obj[:i] + rest
	}
	return obj[:j-len(obj[i+len(key):j])] + value + obj[j:]
}

func TestSong(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		reason record.Reason
		field  string
		check  func(t *testing.T, s record.Song)
	}{
		{name: "valid song keeps every field", raw: goodSong, check: func(t *testing.T, s record.Song) {
			if s.SongID != "SO1" || s.Title != "Setanta matins" || s.ArtistID != "AR1" || s.ArtistName != "Elena" ||
				s.ArtistLocation != "Oklahoma" || s.Duration != 269.58159 || s.Year != 2005 ||
				!s.HasLatitude || s.Latitude != 35.5 || !s.HasLongitude || s.Longitude != -97.5 {
				t.Errorf("got %+v", s)
			}
		}},
		{name: "null coordinates stay unknown, not 0", raw: songWith("artist_latitude", "null"), check: func(t *testing.T, s record.Song) {
			if s.HasLatitude || !s.HasLongitude {
				t.Errorf("got HasLatitude=%v HasLongitude=%v, want false true", s.HasLatitude, s.HasLongitude)
			}
		}},
		{name: "coordinate 0 is known", raw: songWith("artist_longitude", "0"), check: func(t *testing.T, s record.Song) {
			if !s.HasLongitude || s.Longitude != 0 {
				t.Errorf("got %v %v", s.HasLongitude, s.Longitude)
			}
		}},
		{name: "missing coordinates are unknown", raw: songWith("artist_latitude", ""), check: func(t *testing.T, s record.Song) {
			if s.HasLatitude {
				t.Error("got a latitude")
			}
		}},
		{name: "empty location is unknown", raw: songWith("artist_location", `""`), check: func(t *testing.T, s record.Song) {
			if s.ArtistLocation != "" {
				t.Errorf("got %q", s.ArtistLocation)
			}
		}},
		{name: "null location is unknown", raw: songWith("artist_location", `null`)},
		{name: "year 0 is accepted as unknown", raw: songWith("year", "0"), check: func(t *testing.T, s record.Song) {
			if s.Year != 0 {
				t.Errorf("got %d", s.Year)
			}
		}},
		{name: "integral float year is an integer", raw: songWith("year", "2005.0")},
		{name: "unknown fields are ignored", raw: strings.Replace(goodSong, "{", `{"extra": [1, {"a": 2}], `, 1)},
		{name: "unicode is kept", raw: songWith("artist_name", `"Bj\u00f6rk \ud83c\udfb5"`), check: func(t *testing.T, s record.Song) {
			if s.ArtistName != "Björk 🎵" {
				t.Errorf("got %q", s.ArtistName)
			}
		}},
		{name: "latitude above 90 is out of range", raw: songWith("artist_latitude", "90.5"), reason: record.ReasonOutOfRange, field: "artist_latitude"},
		{name: "longitude below -180 is out of range", raw: songWith("artist_longitude", "-180.01"), reason: record.ReasonOutOfRange, field: "artist_longitude"},
		{name: "coordinate as a string is the wrong type", raw: songWith("artist_latitude", `"35.5"`), reason: record.ReasonWrongType, field: "artist_latitude"},
		{name: "missing song_id", raw: songWith("song_id", ""), reason: record.ReasonMissingField, field: "song_id"},
		{name: "null title is missing", raw: songWith("title", "null"), reason: record.ReasonMissingField, field: "title"},
		{name: "empty artist_id", raw: songWith("artist_id", `""`), reason: record.ReasonEmptyValue, field: "artist_id"},
		{name: "artist_name as a number", raw: songWith("artist_name", `12`), reason: record.ReasonWrongType, field: "artist_name"},
		{name: "duration 0 is out of range", raw: songWith("duration", "0"), reason: record.ReasonOutOfRange, field: "duration"},
		{name: "negative duration is out of range", raw: songWith("duration", "-1.5"), reason: record.ReasonOutOfRange, field: "duration"},
		{name: "missing duration", raw: songWith("duration", ""), reason: record.ReasonMissingField, field: "duration"},
		{name: "fractional year is the wrong type", raw: songWith("year", "2005.5"), reason: record.ReasonWrongType, field: "year"},
		{name: "year as a string is the wrong type", raw: songWith("year", `"2005"`), reason: record.ReasonWrongType, field: "year"},
		{name: "location as a number is the wrong type", raw: songWith("artist_location", `7`), reason: record.ReasonWrongType, field: "artist_location"},
		{name: "a JSON array is not an object", raw: `[1, 2]`, reason: record.ReasonNotObject},
		{name: "a truncated object is invalid JSON", raw: goodSong[:40], reason: record.ReasonInvalidJSON},
		{name: "NaN is invalid JSON", raw: songWith("duration", "NaN"), reason: record.ReasonInvalidJSON},
		{name: "a bad escape is invalid JSON", raw: songWith("title", `"a\qb"`), reason: record.ReasonInvalidJSON},
		{name: "invalid UTF-8 is rejected", raw: songWith("title", "\"a\xffb\""), reason: record.ReasonInvalidUTF8, field: "title"},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := record.Source{Path: "A/B/C/x.json", Line: 1}
			s, r := d.Song([]byte(tt.raw), src)
			if tt.reason == "" {
				if r != nil {
					t.Fatalf("got reject %v, want a song", r)
				}
				if s.Src != src {
					t.Errorf("got source %+v, want %+v", s.Src, src)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
				return
			}
			if r == nil {
				t.Fatalf("got song %+v, want reject %s %s", s, tt.reason, tt.field)
			}
			if r.Reason != tt.reason || r.Field != tt.field {
				t.Errorf("got reject %s %q, want %s %q (%v)", r.Reason, r.Field, tt.reason, tt.field, r)
			}
			if string(r.Raw) != tt.raw {
				t.Errorf("got raw %q, want the input byte for byte", r.Raw)
			}
		})
	}
}

const goodEvent = `{"artist": "Elena", "auth": "Logged In", "firstName": "Lily", "gender": "F", "itemInSession": 5, "lastName": "Koch", "length": 269.58322, "level": "paid", "location": "Chicago-Naperville-Elgin, IL-IN-WI", "method": "PUT", "page": "NextSong", "registration": 1541048010796.0, "sessionId": 818, "song": "Setanta matins", "status": 200, "ts": 1542837407796, "userAgent": "\"Mozilla\/5.0 (X11; Linux x86_64)\"", "userId": "15"}`

func eventWith(field, value string) string { return replaceField(goodEvent, field, value) }

func TestEvent(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		reason record.Reason
		field  string
		check  func(t *testing.T, e record.Event)
	}{
		{name: "valid play keeps every field", raw: goodEvent, check: func(t *testing.T, e record.Event) {
			want := record.Event{TS: 1542837407796, SessionID: 818, ItemInSession: 5, Page: "NextSong", UserID: 15, HasUser: true,
				Artist: "Elena", Song: "Setanta matins", Length: 269.58322, HasLength: true, FirstName: "Lily", LastName: "Koch",
				Gender: "F", Level: "paid", Location: "Chicago-Naperville-Elgin, IL-IN-WI", UserAgent: `"Mozilla/5.0 (X11; Linux x86_64)"`}
			e.Src = record.Source{}
			if e != want {
				t.Errorf("got %+v\nwant %+v", e, want)
			}
		}},
		{name: "a visitor who is not logged in has no user", raw: replaceField(eventWith("page", `"Home"`), "userId", `""`), check: func(t *testing.T, e record.Event) {
			if e.HasUser {
				t.Error("got a user")
			}
		}},
		{name: "null length on a play is accepted", raw: eventWith("length", "null"), check: func(t *testing.T, e record.Event) {
			if e.HasLength {
				t.Error("got a length")
			}
		}},
		{name: "integral float ts is an integer", raw: eventWith("ts", "1542837407796.0")},
		{name: "NextSong without a user id is rejected", raw: eventWith("userId", `""`), reason: record.ReasonEmptyValue, field: "userId"},
		{name: "NextSong without a song", raw: eventWith("song", "null"), reason: record.ReasonMissingField, field: "song"},
		{name: "NextSong with an empty artist", raw: eventWith("artist", `""`), reason: record.ReasonEmptyValue, field: "artist"},
		{name: "NextSong with a length as text", raw: eventWith("length", `"269"`), reason: record.ReasonWrongType, field: "length"},
		{name: "missing ts", raw: eventWith("ts", ""), reason: record.ReasonMissingField, field: "ts"},
		{name: "ts as a string", raw: eventWith("ts", `"1542837407796"`), reason: record.ReasonWrongType, field: "ts"},
		{name: "fractional sessionId", raw: eventWith("sessionId", "1.5"), reason: record.ReasonWrongType, field: "sessionId"},
		{name: "itemInSession beyond int32", raw: eventWith("itemInSession", "3000000000"), reason: record.ReasonOutOfRange, field: "itemInSession"},
		{name: "userId as a number", raw: eventWith("userId", "15"), reason: record.ReasonWrongType, field: "userId"},
		{name: "userId that is not an integer", raw: eventWith("userId", `"abc"`), reason: record.ReasonWrongType, field: "userId"},
		{name: "missing page", raw: eventWith("page", ""), reason: record.ReasonMissingField, field: "page"},
		{name: "firstName as a number", raw: eventWith("firstName", "1"), reason: record.ReasonWrongType, field: "firstName"},
		{name: "auth as a bool", raw: eventWith("auth", "true"), reason: record.ReasonWrongType, field: "auth"},
		{name: "a truncated line is invalid JSON", raw: goodEvent[:len(goodEvent)-10], reason: record.ReasonInvalidJSON},
		{name: "a number line is not an object", raw: `42`, reason: record.ReasonNotObject},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, r := d.Event([]byte(tt.raw), record.Source{Path: "2018/11/x.json", Line: 3})
			if tt.reason == "" {
				if r != nil {
					t.Fatalf("got reject %v, want an event", r)
				}
				if tt.check != nil {
					tt.check(t, e)
				}
				return
			}
			if r == nil {
				t.Fatalf("got event %+v, want reject %s %s", e, tt.reason, tt.field)
			}
			if r.Reason != tt.reason || r.Field != tt.field {
				t.Errorf("got reject %s %q, want %s %q (%v)", r.Reason, r.Field, tt.reason, tt.field, r)
			}
			if string(r.Raw) != tt.raw {
				t.Errorf("got raw %q, want the input byte for byte", r.Raw)
			}
		})
	}
}

func TestSongFile(t *testing.T) {
	one := `{"song_id":"S1","title":"T","artist_id":"A","artist_name":"N","duration":1,"year":0}`
	two := `{"song_id":"S2","title":"T","artist_id":"A","artist_name":"N","duration":1,"year":0}`
	pretty := "{\n  \"song_id\": \"S3\",\n  \"title\": \"T\",\n  \"artist_id\": \"A\",\n  \"artist_name\": \"N\",\n  \"duration\": 1,\n  \"year\": 0\n}"
	tests := []struct {
		name      string
		data      string
		wantSongs []string // song ids
		wantLines []int    // lines of songs then rejects
		wantRej   []record.Reason
	}{
		{"one compact object without newline", one, []string{"S1"}, []int{1}, nil},
		{"one object per line", one + "\n" + two + "\n", []string{"S1", "S2"}, []int{1, 2}, nil},
		{"concatenated objects", one + two, []string{"S1", "S2"}, []int{1, 1}, nil},
		{"pretty-printed object", "\n" + pretty + "\n" + one, []string{"S3", "S1"}, []int{2, 10}, nil},
		{"a truncated file rejects its tail only", one + "\n" + two[:30], []string{"S1"}, []int{1, 2}, []record.Reason{record.ReasonInvalidJSON}},
		{"a garbage line between objects", one + "\nnot json\n" + two, []string{"S1", "S2"}, []int{1, 3, 2, 2}, []record.Reason{record.ReasonInvalidJSON, record.ReasonInvalidJSON}},
		{"an array is not an object", "[" + one + "]", nil, []int{1}, []record.Reason{record.ReasonNotObject}},
		{"empty file has no records", "  \n", nil, nil, nil},
	}
	var d Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			var lines []int
			var rejLines []int
			var reasons []record.Reason
			d.SongFile("f.json", []byte(tt.data), func(s record.Song) {
				ids = append(ids, s.SongID)
				lines = append(lines, s.Src.Line)
			}, func(r *record.Reject) {
				reasons = append(reasons, r.Reason)
				rejLines = append(rejLines, r.Src.Line)
			})
			if strings.Join(ids, ",") != strings.Join(tt.wantSongs, ",") {
				t.Errorf("got songs %v, want %v", ids, tt.wantSongs)
			}
			if got := append(lines, rejLines...); !slices.Equal(got, tt.wantLines) {
				t.Errorf("got lines %v, want %v", got, tt.wantLines)
			}
			if !slices.Equal(reasons, tt.wantRej) {
				t.Errorf("got rejects %v, want %v", reasons, tt.wantRej)
			}
		})
	}
}

func TestEventLines(t *testing.T) {
	data := goodEvent + "\r\n\n   \n" + `{"ts": ` + "\n" + eventWith("page", `"Home"`)
	var lines []int
	var rejected []int
	var d Decoder
	d.EventLines("x.json", []byte(data), 10, 100, func(e record.Event) {
		lines = append(lines, e.Src.Line)
		if e.Src.Line == 10 && e.Src.Offset != 100 {
			t.Errorf("got offset %d, want 100", e.Src.Offset)
		}
	}, func(r *record.Reject) {
		rejected = append(rejected, r.Src.Line)
		if string(r.Raw) != `{"ts": ` {
			t.Errorf("got raw %q", r.Raw)
		}
	})
	if !slices.Equal(lines, []int{10, 14}) || !slices.Equal(rejected, []int{13}) {
		t.Errorf("got records on lines %v and rejects on %v, want [10 14] and [13]", lines, rejected)
	}
}
