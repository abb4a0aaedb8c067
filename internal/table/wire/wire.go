// Package wire holds the tables' rows as they are handed to the Parquet writer. Optional text is a pointer here, nil for
// "": parquet-go (v0.32.0) writes a batch of rows whose optional string fields are plain values
// through a null-bitmap scan that, for some patterns of empty and non-empty values, marks a run
// of "" as present instead of NULL (parquet-go issue #154; found when a day's file had six empty
// song_ids where DuckDB's output had NULLs). Pointers take its per-value path, which is exact.
// The schema is the same — the same names, types, order and optionality — so the files are what
// the row types describe (the types carry the rows' names, which Parquet records as the schema's
// name); the conversion points into the rows, it copies no text.
package wire

import "github.com/sparkify/lake/internal/table"

// Songplay is a table.Songplay as written.
type Songplay struct {
	SongplayID    int64    `parquet:"songplay_id"`
	StartTime     int64    `parquet:"start_time,timestamp(millisecond:utc)"`
	UserID        int64    `parquet:"user_id"`
	Level         *string  `parquet:"level,optional"`
	SongID        *string  `parquet:"song_id,optional"`
	ArtistID      *string  `parquet:"artist_id,optional"`
	SessionID     int64    `parquet:"session_id"`
	ItemInSession int32    `parquet:"item_in_session"`
	Location      *string  `parquet:"location,optional"`
	UserAgent     *string  `parquet:"user_agent,optional"`
	SongTitle     *string  `parquet:"song_title,optional"`
	ArtistName    *string  `parquet:"artist_name,optional"`
	SongLength    *float64 `parquet:"song_length,optional"`
}

// FromSongplay returns r as written; it points into r.
func FromSongplay(r *table.Songplay) Songplay {
	return Songplay{
		SongplayID: r.SongplayID, StartTime: r.StartTime, UserID: r.UserID,
		Level: optional(&r.Level), SongID: optional(&r.SongID), ArtistID: optional(&r.ArtistID),
		SessionID: r.SessionID, ItemInSession: r.ItemInSession,
		Location: optional(&r.Location), UserAgent: optional(&r.UserAgent),
		SongTitle: optional(&r.SongTitle), ArtistName: optional(&r.ArtistName), SongLength: r.SongLength,
	}
}

// User is a table.User as written.
type User struct {
	UserID    int64   `parquet:"user_id"`
	FirstName *string `parquet:"first_name,optional"`
	LastName  *string `parquet:"last_name,optional"`
	Gender    *string `parquet:"gender,optional"`
	Level     *string `parquet:"level,optional"`
}

// FromUser returns r as written; it points into r.
func FromUser(r *table.User) User {
	return User{UserID: r.UserID, FirstName: optional(&r.FirstName), LastName: optional(&r.LastName),
		Gender: optional(&r.Gender), Level: optional(&r.Level)}
}

// Artist is a table.Artist as written.
type Artist struct {
	ArtistID  string   `parquet:"artist_id"`
	Name      string   `parquet:"name"`
	Location  *string  `parquet:"location,optional"`
	Latitude  *float64 `parquet:"latitude,optional"`
	Longitude *float64 `parquet:"longitude,optional"`
}

// FromArtist returns r as written; it points into r.
func FromArtist(r *table.Artist) Artist {
	return Artist{ArtistID: r.ArtistID, Name: r.Name, Location: optional(&r.Location), Latitude: r.Latitude, Longitude: r.Longitude}
}

func optional(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}
