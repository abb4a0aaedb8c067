package decode

import (
	"maps"
	"testing"

	"github.com/sparkify/lake/internal/record"
)

// TestRepairOnDecode: the SPEC's fields are repaired as they are decoded, on both event paths and
// for songs, counted by field; with NoRepair they stay as logged.
func TestRepairOnDecode(t *testing.T) {
	// The real log's Björk: "Bj\u00c3\u0083\u00c2\u00b6rk" (UTF-8 encoded twice more).
	const bjork = `Bj\u00c3\u0083\u00c2\u00b6rk`
	lines := map[string]string{
		"fast path":    `{"artist":"` + bjork + `","auth":"Logged In","firstName":"Ren\u00c3\u00a9e","gender":"F","itemInSession":0,"lastName":"Caball\u00e9","length":290.2,"level":"free","location":"Montr\u00c3\u00a9al, QC","method":"PUT","page":"NextSong","registration":1.5e12,"sessionId":1,"song":"Undo","status":200,"ts":1541030400796,"userAgent":"x","userId":"7"}`,
		"general path": `{"artist":"` + bjork + `","firstName":"Ren\u00c3\u00a9e","lastName":"Caball\u00e9","location":"Montr\u00c3\u00a9al, QC","page":"NextSong","sessionId":1,"itemInSession":0,"song":"Undo","ts":1541030400796,"userId":"7","extra":{"nested":true}}`,
	}
	for name, line := range lines {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			e, rej := d.Event([]byte(line), record.Source{Path: "x", Line: 1})
			if rej != nil {
				t.Fatal(rej)
			}
			if e.Artist != "Björk" || e.FirstName != "Renée" || e.Location != "Montréal, QC" || e.LastName != "Caballé" || e.Song != "Undo" {
				t.Errorf("repaired event: %q %q %q %q %q", e.Artist, e.FirstName, e.LastName, e.Location, e.Song)
			}
			if got, want := d.Repaired.Map(), map[string]int64{"artist": 1, "firstName": 1, "location": 1}; !maps.Equal(got, want) {
				t.Errorf("counts %v, want %v", got, want)
			}
			raw := Decoder{NoRepair: true}
			e, _ = raw.Event([]byte(line), record.Source{Path: "x", Line: 1})
			if e.Artist != "Bj\u00c3\u0083\u00c2\u00b6rk" || len(raw.Repaired.Map()) != 0 {
				t.Errorf("NoRepair: artist %q, counts %v", e.Artist, raw.Repaired.Map())
			}
		})
	}
	var d Decoder
	s, rej := d.Song([]byte(`{"song_id":"S1","title":"Caf\u00c3\u00a9","artist_id":"A1","artist_name":"Montserrat Caball\u00e9","artist_location":"M\u00c3\u00a1laga","duration":1.5,"year":0}`), record.Source{Path: "s"})
	if rej != nil {
		t.Fatal(rej)
	}
	if s.Title != "Café" || s.ArtistName != "Montserrat Caballé" || s.ArtistLocation != "Málaga" {
		t.Errorf("repaired song: %q %q %q", s.Title, s.ArtistName, s.ArtistLocation)
	}
	if got, want := d.Repaired.Map(), map[string]int64{"title": 1, "artist_location": 1}; !maps.Equal(got, want) {
		t.Errorf("song counts %v, want %v", got, want)
	}
}
