package localengine

import (
	"slices"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// catalog is what the song files give: the songs and artists tables and the songs that plays are
// matched against.
type catalog struct {
	songs      []table.Song
	artists    []table.Artist
	candidates map[transform.MatchKey][]record.Song
	duplicates int64
}

// buildCatalog applies the SPEC's first-record-wins rules to the songs, by folding transform's
// choices over maps. Records arrive in order, but the choices do not rely on it.
func buildCatalog(files []fileResult) *catalog {
	songs := map[string]*record.Song{}
	artists := map[string]*record.Song{}
	var records int
	for _, file := range files {
		for i := range file.songs {
			s := &file.songs[i]
			records++
			if prev, ok := songs[s.SongID]; ok {
				songs[s.SongID] = transform.FirstSongOf(prev, s)
			} else {
				songs[s.SongID] = s
			}
			if prev, ok := artists[s.ArtistID]; ok {
				artists[s.ArtistID] = transform.FirstSongOf(prev, s)
			} else {
				artists[s.ArtistID] = s
			}
		}
	}
	c := &catalog{
		candidates: map[transform.MatchKey][]record.Song{},
		duplicates: int64(records - len(songs)),
		songs:      make([]table.Song, 0, len(songs)),
		artists:    make([]table.Artist, 0, len(artists)),
	}
	for _, s := range songs {
		k := transform.SongMatchKey(s)
		c.candidates[k] = append(c.candidates[k], *s)
		c.songs = append(c.songs, transform.SongRow(s))
	}
	for _, s := range artists {
		c.artists = append(c.artists, transform.ArtistRow(s))
	}
	slices.SortFunc(c.songs, func(a, b table.Song) int { return transform.CompareSongs(&a, &b) })
	slices.SortFunc(c.artists, func(a, b table.Artist) int { return transform.CompareArtists(&a, &b) })
	return c
}
