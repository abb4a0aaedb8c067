// Package transform holds the rules of the SPEC that turn records into table rows, as pure
// functions: no I/O, no goroutines, no state.
//
// Every engine calls these same functions, so the single-machine engine and the distributed one
// cannot drift apart. Each rule is either a function of one element (SongplayRow, TimeRow, ...) or
// a key plus a choice between two candidates that is associative and commutative (EarlierEvent,
// LatestUser, FirstSong, BetterMatch): a fold over any grouping and any order of the records gives
// the same result, which is what lets an engine that sees records out of order agree with one
// that reads them in order.
package transform

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"math"
	"time"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/table"
)

// EventKey identifies a song play: events with the same key are one event.
type EventKey struct {
	UserID        int64
	SessionID     int64
	ItemInSession int32
}

// KeyOf returns the deduplication key of an event.
func KeyOf(e *record.Event) EventKey {
	return EventKey{UserID: e.UserID, SessionID: e.SessionID, ItemInSession: e.ItemInSession}
}

// EarlierEvent chooses, between two events with the same key, the one the SPEC keeps: the smallest
// ts, then the first in (source path, line) order.
func EarlierEvent(a, b record.Event) record.Event { return *EarlierEventOf(&a, &b) }

// EarlierEventOf is EarlierEvent on pointers, for engines that fold without copying events.
func EarlierEventOf(a, b *record.Event) *record.Event {
	if a.TS != b.TS {
		if a.TS < b.TS {
			return a
		}
		return b
	}
	if b.Src.Before(a.Src) {
		return b
	}
	return a
}

// LatestUser chooses, between two events of the same user, the one whose attributes describe the
// user now: the latest by (ts, sessionId, itemInSession), then the first in (source path, line)
// order.
func LatestUser(a, b record.Event) record.Event { return *LatestUserOf(&a, &b) }

// LatestUserOf is LatestUser on pointers, for engines that fold without copying events.
func LatestUserOf(a, b *record.Event) *record.Event {
	if c := cmp.Or(
		cmp.Compare(a.TS, b.TS),
		cmp.Compare(a.SessionID, b.SessionID),
		cmp.Compare(a.ItemInSession, b.ItemInSession),
	); c != 0 {
		if c > 0 {
			return a
		}
		return b
	}
	if b.Src.Before(a.Src) {
		return b
	}
	return a
}

// FirstSong chooses, between two records of the same song_id (or of the same artist_id), the one
// whose attributes win: the first in (source path, position in file) order.
func FirstSong(a, b record.Song) record.Song { return *FirstSongOf(&a, &b) }

// FirstSongOf is FirstSong on pointers, for engines that fold without copying songs.
func FirstSongOf(a, b *record.Song) *record.Song {
	if b.Src.Before(a.Src) {
		return b
	}
	return a
}

// MatchKey is what a song play and a catalog song must share to match: the exact bytes of the
// title and the artist name. Duration is not part of it (the sample's one match differs in the
// fifth decimal); it only ranks candidates.
type MatchKey struct {
	Title  string
	Artist string
}

// SongMatchKey returns the match key of a catalog song.
func SongMatchKey(s *record.Song) MatchKey { return MatchKey{Title: s.Title, Artist: s.ArtistName} }

// EventMatchKey returns the match key of a song play.
func EventMatchKey(e *record.Event) MatchKey { return MatchKey{Title: e.Song, Artist: e.Artist} }

// BetterMatch chooses, between two catalog songs with the play's match key, the one the play is
// attributed to: the duration closest to the play's length, then the smallest song_id. Without a
// length every candidate is equally close.
func BetterMatch(length float64, hasLength bool, a, b record.Song) record.Song {
	if hasLength {
		da, db := math.Abs(a.Duration-length), math.Abs(b.Duration-length)
		if da != db {
			if da < db {
				return a
			}
			return b
		}
	}
	if b.SongID < a.SongID {
		return b
	}
	return a
}

// MatchSong returns the catalog song a play is attributed to among candidates, which must be the
// deduplicated catalog songs with the play's match key; ok is false when there is none.
func MatchSong(e *record.Event, candidates []record.Song) (s record.Song, ok bool) {
	for i, c := range candidates {
		if i == 0 {
			s = c
			continue
		}
		s = BetterMatch(e.Length, e.HasLength, s, c)
	}
	return s, len(candidates) > 0
}

// songplayIDVersion is hashed with every key: changing the id scheme must change every id rather
// than silently reuse old ones for other plays.
const songplayIDVersion = "songplay/v1"

// RulesVersion names this version of the rules. An incremental load's state records it: state
// folded under other rules would not give the tables these rules give, so a change of any rule
// here must change it (the next incremental run then rebuilds).
const RulesVersion = "spec-2026-11/1"

// SongplayID returns the id of the song play with key k: a 63-bit FNV-1a hash of the key. It
// depends on the key alone, so the same event gets the same id in every run, every engine and
// every incremental load, whatever else is in the data. Two keys may in theory share a hash
// (about one chance in 10^6 at 5 million plays); engines check that ids are unique and fail
// rather than write a table with a duplicate id.
func SongplayID(k EventKey) int64 {
	var buf [len(songplayIDVersion) + 20]byte
	n := copy(buf[:], songplayIDVersion)
	binary.BigEndian.PutUint64(buf[n:], uint64(k.UserID))
	binary.BigEndian.PutUint64(buf[n+8:], uint64(k.SessionID))
	binary.BigEndian.PutUint32(buf[n+16:], uint32(k.ItemInSession))
	h := fnv.New64a()
	h.Write(buf[:])
	return int64(h.Sum64() & math.MaxInt64)
}

// SongplayRow builds the fact row of a play; match is nil when no catalog song matches.
func SongplayRow(e *record.Event, match *record.Song) table.Songplay {
	t := time.UnixMilli(e.TS).UTC()
	r := table.Songplay{
		SongplayID:    SongplayID(KeyOf(e)),
		StartTime:     e.TS,
		UserID:        e.UserID,
		Level:         e.Level,
		SessionID:     e.SessionID,
		ItemInSession: e.ItemInSession,
		Location:      e.Location,
		UserAgent:     e.UserAgent,
		SongTitle:     e.Song,
		ArtistName:    e.Artist,
		Year:          int32(t.Year()),
		Month:         int32(t.Month()),
	}
	if e.HasLength {
		length := e.Length
		r.SongLength = &length
	}
	if match != nil {
		r.SongID, r.ArtistID = match.SongID, match.ArtistID
	}
	return r
}

// UserRow builds the users row from the user's latest event.
func UserRow(e *record.Event) table.User {
	return table.User{
		UserID:    e.UserID,
		FirstName: e.FirstName,
		LastName:  e.LastName,
		Gender:    e.Gender,
		Level:     e.Level,
	}
}

// SongRow builds the songs row from the song's first record.
func SongRow(s *record.Song) table.Song {
	return table.Song{SongID: s.SongID, Title: s.Title, Duration: s.Duration, Year: s.Year, ArtistID: s.ArtistID}
}

// ArtistRow builds the artists row from the artist's first record.
func ArtistRow(s *record.Song) table.Artist {
	r := table.Artist{ArtistID: s.ArtistID, Name: s.ArtistName, Location: s.ArtistLocation}
	if s.HasLatitude {
		r.Latitude = new(s.Latitude)
	}
	if s.HasLongitude {
		r.Longitude = new(s.Longitude)
	}
	return r
}

// TimeRow builds the time row of a start time (epoch milliseconds). Week and weekday are ISO-8601;
// the partition year and month are the calendar ones, like songplays', so that a play and its
// time row sit in partitions of the same name.
func TimeRow(ms int64) table.Time {
	t := time.UnixMilli(ms).UTC()
	_, week := t.ISOWeek()
	wd := int32(t.Weekday())
	if wd == 0 {
		wd = 7
	}
	return table.Time{
		StartTime: ms,
		Hour:      int32(t.Hour()),
		Day:       int32(t.Day()),
		Week:      int32(week),
		Weekday:   wd,
		Year:      int32(t.Year()),
		Month:     int32(t.Month()),
	}
}
