package decode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sparkify/lake/internal/record"
	"github.com/valyala/fastjson"
)

// MaxDepth is the deepest nesting of objects and arrays a record may have, its own object
// counting as 1. A deeper record is rejected as invalid_json before any JSON parser sees it: the
// parsers recurse once per level (and fastjson's validator builds an error message per level), so
// unbounded nesting costs time and memory quadratic in the input. No real record nests deeper
// than 2.
const MaxDepth = 64

// MinTS is the earliest ts an event may have: 2000-01-01T00:00:00Z, in epoch milliseconds.
const MinTS int64 = 946684800000

// MaxTSAt returns the latest ts an event may have in a run that starts at t: t + 24 h, in epoch
// milliseconds. A run computes it once and gives it to all its decoders (Decoder.MaxTS), so that
// every record of the run and every engine judges ts by the same bound.
func MaxTSAt(t time.Time) int64 { return t.Add(24 * time.Hour).UnixMilli() }

// maxTS returns the upper bound of ts, taking it from the clock on first use if the user left it
// zero.
func (d *Decoder) maxTS() int64 {
	if d.MaxTS == 0 {
		d.MaxTS = MaxTSAt(time.Now())
	}
	return d.MaxTS
}

// tsProblem checks an event's ts against [MinTS, maxTS].
func tsProblem(ts, maxTS int64) *problem {
	if ts >= MinTS && ts <= maxTS {
		return nil
	}
	return &problem{reason: record.ReasonOutOfRange, field: "ts", detail: fmt.Sprintf("%d is outside [%s, %s]",
		ts, formatMS(MinTS), formatMS(maxTS))}
}

func formatMS(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

// depthProblem rejects raw if it nests objects and arrays deeper than MaxDepth. It is one pass
// without recursion that counts brackets outside strings; it does not check that they match.
// Up to the first syntax error it reads raw exactly as a JSON parser does (a string ends at the
// first quote not escaped by a backslash), and a parser goes no further than that error, so on
// the part a parser would read the count is exact; past it (in a value already invalid) it may
// count too much, never too little, and so rejects as too deep only what is invalid JSON anyway.
func depthProblem(raw []byte) *problem {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			// Skip the string: find its closing quote, stepping over escaped characters.
			for i++; i < len(raw); i++ {
				if c := raw[i]; c == '"' {
					break
				} else if c == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > MaxDepth {
				return &problem{reason: record.ReasonInvalidJSON, detail: "nesting deeper than " + strconv.Itoa(MaxDepth)}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// smallObject is the size up to which duplicateKey compares every key with every other rather
// than build a map.
const smallObject = 32

// duplicateKey rejects an object that has a key twice. JSON parsers disagree on which value a
// repeated key has (fastjson's Get finds the first; encoding/json, Jackson and DuckDB keep the
// last), so such a record has no one meaning and is rejected instead of read either way.
//
// Only the top level is checked: it is the only level whose fields make the record. A nested
// object with a repeated key is part of a field the decoder ignores or rejects for its type.
//
// Keys are compared unescaped ("pa\u0067e" is "page"), as fastjson unescapes them, which is the
// form its Get matches: so a record is rejected exactly when a name could find two values.
func (d *Decoder) duplicateKey(o *fastjson.Object) *problem {
	if o.Len() < 2 {
		return nil
	}
	// The keys point into the parser's memory, which stays as it is until the next parse: they
	// are only held for the length of this call.
	keys := d.keys[:0]
	o.Visit(func(k []byte, _ *fastjson.Value) { keys = append(keys, k) })
	d.keys = keys[:0]
	if len(keys) <= smallObject {
		for i := 1; i < len(keys); i++ {
			for _, k := range keys[:i] {
				if bytes.Equal(k, keys[i]) {
					return dupProblem(keys[i])
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := seen[string(k)]; ok {
			return dupProblem(k)
		}
		seen[string(k)] = struct{}{}
	}
	return nil
}

func dupProblem(key []byte) *problem {
	// The name is the record's own text: keep the reject's field valid UTF-8 and short.
	name := shorten(strings.ToValidUTF8(string(key), "\uFFFD"))
	return &problem{reason: record.ReasonDuplicateKey, field: name,
		detail: "the key " + strconv.Quote(name) + " appears more than once; parsers disagree on which value counts"}
}

// utf8Problem says where a text field's bytes, known not to be valid UTF-8, first go wrong.
func utf8Problem(name string, b []byte) *problem {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	detail := "not valid UTF-8"
	if i < len(b) {
		detail = fmt.Sprintf("byte 0x%02x at offset %d of the (unescaped) value is not valid UTF-8", b[i], i)
	}
	return &problem{reason: record.ReasonInvalidUTF8, field: name, detail: detail}
}
