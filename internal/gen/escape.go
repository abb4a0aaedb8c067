package gen

import (
	"strconv"
	"unicode/utf8"
)

// The real data was written by two different tools, and the generator reproduces both:
//
//   - the event log (pandas) escapes "/" as "\/";
//   - the song files (Python's json.dumps) leave "/" alone.
//
// Both escape every non-ASCII character as \uXXXX (UTF-16, so a character outside the Basic
// Multilingual Plane becomes a surrogate pair): the real files are pure ASCII, and a reader that
// mishandles \u escapes or surrogate pairs must fail on generated data as it would on real data.
// Control characters are written as \u00XX; '"' and '\' get their short escapes.

// plain[c] is true for the ASCII bytes that are written as they are (in both flavours; '/' is
// handled separately).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string literal. slash selects the event log's flavour, which
// escapes '/'. Invalid UTF-8 is written as U+FFFD (never generated, but the escaper must not emit
// invalid JSON text for any input).
func appendString(dst []byte, s string, slash bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] && (c != '/' || !slash) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, '\\', c)
			}
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			dst = appendU(dst, 0xd800+(r>>10))
			dst = appendU(dst, 0xdc00+(r&0x3ff))
		} else {
			dst = appendU(dst, r) // includes utf8.RuneError for an invalid byte
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendFixed5 appends units/100000 the way Python's repr (and pandas) print a float: the shortest
// text that reads back as the same float64, and always with a fraction (".0" for whole numbers).
// Durations, lengths and coordinates are kept as integers in units of 1e-5 so that the generator
// does no floating-point arithmetic that could differ between CPUs (Go may fuse a*b+c on arm64);
// the single division here is exactly rounded everywhere.
func appendFixed5(dst []byte, units int64) []byte {
	n := len(dst)
	dst = strconv.AppendFloat(dst, float64(units)/1e5, 'f', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}
