package gen

import (
	"context"
	"io"
	"math/rand/v2"
	"strconv"
)

type artist struct {
	id, name, location string
	lat, lon           int64 // 1e-5 degrees, when hasCoord
	hasCoord           bool
}

type song struct {
	id, title, track string
	artist           int32
	dur              int64 // 1e-5 seconds
	year             int
}

type catalog struct {
	artists []artist
	songs   []song
	// pairs holds title + "\x00" + artist_name of every catalog song: the match key of the SPEC.
	// It is only looked up, never iterated, so its order cannot leak into the output.
	pairs map[string]struct{}
	// used counts the distinct artists that have a song.
	used int
	// tracks holds the track ids in use, so that no two files get the same name.
	tracks map[string]bool
}

func pairKey(title, artist string) string { return title + "\x00" + artist }

func (c *catalog) has(title, artist string) bool {
	_, ok := c.pairs[pairKey(title, artist)]
	return ok
}

// buildCatalog makes the songs and their artists.
func buildCatalog(r *rand.Rand, o *Options) *catalog {
	c := &catalog{pairs: make(map[string]struct{}, o.Songs), tracks: map[string]bool{}}
	if o.Songs == 0 {
		return c
	}
	ids := map[string]bool{}
	newID := func(prefix, alphabet string) string {
		for {
			id := randomID(r, prefix, alphabet)
			if !ids[id] {
				ids[id] = true
				return id
			}
		}
	}
	names := map[string]bool{}
	c.artists = make([]artist, o.Artists)
	for i := range c.artists {
		a := &c.artists[i]
		a.id = newID("AR", upperAlnum)
		a.name = uniqueName(r, names, artistName)
		// About half the artists have no location and about half no coordinates, mostly the same
		// half: a known place usually comes with coordinates.
		if chance(r, 500) {
			p := pick(r, places)
			a.location = p.name
			if chance(r, 800) {
				a.hasCoord = true
				a.lat = p.lat*1000 + r.Int64N(20001) - 10000
				a.lon = p.lon*1000 + r.Int64N(20001) - 10000
			}
		} else if chance(r, 150) {
			a.hasCoord = true
			a.lat = r.Int64N(120_00001) - 60_00000
			a.lon = r.Int64N(360_00001) - 180_00000
		}
	}
	// Every artist gets a first song (when there are enough songs), then popular artists get more.
	order := r.Perm(len(c.artists))
	pop := newZipf(len(c.artists), 1+len(c.artists)/10)
	c.songs = make([]song, o.Songs)
	for i := range c.songs {
		s := &c.songs[i]
		if i < len(order) {
			s.artist = int32(order[i])
		} else {
			s.artist = int32(order[pop.pick(r)])
		}
		name := c.artists[s.artist].name
		s.title = songTitle(r)
		for n := 2; c.has(s.title, name); n++ {
			// (title, artist_name) is unique in the catalog, so that a matched play has exactly
			// one song and Counts.Matched does not depend on the duration tie-break.
			if n < 10 {
				s.title = songTitle(r)
			} else {
				s.title += " " + strconv.Itoa(n)
			}
		}
		c.pairs[pairKey(s.title, name)] = struct{}{}
		s.id = newID("SO", upperAlnum)
		for {
			s.track = trackID(r)
			if !c.tracks[s.track] {
				c.tracks[s.track] = true
				break
			}
		}
		s.dur = duration(r)
		if !chance(r, 300) {
			// Recent years are more common.
			s.year = 1955 + max(r.IntN(56), r.IntN(56))
		}
	}
	// Every artist has a song when there are at least as many songs; otherwise each song has its
	// own artist.
	c.used = min(len(c.artists), len(c.songs))
	return c
}

// uniqueName draws names until one is new; a crowded name space gets numbered names.
func uniqueName(r *rand.Rand, seen map[string]bool, draw func(*rand.Rand) string) string {
	name := draw(r)
	for n := 2; seen[name]; n++ {
		if n < 10 {
			name = draw(r)
		} else {
			name = draw(r) + " " + strconv.Itoa(n)
		}
	}
	seen[name] = true
	return name
}

// duration draws a track length in 1e-5 s: mostly three to five minutes, some long ones.
func duration(r *rand.Rand) int64 {
	sec := 60 + r.Int64N(180) + r.Int64N(180)
	if chance(r, 100) {
		sec += r.Int64N(600)
	}
	return sec*100000 + r.Int64N(100000)
}

// songDefect is the one thing wrong with an injected bad song record.
type songDefect int

const (
	songOK songDefect = iota
	songNoID
	songYearText
	songLatitude
	songDuration
	songNoTitle
	songTruncated
	songArray
)

var songDefectReason = [...]string{
	songNoID:      ReasonMissingField,
	songYearText:  ReasonWrongType,
	songLatitude:  ReasonOutOfRange,
	songDuration:  ReasonOutOfRange,
	songNoTitle:   ReasonEmptyValue,
	songTruncated: ReasonInvalidJSON,
	songArray:     ReasonNotObject,
}

// appendSong writes one song as Python's json.dumps does: keys in the real files' order, ", " and
// ": " separators, '/' not escaped, non-ASCII as \u escapes.
func appendSong(b []byte, a *artist, s *song, defect songDefect) []byte {
	start := len(b)
	b = append(b, `{"num_songs": 1, "artist_id": `...)
	b = appendString(b, a.id, false)
	b = append(b, `, "artist_latitude": `...)
	switch {
	case defect == songLatitude:
		b = append(b, "123.0"...)
	case a.hasCoord:
		b = appendFixed5(b, a.lat)
	default:
		b = append(b, "null"...)
	}
	b = append(b, `, "artist_longitude": `...)
	if a.hasCoord {
		b = appendFixed5(b, a.lon)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `, "artist_location": `...)
	b = appendString(b, a.location, false)
	b = append(b, `, "artist_name": `...)
	b = appendString(b, a.name, false)
	if defect != songNoID {
		b = append(b, `, "song_id": `...)
		b = appendString(b, s.id, false)
	}
	b = append(b, `, "title": `...)
	if defect == songNoTitle {
		b = append(b, `""`...)
	} else {
		b = appendString(b, s.title, false)
	}
	b = append(b, `, "duration": `...)
	if defect == songDuration {
		b = append(b, "0.0"...)
	} else {
		b = appendFixed5(b, s.dur)
	}
	b = append(b, `, "year": `...)
	if defect == songYearText {
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(s.year), 10)
		b = append(b, '"')
	} else {
		b = strconv.AppendInt(b, int64(s.year), 10)
	}
	b = append(b, '}')
	switch defect {
	case songTruncated:
		// Cut inside the object: what is left can never be valid JSON.
		b = b[:start+1+(len(b)-start-2)/2]
	case songArray:
		b = append(b, 0)
		copy(b[start+1:], b[start:])
		b[start] = '['
		b = append(b, ']')
	}
	return b
}

func songPath(track string) string {
	return "song_data/" + track[2:3] + "/" + track[3:4] + "/" + track[4:5] + "/" + track + ".json"
}

// write creates the song files: the catalog in order, opts.SongsPerFile records a file, then (when
// dirty) one file per bad record.
func (c *catalog) write(ctx context.Context, r *rand.Rand, o *Options, counts *Counts, create func(string) (io.WriteCloser, error)) error {
	var buf []byte
	put := func(name string, data []byte) error {
		w, err := create(name)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		counts.SongFiles++
		return err
	}
	for i := 0; i < len(c.songs); i += o.SongsPerFile {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		buf = buf[:0]
		for j := i; j < min(i+o.SongsPerFile, len(c.songs)); j++ {
			if j > i {
				buf = append(buf, '\n') // between records only: no trailing newline, as in the real files
			}
			s := &c.songs[j]
			buf = appendSong(buf, &c.artists[s.artist], s, songOK)
			counts.Songs++
		}
		if err := put(songPath(c.songs[i].track), buf); err != nil {
			return err
		}
	}
	counts.Artists = c.used
	if !o.Dirty {
		return nil
	}
	// Bad records are made from fresh songs (new ids, new track) so that they cannot be confused
	// with a catalog song, and each sits alone in its file: a truncated record swallows the rest
	// of its file, and must not swallow good records.
	per := max(1, o.Songs/100)
	names := map[string]bool{}
	for d := songNoID; d <= songArray; d++ {
		for range per {
			a := artist{id: randomID(r, "AR", upperAlnum), name: uniqueName(r, names, artistName)}
			if d == songLatitude {
				a.hasCoord, a.lat, a.lon = true, 0, r.Int64N(360_00001)-180_00000
			}
			s := song{id: randomID(r, "SO", upperAlnum), title: songTitle(r), dur: duration(r), year: 1990 + r.IntN(20)}
			for {
				s.track = trackID(r)
				if !c.tracks[s.track] {
					c.tracks[s.track] = true
					break
				}
			}
			buf = appendSong(buf[:0], &a, &s, d)
			if err := put(songPath(s.track), buf); err != nil {
				return err
			}
			reason := songDefectReason[d]
			counts.Songs++
			counts.Rejected[reason]++
			counts.RejectedSongs[reason]++
		}
	}
	return nil
}
