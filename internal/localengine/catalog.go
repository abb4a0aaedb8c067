package localengine

import (
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
// choices over maps (the same fold an incremental run applies to its state). Records arrive in
// order, but the choices do not rely on it.
func buildCatalog(files []fileResult) *catalog {
	f := firsts{songs: map[string]*record.Song{}, artists: map[string]*record.Song{}}
	var records int
	for _, file := range files {
		foldFirsts(f, file.songs)
		records += len(file.songs)
	}
	return &catalog{
		candidates: f.candidates(),
		duplicates: int64(records - len(f.songs)),
		songs:      f.songRows(),
		artists:    f.artistRows(),
	}
}
