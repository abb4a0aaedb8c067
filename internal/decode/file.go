package decode

import (
	"bytes"

	"github.com/sparkify/lake/internal/record"
)

// SongFile decodes every top-level JSON value of a song file: one compact object (the real data),
// one per line, several concatenated, or one pretty-printed over many lines. Each value yields a
// song or a reject; bytes that do not form a complete value (a truncated file) yield one reject
// holding all of them.
func (d *Decoder) SongFile(path string, data []byte, emit func(record.Song), rej func(*record.Reject)) {
	line := 1
	for pos := 0; pos < len(data); {
		start, startLine := skipSpace(data, pos, line)
		if start >= len(data) {
			return
		}
		end, nl := valueEnd(data, start)
		src := record.Source{Path: path, Line: startLine, Offset: int64(start)}
		if s, r := d.Song(data[start:end], src); r != nil {
			rej(r)
		} else {
			emit(s)
		}
		pos, line = end, startLine+nl
	}
}

// EventLines decodes a block of event-log lines. firstLine and offset give the position of data
// in its file, so that a large file can be split into blocks that are decoded in parallel. Blank
// lines are skipped; a trailing "\r" is not part of the record.
func (d *Decoder) EventLines(path string, data []byte, firstLine int, offset int64, emit func(record.Event), rej func(*record.Reject)) {
	d.eventLines(path, data, firstLine, offset, func(raw []byte, src record.Source) {
		if e, r := d.Event(raw, src); r != nil {
			rej(r)
		} else {
			emit(e)
		}
	})
}

// AppendEvents is EventLines that appends the events to dst and returns it. Each event is
// decoded where it is stored: an event is a large struct, and copying each out through emit
// and into a slice cost a run more than its field-by-field decoding.
func (d *Decoder) AppendEvents(dst []record.Event, path string, data []byte, firstLine int, offset int64, rej func(*record.Reject)) []record.Event {
	d.eventLines(path, data, firstLine, offset, func(raw []byte, src record.Source) {
		dst = append(dst, record.Event{})
		if r := d.event(raw, src, &dst[len(dst)-1]); r != nil {
			dst = dst[:len(dst)-1]
			rej(r)
		}
	})
	return dst
}

// eventLines calls line for each line of data that is not blank, with its position.
func (d *Decoder) eventLines(path string, data []byte, firstLine int, offset int64, line func(raw []byte, src record.Source)) {
	n := firstLine
	for pos := 0; pos < len(data); n++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := pos + end + 1
		if end < 0 {
			end, next = len(data)-pos, len(data)
		}
		raw := bytes.TrimSuffix(data[pos:pos+end], []byte{'\r'})
		if !blank(raw) {
			line(raw, record.Source{Path: path, Line: n, Offset: offset + int64(pos)})
		}
		pos = next
	}
}

// blank reports whether b holds only JSON whitespace. Other bytes, even Unicode spaces, make a
// line a record, to be decoded or rejected, never skipped.
func blank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the first non-space position at or after pos and the line it is on.
func skipSpace(data []byte, pos, line int) (int, int) {
	for ; pos < len(data) && isSpace(data[pos]); pos++ {
		if data[pos] == '\n' {
			line++
		}
	}
	return pos, line
}

// valueEnd finds where the JSON value starting at data[start] ends, by structure alone: brackets
// are balanced outside strings, and a scalar ends at the next space. It also counts
// the newlines it passed. Validation is left to the decoder: valueEnd only has to cut the input
// into pieces so that one bad value cannot swallow the good ones after it.
func valueEnd(data []byte, start int) (end, newlines int) {
	depth := 0
	inString, escaped := false, false
	i := start
	for ; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			newlines++
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 0 {
					return i + 1, newlines
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1, newlines
			}
		default:
			if depth == 0 && isSpace(c) {
				if c == '\n' {
					newlines--
				}
				return i, newlines
			}
		}
	}
	return i, newlines
}
