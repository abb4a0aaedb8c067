package decode

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/record"
)

// checkReject asserts the properties every reject has: a known reason and raw bytes that are
// exactly the input's bytes at the reject's offset.
func checkReject(t *testing.T, data []byte, base int64, r *record.Reject) {
	t.Helper()
	if !slices.Contains(record.Reasons, r.Reason) {
		t.Fatalf("unknown reason %q", r.Reason)
	}
	off := r.Src.Offset - base
	if off < 0 || off+int64(len(r.Raw)) > int64(len(data)) || !bytes.Equal(data[off:off+int64(len(r.Raw))], r.Raw) {
		t.Fatalf("reject raw %q is not the input at offset %d", r.Raw, r.Src.Offset)
	}
	if blank(r.Raw) {
		t.Fatalf("reject of blank bytes at offset %d", r.Src.Offset)
	}
}

// FuzzSongFile checks that any bytes are cut into values that each become a song or a reject,
// covering every non-space byte, and that nothing panics.
func FuzzSongFile(f *testing.F) {
	f.Add([]byte(goodSong))
	f.Add([]byte(goodSong + "\n" + goodSong))
	f.Add([]byte(goodSong[:50]))
	f.Add([]byte(`[1,2] "x" 3 {"a":}`))
	f.Add([]byte("{\n\"song_id\": \"\\u00e9\"\n}"))
	for _, seed := range nestedSeeds {
		f.Add([]byte(seed))
	}
	f.Add([]byte(strings.Replace(goodSong, "{", `{"title": "x", "t\u0069tle": "y", `, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		covered := 0
		var last int64 = -1
		d.SongFile("f.json", data, func(s record.Song) {
			if s.Src.Offset <= last {
				t.Fatalf("records out of order: offset %d after %d", s.Src.Offset, last)
			}
			last = s.Src.Offset
			if s.SongID == "" || s.Title == "" || s.ArtistID == "" || s.ArtistName == "" || !(s.Duration > 0) {
				t.Fatalf("accepted an invalid song %+v", s)
			}
			covered++
		}, func(r *record.Reject) {
			if r.Src.Offset <= last {
				t.Fatalf("rejects out of order: offset %d after %d", r.Src.Offset, last)
			}
			last = r.Src.Offset
			checkReject(t, data, 0, r)
			covered++
		})
		if !blank(data) && covered == 0 {
			t.Fatalf("non-blank input %q gave neither a song nor a reject", data)
		}
	})
}

// FuzzEventLines checks that every non-blank line becomes exactly one event or one reject.
func FuzzEventLines(f *testing.F) {
	f.Add([]byte(goodEvent))
	f.Add([]byte(goodEvent + "\r\n\n" + goodEvent[:20]))
	f.Add([]byte(eventWith("userId", `""`)))
	f.Add([]byte(`{"ts":1,"sessionId":1,"itemInSession":1,"page":"Home","userId":""}`))
	f.Add([]byte("[]\n42\n\"s\"\nnull"))
	for _, seed := range nestedSeeds {
		f.Add([]byte(seed + "\n" + goodEvent))
	}
	f.Add([]byte(eventWith("ts", "9223372036854775807") + "\n" + eventWith("ts", "0") + "\n" + eventWith("ts", "-1")))
	f.Add([]byte(strings.Replace(goodEvent, "{", `{"x": 1, "pa\u0067e": "Home", "x": 2, `, 1)))
	f.Add([]byte(eventWith("artist", "\"Bj\xf6rk\"")))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := 0
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if !blank(line) {
				want++
			}
		}
		got := 0
		var d Decoder
		var events []record.Event
		var rejects []*record.Reject
		d.EventLines("f.json", data, 1, 7, func(e record.Event) {
			if e.IsSongPlay() && (!e.HasUser || e.Song == "" || e.Artist == "") {
				t.Fatalf("accepted an invalid play %+v", e)
			}
			events = append(events, e)
			got++
		}, func(r *record.Reject) {
			checkReject(t, data, 7, r)
			rejects = append(rejects, r)
			got++
		})
		if got != want {
			t.Fatalf("got %d records and rejects for %d non-blank lines", got, want)
		}
		// AppendEvents decodes in place what EventLines emits, after what dst holds, and rejects
		// the same lines. (The same decoder: the latest time it accepts is fixed at its first
		// use.)
		old := record.Event{Song: "before"}
		var rejects2 []*record.Reject
		appended := d.AppendEvents([]record.Event{old}, "f.json", data, 1, 7, func(r *record.Reject) { rejects2 = append(rejects2, r) })
		if len(appended) != 1+len(events) || appended[0] != old {
			t.Fatalf("AppendEvents: %d events after the one held, want %d, and that one kept", len(appended)-1, len(events))
		}
		for i, e := range events {
			if !sameEvent(appended[1+i], e) {
				t.Fatalf("event %d: AppendEvents %+v, EventLines %+v", i, appended[1+i], e)
			}
		}
		if len(rejects2) != len(rejects) {
			t.Fatalf("AppendEvents rejected %d lines, EventLines %d", len(rejects2), len(rejects))
		}
		for i := range rejects {
			if !reflect.DeepEqual(rejects2[i], rejects[i]) {
				t.Fatalf("reject %d: AppendEvents %+v, EventLines %+v", i, rejects2[i], rejects[i])
			}
		}
	})
}

// nestedSeeds are deep inputs for the fuzz targets: at, around and far past MaxDepth, well formed
// or not, with brackets in strings that must not count.
var nestedSeeds = []string{
	strings.Repeat("[", 200),
	nested("[", "]", MaxDepth, ""),
	nested("[", "]", MaxDepth+1, ""),
	nested(`{"a":`, "}", MaxDepth, "1"),
	nested(`{"a":`, "}", MaxDepth+1, "1"),
	strings.Repeat(`{"a":[`, 100),
	`{"s":"` + strings.Repeat("[", 100) + `\"` + strings.Repeat("{", 100) + `"}`,
	`[1,[2,[3,[4,{"a":[5]}]]]]`,
}

// FuzzDecodeLinear checks that decoding costs work linear in the input's size, whatever its
// shape: the input repeated 2k times must cost about twice the input repeated k times, not four
// times as a decoder that is quadratic in nesting depth (or anything else) would. Repetition is
// what turns a small input into a deep one ("[" into "[[[[…") or into many records. Work is
// counted in bytes allocated, which is deterministic, unlike time; the failure it guards against,
// the JSON validator wrapping its error once per nesting level, allocates quadratically. The slack
// (3× and 1 MB) allows for buffers that grow by doubling and for the bounded cost of one record
// nested MaxDepth deep.
func FuzzDecodeLinear(f *testing.F) {
	for _, seed := range nestedSeeds {
		f.Add([]byte(seed))
	}
	for _, seed := range []string{"[", "{", `{"a":`, `[1,`, `{"a":[`, `"`, `\`, "]", "[\n", goodSong, goodEvent + "\n", eventWith("song", `"\u00e9"`)} {
		f.Add([]byte(seed))
	}
	maxTS := MaxTSAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	work := func(data []byte) uint64 {
		d := Decoder{MaxTS: maxTS}
		return allocated(func() {
			d.SongFile("f.json", data, func(record.Song) {}, func(*record.Reject) {})
			d.EventLines("f.json", data, 1, 0, func(record.Event) {}, func(*record.Reject) {})
		})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1024 {
			return
		}
		k := max(2, 4096/len(data))
		w1 := work(bytes.Repeat(data, k))
		w2 := work(bytes.Repeat(data, 2*k))
		if w2 > 3*w1+1<<20 {
			t.Fatalf("%q repeated %d times costs %d bytes, %d times costs %d: not linear", data, k, w1, 2*k, w2)
		}
	})
}

// sameEvent compares events field by field, a NaN length equal to itself.
func sameEvent(a, b record.Event) bool {
	if a.Length != a.Length && b.Length != b.Length { // NaN
		a.Length, b.Length = 0, 0
	}
	return a == b
}
