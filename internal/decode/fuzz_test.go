package decode

import (
	"bytes"
	"slices"
	"testing"

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
	f.Fuzz(func(t *testing.T, data []byte) {
		want := 0
		for line := range bytes.SplitSeq(data, []byte{'\n'}) {
			if !blank(line) {
				want++
			}
		}
		got := 0
		var d Decoder
		d.EventLines("f.json", data, 1, 7, func(e record.Event) {
			if e.IsSongPlay() && (!e.HasUser || e.Song == "" || e.Artist == "") {
				t.Fatalf("accepted an invalid play %+v", e)
			}
			got++
		}, func(r *record.Reject) {
			checkReject(t, data, 7, r)
			got++
		})
		if got != want {
			t.Fatalf("got %d records and rejects for %d non-blank lines", got, want)
		}
	})
}
