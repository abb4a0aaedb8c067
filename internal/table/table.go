// Package table defines the five output tables of the SPEC: their row types, Parquet schemas
// (through struct tags read by parquet-go), partition columns and Hive-style partition paths.
//
// Partition columns are fields tagged `parquet:"-"`: they exist in memory so rows can be routed,
// but appear only in the path, as Spark, Hive, Athena and DuckDB expect. The package knows nothing
// of files or rules; transform fills the rows and sink writes them.
package table

import (
	"strconv"
	"strings"
	"time"
)

// Names of the five tables, which are also their folder names under the output root.
const (
	NameSongplays = "songplays"
	NameUsers     = "users"
	NameSongs     = "songs"
	NameArtists   = "artists"
	NameTime      = "time"
)

// All lists the tables in the order they are written and reported.
var All = []string{NameSongplays, NameUsers, NameSongs, NameArtists, NameTime}

// Songplay is a row of the fact table. Optional text is NULL when "" (parquet-go writes the zero
// value of an optional field as NULL).
type Songplay struct {
	SongplayID    int64  `parquet:"songplay_id"`
	StartTime     int64  `parquet:"start_time,timestamp(millisecond:utc)"`
	UserID        int64  `parquet:"user_id"`
	Level         string `parquet:"level,optional"`
	SongID        string `parquet:"song_id,optional"`
	ArtistID      string `parquet:"artist_id,optional"`
	SessionID     int64  `parquet:"session_id"`
	ItemInSession int32  `parquet:"item_in_session"`
	Location      string `parquet:"location,optional"`
	UserAgent     string `parquet:"user_agent,optional"`
	// What was played, as logged (after text repair): analysts see it even when the catalog
	// lacks the song, which on the real sample is almost always.
	SongTitle  string   `parquet:"song_title,optional"`
	ArtistName string   `parquet:"artist_name,optional"`
	SongLength *float64 `parquet:"song_length,optional"` // NULL when the log has no length
	Year       int32    `parquet:"-"`
	Month      int32    `parquet:"-"`
}

// Partition returns the Hive path of the row's partition.
func (r *Songplay) Partition() string { return yearMonth(r.Year, r.Month) }

// FileGroup returns the UTC day of the row's start_time, 2018-11-30: see Grouped.
func (r *Songplay) FileGroup() string { return Day(r.StartTime) }

// User is a row of the users dimension.
type User struct {
	UserID    int64  `parquet:"user_id"`
	FirstName string `parquet:"first_name,optional"`
	LastName  string `parquet:"last_name,optional"`
	Gender    string `parquet:"gender,optional"`
	Level     string `parquet:"level,optional"`
}

// Partition returns "": the table is not partitioned.
func (r *User) Partition() string { return "" }

// Song is a row of the songs dimension. Year 0, the source's "unknown", is NULL: it goes to the
// default partition rather than pretending the song is from the year 0.
type Song struct {
	SongID   string  `parquet:"song_id"`
	Title    string  `parquet:"title"`
	Duration float64 `parquet:"duration"`
	Year     int32   `parquet:"-"`
	ArtistID string  `parquet:"-"`
}

// Partition returns the Hive path of the row's partition.
func (r *Song) Partition() string {
	year := DefaultPartition
	if r.Year != 0 {
		year = strconv.Itoa(int(r.Year))
	}
	return "year=" + year + "/artist_id=" + Escape(r.ArtistID)
}

// Artist is a row of the artists dimension. Unknown coordinates are NULL, never 0.
type Artist struct {
	ArtistID  string   `parquet:"artist_id"`
	Name      string   `parquet:"name"`
	Location  string   `parquet:"location,optional"`
	Latitude  *float64 `parquet:"latitude,optional"`
	Longitude *float64 `parquet:"longitude,optional"`
}

// Partition returns "": the table is not partitioned.
func (r *Artist) Partition() string { return "" }

// Time is a row of the time dimension.
type Time struct {
	StartTime int64 `parquet:"start_time,timestamp(millisecond:utc)"`
	Hour      int32 `parquet:"hour"`
	Day       int32 `parquet:"day"`
	Week      int32 `parquet:"week"`
	Weekday   int32 `parquet:"weekday"`
	Year      int32 `parquet:"-"`
	Month     int32 `parquet:"-"`
}

// Partition returns the Hive path of the row's partition.
func (r *Time) Partition() string { return yearMonth(r.Year, r.Month) }

// FileGroup returns the UTC day of the row's start_time, 2018-11-30: see Grouped.
func (r *Time) FileGroup() string { return Day(r.StartTime) }

// Row is what every table's row type is: a value that knows its partition.
type Row interface {
	Songplay | User | Song | Artist | Time
}

// Partitioned is implemented by pointers to row types.
type Partitioned interface {
	Partition() string
}

// Grouped is implemented by pointers to the row types whose partitions are written as one file
// (or more, when large) per group of rows rather than per partition: songplays and time, whose
// month partitions hold a file per day. A daily incremental load then rewrites the day it adds,
// not the month, and a full run writes the same files, so both give the same bytes. The group is
// not a column and not a folder (a day=… folder would be a partition column to every reader):
// it is only in the file's name.
type Grouped interface {
	FileGroup() string
}

// Day formats a timestamp in milliseconds as its UTC date, 2018-11-30.
func Day(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

func yearMonth(year, month int32) string {
	return "year=" + strconv.Itoa(int(year)) + "/month=" + strconv.Itoa(int(month))
}

// DefaultPartition is the folder name Hive and Spark use for a NULL partition value.
const DefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// Escape escapes a partition value as Hive and Spark do (ExternalCatalogUtils.escapePathName):
// the characters that are special in paths or in Hive's syntax become %XX, upper-case hex. An
// empty value is NULL and goes to the default partition.
func Escape(v string) string {
	if v == "" {
		return DefaultPartition
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if needsEscape(c) {
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c byte) bool {
	if c < 0x20 || c == 0x7F {
		return true
	}
	switch c {
	case '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '{', '[', ']', '^':
		return true
	}
	return false
}
