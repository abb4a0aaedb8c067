package gen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Options describe a dataset. The same Options (Seed included) always give the same bytes, on
// every platform.
type Options struct {
	Songs        int       // catalog size: valid song records, each with its own song_id
	Artists      int       // artists to draw the songs' artists from; 0 means about Songs/3
	Events       int       // total lines of the event log, all pages, including injected bad lines
	Users        int       // registered users to draw the sessions' users from
	Days         int       // number of daily log files, one per UTC day from Start
	Start        time.Time // the first day; truncated to its UTC day. Zero means 2018-11-01
	Seed         uint64    // same seed + options => same bytes
	MatchShare   float64   // share of NextSong events whose (song, artist) is a catalog (title, artist_name), in [0, 1]
	SongsPerFile int       // 1 (or 0) = one compact object per file like the real data; >1 packs that many per file, one per line
	Dirty        bool      // inject bad records and duplicate plays, counted in Counts (needs Events >= 100)
}

// Counts describe what Generate wrote. The caller writes them as JSON next to the data, so that a
// test of an engine knows the expected figures without recomputing them.
//
// Lines and records on disk, good or bad:
//   - SongFiles, LogFiles: files written under song_data and log_data (LogFiles == Days: a day
//     without events still gets its, empty, file).
//   - Songs: JSON values in the song files, including the injected bad ones. The valid songs
//     are Songs - sum(RejectedSongs) == Options.Songs, all with distinct song_id.
//   - Events: non-blank lines in the log files, including the injected bad ones and the duplicate
//     copies: always Options.Events. The valid events are Events - (sum(Rejected) - sum(RejectedSongs)).
//
// Derived figures, for checking the tables:
//   - NextSong: valid NextSong lines, including the DuplicateEvents copies and excluding the
//     injected bad lines. The songplays table has NextSong - DuplicateEvents rows.
//   - DuplicateEvents: valid NextSong lines that repeat an earlier line's (userId, sessionId,
//     itemInSession) with the same or a later ts; deduplication removes exactly these.
//   - Matched: songplays (duplicates not counted) whose (song, artist), after the SPEC's text
//     repair, is a catalog (title, artist_name): the songplays rows with a song_id. Unmatched
//     plays never name a catalog pair, repaired or not.
//   - Artists: distinct artist_id of the valid songs (the artists table's rows).
//   - Users: distinct user ids on valid events (the users table's rows).
//
// Rejects (only when Options.Dirty):
//   - Rejected: reason -> number of injected bad records, songs and events together. Each bad
//     record has exactly one defect, so a validator that follows the SPEC rejects it for that
//     reason and no other.
//   - RejectedSongs: the part of Rejected that is in song_data (each bad song is alone in its file).
type Counts struct {
	SongFiles       int            `json:"song_files"`
	LogFiles        int            `json:"log_files"`
	Songs           int            `json:"songs"`
	Events          int            `json:"events"`
	NextSong        int            `json:"next_song"`
	DuplicateEvents int            `json:"duplicate_events"`
	Matched         int            `json:"matched"`
	Artists         int            `json:"artists"`
	Users           int            `json:"users"`
	Rejected        map[string]int `json:"rejected,omitempty"`
	RejectedSongs   map[string]int `json:"rejected_songs,omitempty"`
}

// The reject reasons of the SPEC (and of package record), as Counts.Rejected keys.
const (
	ReasonInvalidJSON  = "invalid_json"
	ReasonNotObject    = "not_object"
	ReasonMissingField = "missing_field"
	ReasonWrongType    = "wrong_type"
	ReasonOutOfRange   = "out_of_range"
	ReasonEmptyValue   = "empty_value"
)

// Sample returns the options of the project's built-in sample (package sample). They live here,
// not there, because the sample's generator must compile before the sample's embedded files exist.
func Sample() Options {
	return Options{
		Songs:        80,
		Events:       1500,
		Users:        25,
		Days:         3,
		Start:        time.Date(2018, 11, 29, 0, 0, 0, 0, time.UTC),
		Seed:         20181129,
		MatchShare:   0.25,
		SongsPerFile: 1,
	}
}

const dayMs = 86_400_000

// ErrOptions is returned for options that describe no dataset.
var ErrOptions = errors.New("gen: invalid options")

func (o *Options) normalize() error {
	switch {
	case o.Songs < 0 || o.Artists < 0 || o.Events < 0 || o.Users < 0:
		return fmt.Errorf("%w: negative size", ErrOptions)
	case o.Days < 1:
		return fmt.Errorf("%w: Days must be at least 1", ErrOptions)
	case o.Events > 0 && o.Users < 1:
		return fmt.Errorf("%w: events need at least one user", ErrOptions)
	case !(o.MatchShare >= 0 && o.MatchShare <= 1):
		return fmt.Errorf("%w: MatchShare %v is not in [0, 1]", ErrOptions, o.MatchShare)
	case o.SongsPerFile < 0:
		return fmt.Errorf("%w: negative SongsPerFile", ErrOptions)
	case o.Dirty && o.Events < 100:
		// Dirty mode spends a handful of lines on each kind of defect; below this the defects
		// would crowd out the data they are meant to hide in.
		return fmt.Errorf("%w: Dirty needs at least 100 events", ErrOptions)
	}
	if o.SongsPerFile == 0 {
		o.SongsPerFile = 1
	}
	if o.Artists == 0 {
		o.Artists = max(1, (o.Songs+2)/3)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2018, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	y, m, d := o.Start.UTC().Date()
	o.Start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if end := o.Start.AddDate(0, 0, o.Days); end.UnixMilli() > math.MaxInt64/2 || o.Start.Year() < 1970 {
		return fmt.Errorf("%w: date range out of bounds", ErrOptions)
	}
	return nil
}

// Each part of the dataset draws from its own stream, so that changing, say, Events leaves the
// catalog byte for byte as it was.
func stream(seed uint64, part uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x5eed_0000+part))
}

// Generate writes the dataset through create: song_data/<A>/<B>/<C>/<TRACKID>.json and
// log_data/YYYY/MM/YYYY-MM-DD-events.json, with '/'-separated names relative to the dataset root.
// Every file it creates it closes, also on error. Files are written in a deterministic order, each
// from start to end.
func Generate(ctx context.Context, opts Options, create func(name string) (io.WriteCloser, error)) (Counts, error) {
	if err := opts.normalize(); err != nil {
		return Counts{}, err
	}
	var c Counts
	if opts.Dirty {
		c.Rejected = map[string]int{}
		c.RejectedSongs = map[string]int{}
	}
	cat := buildCatalog(stream(opts.Seed, 1), &opts)
	if err := cat.write(ctx, stream(opts.Seed, 2), &opts, &c, create); err != nil {
		return c, err
	}
	g := newEventGen(&opts, cat, &c, create)
	if err := g.run(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// WriteDir is Generate into the local directory dir, which is created if needed. Existing files
// of the same names are overwritten; others are left alone.
func WriteDir(ctx context.Context, dir string, opts Options) (Counts, error) {
	made := map[string]bool{}
	return Generate(ctx, opts, func(name string) (io.WriteCloser, error) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, err
			}
			made[d] = true
		}
		return os.Create(p)
	})
}
