package transform

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/record"
)

func src(path string, off int64) record.Source {
	return record.Source{Path: path, Line: int(off) + 1, Offset: off}
}

func TestEarlierEvent(t *testing.T) {
	a := record.Event{TS: 100, Src: src("b.json", 5), Level: "a"}
	b := record.Event{TS: 90, Src: src("c.json", 0), Level: "b"}
	c := record.Event{TS: 100, Src: src("a.json", 9), Level: "c"}
	d := record.Event{TS: 100, Src: src("b.json", 1), Level: "d"}
	tests := []struct {
		name string
		x, y record.Event
		want string
	}{
		{"duplicate event keeps smallest ts", a, b, "b"},
		{"smallest ts wins whatever the order", b, a, "b"},
		{"same ts keeps the first source path", a, c, "c"},
		{"same ts and path keeps the first line", a, d, "d"},
		{"exact duplicate keeps the first line", d, a, "d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EarlierEvent(tt.x, tt.y).Level; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLatestUser(t *testing.T) {
	// A user who went free -> paid -> free: the latest event decides, whatever the file order.
	free1 := record.Event{TS: 1, SessionID: 1, ItemInSession: 0, Level: "free", Src: src("c.json", 0)}
	paid := record.Event{TS: 2, SessionID: 1, ItemInSession: 1, Level: "paid", Src: src("a.json", 0)}
	free2 := record.Event{TS: 3, SessionID: 2, ItemInSession: 0, Level: "free", Src: src("b.json", 0)}
	for _, order := range [][]record.Event{{free1, paid, free2}, {free2, paid, free1}, {paid, free2, free1}} {
		got := order[0]
		for _, e := range order[1:] {
			got = LatestUser(got, e)
		}
		if got.Level != "free" || got.TS != 3 {
			t.Errorf("got level %s at ts %d, want free at 3", got.Level, got.TS)
		}
	}
	tests := []struct {
		name string
		x, y record.Event
		want string
	}{
		{"same ts: larger session wins", record.Event{TS: 5, SessionID: 1, Level: "a"}, record.Event{TS: 5, SessionID: 2, Level: "b"}, "b"},
		{"same ts and session: larger item wins", record.Event{TS: 5, SessionID: 2, ItemInSession: 3, Level: "a"}, record.Event{TS: 5, SessionID: 2, ItemInSession: 1, Level: "b"}, "a"},
		{"full tie: first in source order", record.Event{TS: 5, Level: "a", Src: src("b", 0)}, record.Event{TS: 5, Level: "b", Src: src("a", 0)}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LatestUser(tt.x, tt.y).Level; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFirstSong(t *testing.T) {
	first := record.Song{SongID: "S", Title: "first", Src: src("A/A/A/x.json", 0)}
	later := record.Song{SongID: "S", Title: "later", Src: src("A/A/B/x.json", 0)}
	sameFileLater := record.Song{SongID: "S", Title: "second object", Src: src("A/A/A/x.json", 200)}
	for _, tt := range []struct {
		name string
		x, y record.Song
	}{
		{"first record wins in path order", first, later},
		{"first record wins whatever the fold order", later, first},
		{"first object of a file wins over a later one", sameFileLater, first},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstSong(tt.x, tt.y).Title; got != "first" {
				t.Errorf("got %s, want first", got)
			}
		})
	}
}

func TestMatchSong(t *testing.T) {
	s := func(id string, d float64) record.Song {
		return record.Song{SongID: id, ArtistID: "AR" + id, Title: "Intro", ArtistName: "X", Duration: d}
	}
	play := func(length float64, has bool) *record.Event {
		return &record.Event{Song: "Intro", Artist: "X", Length: length, HasLength: has}
	}
	tests := []struct {
		name  string
		e     *record.Event
		cands []record.Song
		want  string // "" = no match
	}{
		{"no candidate gives no match", play(200, true), nil, ""},
		{"one candidate matches even with a different duration", play(269.58322, true), []record.Song{s("S1", 269.58159)}, "S1"},
		{"nearest duration wins", play(200, true), []record.Song{s("S1", 100), s("S2", 201), s("S3", 198)}, "S2"},
		{"equal distance: smallest song_id", play(200, true), []record.Song{s("S9", 199), s("S3", 201)}, "S3"},
		{"no length: smallest song_id", play(0, false), []record.Song{s("S9", 200), s("S3", 100)}, "S3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every order of the candidates gives the same answer.
			for i := range 6 {
				c := append([]record.Song(nil), tt.cands...)
				rand.New(rand.NewPCG(uint64(i), 1)).Shuffle(len(c), func(a, b int) { c[a], c[b] = c[b], c[a] })
				got, ok := MatchSong(tt.e, c)
				if tt.want == "" {
					if ok {
						t.Fatalf("got %s, want no match", got.SongID)
					}
					continue
				}
				if !ok || got.SongID != tt.want {
					t.Fatalf("got %s (ok=%v), want %s", got.SongID, ok, tt.want)
				}
			}
		})
	}
}

func TestMatchKeyIsTitleAndArtist(t *testing.T) {
	// "Intro" by three artists: a join on the title alone would be wrong.
	song := record.Song{Title: "Intro", ArtistName: "A"}
	if SongMatchKey(&song) == EventMatchKey(&record.Event{Song: "Intro", Artist: "B"}) {
		t.Error("songs of different artists share a match key")
	}
	if SongMatchKey(&song) != EventMatchKey(&record.Event{Song: "Intro", Artist: "A"}) {
		t.Error("same title and artist do not match")
	}
}

func TestSongplayRow(t *testing.T) {
	e := &record.Event{TS: 1543622400796, UserID: 7, SessionID: 3, ItemInSession: 2, Level: "paid", Location: "", UserAgent: `"UA, x"`}
	r := SongplayRow(e, nil)
	if r.SongID != "" || r.ArtistID != "" {
		t.Errorf("no match gives NULL ids: got %q %q", r.SongID, r.ArtistID)
	}
	if r.Year != 2018 || r.Month != 12 || r.StartTime != e.TS || r.UserAgent != `"UA, x"` {
		t.Errorf("got %+v", r)
	}
	m := &record.Song{SongID: "S", ArtistID: "A"}
	if r := SongplayRow(e, m); r.SongID != "S" || r.ArtistID != "A" {
		t.Errorf("got %q %q, want S A", r.SongID, r.ArtistID)
	}
}

func TestSongplayID(t *testing.T) {
	seen := map[int64]EventKey{}
	for u := range int64(50) {
		for s := range int64(50) {
			for i := range int32(20) {
				k := EventKey{u, s, i}
				id := SongplayID(k)
				if id < 0 {
					t.Fatalf("negative id %d", id)
				}
				if other, dup := seen[id]; dup {
					t.Fatalf("keys %+v and %+v share id %d", other, k, id)
				}
				seen[id] = k
			}
		}
	}
	// The id is part of the data contract: the same play has the same id in every run, engine
	// and version.
	if got, want := SongplayID(EventKey{UserID: 15, SessionID: 818, ItemInSession: 5}), int64(9022546963986824701); got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}

func TestTimeRow(t *testing.T) {
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct {
		name                                  string
		at                                    string
		hour, day, week, weekday, year, month int32
	}{
		{"2018-12-31 is ISO week 1 of 2019, partition 2018/12", "2018-12-31T23:59:59.796Z", 23, 31, 1, 1, 2018, 12},
		{"Sunday is weekday 7", "2018-11-04T10:00:00Z", 10, 4, 44, 7, 2018, 11},
		{"2021-01-03 is in ISO week 53 of 2020", "2021-01-03T00:00:00Z", 0, 3, 53, 7, 2021, 1},
		{"Monday is weekday 1", "2018-11-05T00:00:00.001Z", 0, 5, 45, 1, 2018, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := TimeRow(ms(tt.at))
			got := [6]int32{r.Hour, r.Day, r.Week, r.Weekday, r.Year, r.Month}
			want := [6]int32{tt.hour, tt.day, tt.week, tt.weekday, tt.year, tt.month}
			if got != want {
				t.Errorf("got hour,day,week,weekday,year,month %v, want %v", got, want)
			}
		})
	}
}

func TestArtistRow(t *testing.T) {
	r := ArtistRow(&record.Song{ArtistID: "A", ArtistName: "N", Longitude: 0, HasLongitude: true})
	if r.Latitude != nil {
		t.Errorf("NULL latitude became %v", *r.Latitude)
	}
	if r.Longitude == nil || *r.Longitude != 0 {
		t.Errorf("known longitude 0 became %v", r.Longitude)
	}
}

// TestFoldsAreOrderIndependent is what lets an engine that sees records in any order agree with
// one that reads them in order: every permutation folds to the same choice.
func TestFoldsAreOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	events := make([]record.Event, 8)
	songs := make([]record.Song, 8)
	for i := range events {
		events[i] = record.Event{TS: int64(rng.IntN(3)), SessionID: int64(rng.IntN(2)), ItemInSession: int32(rng.IntN(2)),
			Src: src([]string{"a", "b"}[rng.IntN(2)], int64(i)), Level: string(rune('a' + i))}
		songs[i] = record.Song{SongID: string(rune('A' + rng.IntN(4))), Duration: float64(rng.IntN(5)),
			Src: src([]string{"a", "b"}[rng.IntN(2)], int64(i))}
	}
	fold := func(f func(a, b record.Event) record.Event, es []record.Event) record.Event {
		acc := es[0]
		for _, e := range es[1:] {
			acc = f(acc, e)
		}
		return acc
	}
	wantEarlier, wantLatest := fold(EarlierEvent, events), fold(LatestUser, events)
	wantFirst := songs[0]
	for _, s := range songs[1:] {
		wantFirst = FirstSong(wantFirst, s)
	}
	wantMatch := songs[0]
	for _, s := range songs[1:] {
		wantMatch = BetterMatch(2.4, true, wantMatch, s)
	}
	for range 200 {
		rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		rng.Shuffle(len(songs), func(i, j int) { songs[i], songs[j] = songs[j], songs[i] })
		if got := fold(EarlierEvent, events); got != wantEarlier {
			t.Fatalf("EarlierEvent: got %+v, want %+v", got, wantEarlier)
		}
		if got := fold(LatestUser, events); got != wantLatest {
			t.Fatalf("LatestUser: got %+v, want %+v", got, wantLatest)
		}
		first, match := songs[0], songs[0]
		for _, s := range songs[1:] {
			first, match = FirstSong(first, s), BetterMatch(2.4, true, match, s)
		}
		if first != wantFirst {
			t.Fatalf("FirstSong: got %+v, want %+v", first, wantFirst)
		}
		if match.SongID != wantMatch.SongID {
			t.Fatalf("BetterMatch: got %s, want %s", match.SongID, wantMatch.SongID)
		}
	}
}
