package transform

import (
	"cmp"

	"github.com/sparkify/lake/internal/table"
)

// The row orders below make the written files deterministic: every engine sorts each table's rows
// this way before writing, so two runs on the same input write the same bytes. Each order is
// total on the table's key, so no two distinct rows compare equal.

// CompareSongplays orders plays by partition, start time, then key.
func CompareSongplays(a, b *table.Songplay) int {
	return cmp.Or(
		cmp.Compare(a.StartTime, b.StartTime),
		cmp.Compare(a.UserID, b.UserID),
		cmp.Compare(a.SessionID, b.SessionID),
		cmp.Compare(a.ItemInSession, b.ItemInSession),
	)
}

// CompareUsers orders users by id.
func CompareUsers(a, b *table.User) int { return cmp.Compare(a.UserID, b.UserID) }

// CompareSongs orders songs by partition (artist, year), then id.
func CompareSongs(a, b *table.Song) int {
	return cmp.Or(cmp.Compare(a.Year, b.Year), cmp.Compare(a.ArtistID, b.ArtistID), cmp.Compare(a.SongID, b.SongID))
}

// CompareArtists orders artists by id.
func CompareArtists(a, b *table.Artist) int { return cmp.Compare(a.ArtistID, b.ArtistID) }

// CompareTimes orders time rows by start time.
func CompareTimes(a, b *table.Time) int { return cmp.Compare(a.StartTime, b.StartTime) }
