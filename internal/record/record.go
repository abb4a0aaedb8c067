// Package record defines the input records of the pipeline — songs and events as decoded from the
// raw JSON — and the rejects that stand for records that could not be decoded.
//
// It holds data only: no I/O, no JSON, no table rules. Every engine exchanges these types, so they
// are plain values that can be copied, compared and (for the distributed engine) serialized.
package record

import (
	"strconv"
	"strings"
)

// Source locates a record in its input: the file's path relative to its root (so that the same
// data read from a folder, a zip or S3 orders the same way), the 1-based line where the record
// starts and its byte offset in the (decompressed) file.
type Source struct {
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Offset int64  `json:"offset"`
}

// Before reports whether s comes before t in (source path, position in file) order: the order
// that decides "first record wins" and the tie-breaks of the SPEC.
func (s Source) Before(t Source) bool {
	if c := strings.Compare(s.Path, t.Path); c != 0 {
		return c < 0
	}
	return s.Offset < t.Offset
}

// Song is one valid record of the song catalog. Optional text is "" when unknown (the SPEC writes
// "" as NULL); optional numbers carry a Has flag because 0 is a real coordinate.
type Song struct {
	Src            Source
	SongID         string
	Title          string
	ArtistID       string
	ArtistName     string
	ArtistLocation string
	Latitude       float64
	HasLatitude    bool
	Longitude      float64
	HasLongitude   bool
	Duration       float64
	Year           int32 // 0 means unknown, the source's convention
}

// Event is one valid line of the event log. UserID is meaningful only when HasUser is set: a
// visitor who is not logged in has no user id.
type Event struct {
	Src           Source
	TS            int64 // epoch milliseconds, UTC
	SessionID     int64
	ItemInSession int32
	Page          string
	UserID        int64
	HasUser       bool
	Artist        string
	Song          string
	Length        float64
	HasLength     bool
	FirstName     string
	LastName      string
	Gender        string
	Level         string
	Location      string
	UserAgent     string
}

// PageNextSong is the page of the events that are song plays.
const PageNextSong = "NextSong"

// IsSongPlay reports whether e is a song play.
func (e *Event) IsSongPlay() bool { return e.Page == PageNextSong }

// Kind names the input a record or reject comes from.
type Kind string

// The two kinds of input.
const (
	KindSong  Kind = "song"
	KindEvent Kind = "event"
)

// Reason is the machine-readable cause of a reject. The set is closed: reports and tests branch on
// these values, and a new value is a change of the data contract.
type Reason string

// The reasons a record is rejected.
const (
	ReasonInvalidJSON  Reason = "invalid_json"  // not valid JSON (including a truncated object)
	ReasonNotObject    Reason = "not_object"    // valid JSON but not an object
	ReasonMissingField Reason = "missing_field" // a required field is absent or null
	ReasonWrongType    Reason = "wrong_type"    // a field has the wrong JSON type, or a non-integer where an integer is required
	ReasonOutOfRange   Reason = "out_of_range"  // a number outside its allowed range
	ReasonEmptyValue   Reason = "empty_value"   // a required text field is ""
	ReasonInvalidUTF8  Reason = "invalid_utf8"  // text that is not UTF-8 cannot be a Parquet STRING
	ReasonDuplicateKey Reason = "duplicate_key" // a top-level key appears twice: parsers disagree on which value wins
	ReasonTooLarge     Reason = "too_large"     // a line or file over the reader's size limit: read past, not held; Raw is its start
)

// Reasons lists every Reason, in a stable order for reports.
var Reasons = []Reason{
	ReasonInvalidJSON, ReasonNotObject, ReasonMissingField, ReasonWrongType,
	ReasonOutOfRange, ReasonEmptyValue, ReasonInvalidUTF8, ReasonDuplicateKey, ReasonTooLarge,
}

// Reject is a record that was not accepted: its raw bytes, exactly as read, where it came from and
// why. Field names the offending field when there is one.
type Reject struct {
	Kind   Kind
	Src    Source
	Reason Reason
	Field  string
	Detail string
	Raw    []byte
	// FullSize is the record's size in bytes when Raw holds only its first bytes (a too_large
	// record); it is 0 when Raw is the whole record.
	FullSize int64
}

// Error makes a Reject usable as an error, e.g. in tests and logs: "path:line: reason field".
func (r *Reject) Error() string {
	var b strings.Builder
	b.WriteString(r.Src.Path)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(r.Src.Line))
	b.WriteString(": ")
	b.WriteString(string(r.Reason))
	if r.Field != "" {
		b.WriteString(" ")
		b.WriteString(r.Field)
	}
	if r.Detail != "" {
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	return b.String()
}
