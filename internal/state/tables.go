package state

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// eventRow and the other *Row types are the rows of the state's Parquet files, private to this
// package so that the record types carry no Parquet tags. Every column is required, so that ""
// and 0 come back as they went in (an optional column would turn them into NULL); the Has* flags
// and raw_nil are columns of their own. Strings are dictionary-encoded (the writer's default for
// byte arrays): source paths, pages, levels and user agents repeat from row to row.
type eventRow struct {
	SrcPath       string  `parquet:"src_path"`
	SrcLine       int64   `parquet:"src_line"`
	SrcOffset     int64   `parquet:"src_offset"`
	TS            int64   `parquet:"ts"`
	SessionID     int64   `parquet:"session_id"`
	ItemInSession int32   `parquet:"item_in_session"`
	Page          string  `parquet:"page"`
	UserID        int64   `parquet:"user_id"`
	HasUser       bool    `parquet:"has_user"`
	Artist        string  `parquet:"artist"`
	Song          string  `parquet:"song"`
	Length        float64 `parquet:"length"`
	HasLength     bool    `parquet:"has_length"`
	FirstName     string  `parquet:"first_name"`
	LastName      string  `parquet:"last_name"`
	Gender        string  `parquet:"gender"`
	Level         string  `parquet:"level"`
	Location      string  `parquet:"location"`
	UserAgent     string  `parquet:"user_agent"`
}

type songRow struct {
	SrcPath        string  `parquet:"src_path"`
	SrcLine        int64   `parquet:"src_line"`
	SrcOffset      int64   `parquet:"src_offset"`
	SongID         string  `parquet:"song_id"`
	Title          string  `parquet:"title"`
	ArtistID       string  `parquet:"artist_id"`
	ArtistName     string  `parquet:"artist_name"`
	ArtistLocation string  `parquet:"artist_location"`
	Latitude       float64 `parquet:"latitude"`
	HasLatitude    bool    `parquet:"has_latitude"`
	Longitude      float64 `parquet:"longitude"`
	HasLongitude   bool    `parquet:"has_longitude"`
	Duration       float64 `parquet:"duration"`
	Year           int32   `parquet:"year"`
}

type rejectRow struct {
	Kind      string `parquet:"kind"`
	SrcPath   string `parquet:"src_path"`
	SrcLine   int64  `parquet:"src_line"`
	SrcOffset int64  `parquet:"src_offset"`
	Reason    string `parquet:"reason"`
	Field     string `parquet:"field"`
	Detail    string `parquet:"detail"`
	// Raw is PLAIN: raw records seldom repeat, and the reader copies each row's bytes.
	Raw []byte `parquet:"raw,plain"`
	// RawNil tells a nil Raw from an empty one, which Parquet cannot.
	RawNil   bool  `parquet:"raw_nil"`
	FullSize int64 `parquet:"full_size"`
}

// The tables of the row types: the schema a file of each must have.
var (
	eventTable  = newTable[eventRow]()
	songTable   = newTable[songRow]()
	rejectTable = newTable[rejectRow]()
)

// srcLine converts a src_line back to a Go int, which may be narrower than the column.
func srcLine(v int64) (int, error) {
	if int64(int(v)) != v {
		return 0, fmt.Errorf("src_line %d does not fit an int", v)
	}
	return int(v), nil
}

func toEventRow(e *record.Event, r *eventRow) {
	*r = eventRow{
		SrcPath: e.Src.Path, SrcLine: int64(e.Src.Line), SrcOffset: e.Src.Offset,
		TS: e.TS, SessionID: e.SessionID, ItemInSession: e.ItemInSession, Page: e.Page,
		UserID: e.UserID, HasUser: e.HasUser, Artist: e.Artist, Song: e.Song,
		Length: e.Length, HasLength: e.HasLength, FirstName: e.FirstName, LastName: e.LastName,
		Gender: e.Gender, Level: e.Level, Location: e.Location, UserAgent: e.UserAgent,
	}
}

func fromEventRow(r *eventRow, e *record.Event) error {
	line, err := srcLine(r.SrcLine)
	*e = record.Event{
		Src: record.Source{Path: r.SrcPath, Line: line, Offset: r.SrcOffset},
		TS:  r.TS, SessionID: r.SessionID, ItemInSession: r.ItemInSession, Page: r.Page,
		UserID: r.UserID, HasUser: r.HasUser, Artist: r.Artist, Song: r.Song,
		Length: r.Length, HasLength: r.HasLength, FirstName: r.FirstName, LastName: r.LastName,
		Gender: r.Gender, Level: r.Level, Location: r.Location, UserAgent: r.UserAgent,
	}
	return err
}

func toSongRow(s *record.Song, r *songRow) {
	*r = songRow{
		SrcPath: s.Src.Path, SrcLine: int64(s.Src.Line), SrcOffset: s.Src.Offset,
		SongID: s.SongID, Title: s.Title, ArtistID: s.ArtistID, ArtistName: s.ArtistName,
		ArtistLocation: s.ArtistLocation, Latitude: s.Latitude, HasLatitude: s.HasLatitude,
		Longitude: s.Longitude, HasLongitude: s.HasLongitude, Duration: s.Duration, Year: s.Year,
	}
}

func fromSongRow(r *songRow, s *record.Song) error {
	line, err := srcLine(r.SrcLine)
	*s = record.Song{
		Src:    record.Source{Path: r.SrcPath, Line: line, Offset: r.SrcOffset},
		SongID: r.SongID, Title: r.Title, ArtistID: r.ArtistID, ArtistName: r.ArtistName,
		ArtistLocation: r.ArtistLocation, Latitude: r.Latitude, HasLatitude: r.HasLatitude,
		Longitude: r.Longitude, HasLongitude: r.HasLongitude, Duration: r.Duration, Year: r.Year,
	}
	return err
}

func toRejectRow(j *record.Reject, r *rejectRow) {
	*r = rejectRow{
		Kind: string(j.Kind), SrcPath: j.Src.Path, SrcLine: int64(j.Src.Line), SrcOffset: j.Src.Offset,
		Reason: string(j.Reason), Field: j.Field, Detail: j.Detail,
		Raw: j.Raw, RawNil: j.Raw == nil, FullSize: j.FullSize,
	}
}

// WriteSongs writes the song catalog, in the order given, to catalog/songs.parquet under dir,
// and returns its entry for Meta.Files.
func WriteSongs(ctx context.Context, st storage.Store, dir string, songs []record.Song) (File, error) {
	return writeObject(ctx, st, dir, SongsFile, func(w io.Writer) error {
		return writeParquet(ctx, w, len(songs), func(i int, r *songRow) { toSongRow(&songs[i], r) })
	})
}

// WriteUsers writes the users' latest events, in the order given, to users/users.parquet.
func WriteUsers(ctx context.Context, st storage.Store, dir string, users []record.Event) (File, error) {
	return writeEvents(ctx, st, dir, UsersFile, users)
}

// WritePlays writes one day's plays of a partition, in the order given, to
// plays/<partition>/<day>.parquet. partition is a Hive-style path such as year=2018/month=11
// (see ValidPartition), day a date such as 2018-11-30 (see ValidDay). The file's span in
// Meta.Plays is the caller's to record.
func WritePlays(ctx context.Context, st storage.Store, dir, partition, day string, plays []record.Event) (File, error) {
	if err := ValidPartition(partition); err != nil {
		return File{}, fmt.Errorf("state: %w", err)
	}
	if err := ValidDay(day); err != nil {
		return File{}, fmt.Errorf("state: %w", err)
	}
	return writeEvents(ctx, st, dir, PlaysFile(partition, day), plays)
}

func writeEvents(ctx context.Context, st storage.Store, dir, rel string, events []record.Event) (File, error) {
	return writeObject(ctx, st, dir, rel, func(w io.Writer) error {
		return writeParquet(ctx, w, len(events), func(i int, r *eventRow) { toEventRow(&events[i], r) })
	})
}

// WriteRejects writes the rejected records, in the order given, to rejects/rejects.parquet. Raw
// comes back byte for byte, nil as nil and empty as empty.
func WriteRejects(ctx context.Context, st storage.Store, dir string, rejects []*record.Reject) (File, error) {
	for i, r := range rejects {
		if r == nil {
			return File{}, fmt.Errorf("state: reject %d is nil", i)
		}
	}
	return writeObject(ctx, st, dir, RejectsFile, func(w io.Writer) error {
		return writeParquet(ctx, w, len(rejects), func(i int, r *rejectRow) { toRejectRow(rejects[i], r) })
	})
}

// ReadSongs reads the song catalog of the state m describes.
func ReadSongs(ctx context.Context, st storage.Store, dir string, m *Meta) ([]record.Song, error) {
	return readTable(ctx, st, dir, m, SongsFile, songTable, fromSongRow)
}

// ReadUsers reads the users' latest events.
func ReadUsers(ctx context.Context, st storage.Store, dir string, m *Meta) ([]record.Event, error) {
	return readEvents(ctx, st, dir, m, UsersFile)
}

// ReadPlays reads one day's plays of a partition. A day whose file m does not list is an error
// wrapping fs.ErrNotExist, not ErrCorrupt: the caller asked for plays the state never had.
func ReadPlays(ctx context.Context, st storage.Store, dir string, m *Meta, partition, day string) ([]record.Event, error) {
	if err := ValidPartition(partition); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := ValidDay(day); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	name := PlaysFile(partition, day)
	if _, ok := m.File(name); !ok {
		return nil, fmt.Errorf("state %s: no plays of %s on %s: %w", st.Location(dir), partition, day, errNotListed)
	}
	return readEvents(ctx, st, dir, m, name)
}

func readEvents(ctx context.Context, st storage.Store, dir string, m *Meta, rel string) ([]record.Event, error) {
	return readTable(ctx, st, dir, m, rel, eventTable, fromEventRow)
}

// ReadRejects reads the rejected records.
func ReadRejects(ctx context.Context, st storage.Store, dir string, m *Meta) ([]*record.Reject, error) {
	// Rejects are read as their rows, then checked and converted: raw_nil must agree with raw.
	rows, err := readTable(ctx, st, dir, m, RejectsFile, rejectTable, func(r, out *rejectRow) error {
		*out = *r
		return nil
	})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	rejects := make([]record.Reject, len(rows))
	out := make([]*record.Reject, len(rows))
	for i := range rows {
		r := &rows[i]
		raw := r.Raw
		if r.RawNil {
			if len(raw) != 0 {
				return nil, &CorruptError{Location: st.Location(join(dir, RejectsFile)), Reason: fmt.Sprintf("row %d: raw_nil set with %d raw bytes", i, len(raw))}
			}
			raw = nil
		} else if raw == nil {
			raw = []byte{} // parquet-go may read an empty value as nil
		}
		line := int(r.SrcLine)
		if int64(line) != r.SrcLine {
			return nil, &CorruptError{Location: st.Location(join(dir, RejectsFile)), Reason: fmt.Sprintf("row %d: line %d does not fit an int", i, r.SrcLine)}
		}
		rejects[i] = record.Reject{
			Kind: record.Kind(r.Kind), Src: record.Source{Path: r.SrcPath, Line: line, Offset: r.SrcOffset},
			Reason: record.Reason(r.Reason), Field: r.Field, Detail: r.Detail, Raw: raw, FullSize: r.FullSize,
		}
		out[i] = &rejects[i]
	}
	return out, nil
}

// readTable reads a data file, checks it against its entry in m, and decodes its rows, each
// converted to a record by conv.
func readTable[R, T any](ctx context.Context, st storage.Store, dir string, m *Meta, rel string, t *table[R], conv func(*R, *T) error) ([]T, error) {
	data, err := readChecked(ctx, st, dir, m, rel)
	if err != nil {
		return nil, err
	}
	rows, err := decode(data, t, conv)
	if err != nil {
		return nil, &CorruptError{Location: st.Location(join(dir, rel)), Reason: "not a valid state file", Err: err}
	}
	return rows, nil
}

var errNotListed = fmt.Errorf("not in the state: %w", fs.ErrNotExist)
