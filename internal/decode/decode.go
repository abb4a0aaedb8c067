package decode

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/sparkify/lake/internal/record"
	"github.com/valyala/fastjson"
)

// Decoder decodes songs and events. The zero value is ready to use. A Decoder reuses its parser's
// memory between calls, so it is not safe for concurrent use: give each goroutine its own.
type Decoder struct {
	// MaxTS is the latest ts an event may have, in epoch milliseconds (the earliest is MinTS); a
	// later one is rejected as out_of_range. A run sets it to MaxTSAt(its start) on every decoder
	// it makes, so that all of them, in every engine, apply the same bound. Zero means
	// MaxTSAt(time.Now()), taken on first use and then stored here.
	MaxTS int64

	// NoRepair turns text repair off (sparkify etl --no-repair-text): by default the text fields
	// the SPEC names are repaired when they are mojibake, and counted in Repaired.
	NoRepair bool
	// Repaired counts the values repaired so far; the caller reads and resets it.
	Repaired Repairs

	p    fastjson.Parser
	scan flatScanner
	keys [][]byte // scratch for duplicateKey
}

// problem is a validation failure before it is turned into a Reject with its raw bytes.
type problem struct {
	reason record.Reason
	field  string
	detail string
}

// object parses raw as a JSON object, checking on the way what the field rules cannot see: its
// nesting depth (first, since both fastjson's validator and its parser recurse), its syntax and
// that no top-level key is repeated.
func (d *Decoder) object(raw []byte) (*fastjson.Object, *problem) {
	if p := depthProblem(raw); p != nil {
		return nil, p
	}
	// fastjson's parser is lenient (it takes NaN, Inf and bad escapes); the validator is strict
	// JSON, so a value is parsed only after it passed validation.
	if err := fastjson.ValidateBytes(raw); err != nil {
		return nil, &problem{reason: record.ReasonInvalidJSON, detail: shorten(err.Error())}
	}
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return nil, &problem{reason: record.ReasonInvalidJSON, detail: shorten(err.Error())}
	}
	o, err := v.Object()
	if err != nil {
		return nil, &problem{reason: record.ReasonNotObject, detail: "a JSON " + v.Type().String()}
	}
	if p := d.duplicateKey(o); p != nil {
		return nil, p
	}
	return o, nil
}

func reject(kind record.Kind, src record.Source, raw []byte, p *problem) *record.Reject {
	return &record.Reject{
		Kind:   kind,
		Src:    src,
		Reason: p.reason,
		Field:  p.field,
		Detail: p.detail,
		Raw:    bytes.Clone(raw),
	}
}

// Song validates one JSON value of the song catalog found at src.
func (d *Decoder) Song(raw []byte, src record.Source) (record.Song, *record.Reject) {
	s := record.Song{Src: src}
	o, p := d.object(raw)
	if p == nil {
		p = songFields(objFields{o}, &s)
	}
	if p != nil {
		return record.Song{}, reject(record.KindSong, src, raw, p)
	}
	d.repairSong(&s)
	return s, nil
}

func songFields(o fields, s *record.Song) *problem {
	var p *problem
	if s.SongID, p = requiredText(o, "song_id"); p != nil {
		return p
	}
	if s.Title, p = requiredText(o, "title"); p != nil {
		return p
	}
	if s.ArtistID, p = requiredText(o, "artist_id"); p != nil {
		return p
	}
	if s.ArtistName, p = requiredText(o, "artist_name"); p != nil {
		return p
	}
	if s.ArtistLocation, p = optionalText(o, "artist_location"); p != nil {
		return p
	}
	if s.Latitude, s.HasLatitude, p = optionalCoordinate(o, "artist_latitude", 90); p != nil {
		return p
	}
	if s.Longitude, s.HasLongitude, p = optionalCoordinate(o, "artist_longitude", 180); p != nil {
		return p
	}
	dur, ok, p := number(o, "duration")
	if p != nil {
		return p
	}
	if !ok {
		return &problem{reason: record.ReasonMissingField, field: "duration"}
	}
	if !(dur > 0) {
		return &problem{reason: record.ReasonOutOfRange, field: "duration", detail: "must be > 0"}
	}
	s.Duration = dur
	year, ok, p := integer(o, "year")
	if p != nil {
		return p
	}
	if !ok {
		return &problem{reason: record.ReasonMissingField, field: "year"}
	}
	if year < math.MinInt32 || year > math.MaxInt32 {
		return &problem{reason: record.ReasonOutOfRange, field: "year"}
	}
	s.Year = int32(year)
	return nil
}

// eventText lists the optional text fields of an event that the tables use or that the SPEC
// requires to be strings when present.
var eventText = []string{"auth", "method"}

// Event validates one line of the event log found at src.
func (d *Decoder) Event(raw []byte, src record.Source) (record.Event, *record.Reject) {
	var e record.Event
	if r := d.event(raw, src, &e); r != nil {
		return record.Event{}, r
	}
	return e, nil
}

// event is Event into *e, which it sets whole; after a reject *e is unspecified.
func (d *Decoder) event(raw []byte, src record.Source, e *record.Event) *record.Reject {
	*e = record.Event{Src: src}
	maxTS := d.maxTS()
	var p *problem
	// The fast path takes the lines it fully understands; anything unusual (and every invalid
	// line) goes through the strict validator and the general parser, which say what is wrong.
	if d.scan.event(raw) {
		p = eventFields(&d.scan, e, maxTS)
	} else {
		var o *fastjson.Object
		if o, p = d.object(raw); p == nil {
			p = eventFields(objFields{o}, e, maxTS)
		}
	}
	if p != nil {
		return reject(record.KindEvent, src, raw, p)
	}
	d.repairEvent(e)
	return nil
}

// eventFields validates an event's fields, whichever parser found them; maxTS is the latest ts
// allowed.
func eventFields(o fields, e *record.Event, maxTS int64) *problem {
	var p *problem
	var ok bool
	if e.TS, p = requiredInteger(o, "ts"); p != nil {
		return p
	}
	if p = tsProblem(e.TS, maxTS); p != nil {
		return p
	}
	if e.SessionID, p = requiredInteger(o, "sessionId"); p != nil {
		return p
	}
	item, p := requiredInteger(o, "itemInSession")
	if p != nil {
		return p
	}
	if item < math.MinInt32 || item > math.MaxInt32 {
		return &problem{reason: record.ReasonOutOfRange, field: "itemInSession"}
	}
	e.ItemInSession = int32(item)
	if e.Page, ok, p = text(o, "page"); p != nil {
		return p
	} else if !ok {
		return &problem{reason: record.ReasonMissingField, field: "page"}
	}
	uid, ok, p := textBytes(o, "userId")
	if p != nil {
		return p
	}
	if !ok {
		return &problem{reason: record.ReasonMissingField, field: "userId"}
	}
	if len(uid) > 0 {
		// A view, not a copy: the number is all that is kept.
		n, err := strconv.ParseInt(unsafe.String(&uid[0], len(uid)), 10, 64)
		if err != nil {
			return &problem{reason: record.ReasonWrongType, field: "userId", detail: "not an integer"}
		}
		e.UserID, e.HasUser = n, true
	}
	// The fields' names and destinations in two arrays, not one of pairs: with the names, which
	// go to an interface's method, in the same array, e escaped and every event was allocated.
	names := [...]string{"artist", "song", "firstName", "lastName", "gender", "level", "location", "userAgent"}
	dsts := [...]*string{&e.Artist, &e.Song, &e.FirstName, &e.LastName, &e.Gender, &e.Level, &e.Location, &e.UserAgent}
	for i, name := range names {
		if *dsts[i], p = optionalText(o, name); p != nil {
			return p
		}
	}
	for _, name := range eventText {
		if _, _, p = textBytes(o, name); p != nil {
			return p
		}
	}
	if e.Length, e.HasLength, p = number(o, "length"); p != nil {
		return p
	}
	if e.Page == record.PageNextSong {
		if !e.HasUser {
			return &problem{reason: record.ReasonEmptyValue, field: "userId", detail: "a NextSong event needs a user"}
		}
		if e.Song == "" {
			return emptyOrMissing(o, "song")
		}
		if e.Artist == "" {
			return emptyOrMissing(o, "artist")
		}
	}
	return nil
}

func emptyOrMissing(o fields, name string) *problem {
	if v := o.get(name); v.kind == kindAbsent || v.kind == kindNull {
		return &problem{reason: record.ReasonMissingField, field: name}
	}
	return &problem{reason: record.ReasonEmptyValue, field: name}
}

// text returns a string field. ok is false when the field is absent or null.
func text(o fields, name string) (s string, ok bool, p *problem) {
	b, ok, p := textBytes(o, name)
	if !ok || p != nil {
		return "", ok, p
	}
	return o.str(b), true, nil
}

// textBytes is text for a field that is only checked, or parsed, and not kept: its bytes, valid
// UTF-8, without the cost of making them a string. They belong to o's line.
func textBytes(o fields, name string) (b []byte, ok bool, p *problem) {
	v := o.get(name)
	if v.kind == kindAbsent || v.kind == kindNull {
		return nil, false, nil
	}
	if v.kind != kindString {
		return nil, false, &problem{reason: record.ReasonWrongType, field: name, detail: "want a string, got " + v.kind.String()}
	}
	if !utf8.Valid(v.raw) {
		return nil, false, utf8Problem(name, v.raw)
	}
	return v.raw, true, nil
}

func requiredText(o fields, name string) (string, *problem) {
	s, ok, p := text(o, name)
	switch {
	case p != nil:
		return "", p
	case !ok:
		return "", &problem{reason: record.ReasonMissingField, field: name}
	case s == "":
		return "", &problem{reason: record.ReasonEmptyValue, field: name}
	}
	return s, nil
}

func optionalText(o fields, name string) (string, *problem) {
	s, _, p := text(o, name)
	return s, p
}

// number returns a numeric field; ok is false when it is absent or null.
func number(o fields, name string) (f float64, ok bool, p *problem) {
	v := o.get(name)
	if v.kind == kindAbsent || v.kind == kindNull {
		return 0, false, nil
	}
	if v.kind != kindNumber {
		return 0, false, &problem{reason: record.ReasonWrongType, field: name, detail: "want a number, got " + v.kind.String()}
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false, &problem{reason: record.ReasonOutOfRange, field: name, detail: "not a finite number"}
	}
	return f, true, nil
}

// maxExactInt is the largest integer a float64 holds exactly.
const maxExactInt = 1 << 53

// integer returns an integer field; ok is false when it is absent or null. A number written with a
// zero fraction (1541105830796.0, as pandas writes) is an integer; 1.5 is not.
func integer(o fields, name string) (n int64, ok bool, p *problem) {
	v := o.get(name)
	if v.kind == kindAbsent || v.kind == kindNull {
		return 0, false, nil
	}
	if v.kind != kindNumber {
		return 0, false, &problem{reason: record.ReasonWrongType, field: name, detail: "want an integer, got " + v.kind.String()}
	}
	if n, err := strconv.ParseInt(string(v.raw), 10, 64); err == nil {
		return n, true, nil
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxExactInt {
		return 0, false, &problem{reason: record.ReasonOutOfRange, field: name, detail: "not an integer in range"}
	}
	if f != math.Trunc(f) {
		return 0, false, &problem{reason: record.ReasonWrongType, field: name, detail: "want an integer, got a fraction"}
	}
	return int64(f), true, nil
}

func requiredInteger(o fields, name string) (int64, *problem) {
	n, ok, p := integer(o, name)
	if p != nil {
		return 0, p
	}
	if !ok {
		return 0, &problem{reason: record.ReasonMissingField, field: name}
	}
	return n, nil
}

func optionalCoordinate(o fields, name string, limit float64) (float64, bool, *problem) {
	f, ok, p := number(o, name)
	if p != nil || !ok {
		return 0, false, p
	}
	if f < -limit || f > limit {
		return 0, false, &problem{reason: record.ReasonOutOfRange, field: name, detail: fmt.Sprintf("outside [-%g, %g]", limit, limit)}
	}
	return f, true, nil
}

func shorten(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
