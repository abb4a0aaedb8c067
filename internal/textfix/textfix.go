// Package textfix undoes mojibake: text whose UTF-8 bytes were read as
// latin-1 (or Windows-1252) and encoded to UTF-8 again, possibly several
// times, as in the event log's "BjÃ\u0083Â¶rk" for "Björk".
//
// The package is pure and safe for concurrent use; Repair does not allocate
// when it leaves its argument unchanged.
package textfix

import (
	"strings"
	"unicode/utf8"
)

// maxRounds caps the rounds Repair performs. It is a defensive bound that is
// never reached: every round at least halves the number of non-ASCII bytes
// (see Repair), so a string needs more than 2^63 bytes to reach it.
const maxRounds = 64

// Repair returns s with mojibake undone, and whether it changed.
//
// One round of repair maps every rune of s to a single byte:
//
//   - a rune U+0000–U+00FF maps to the byte of the same value (latin-1,
//     including the C1 controls U+0080–U+009F to 0x80–0x9F);
//   - one of the 27 characters that Windows-1252 places at 0x80–0x9F
//     (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ) maps to that byte;
//   - any other rune (Greek, CJK, emoji, U+FFFD, ...) cannot be mapped, and
//     the round does not apply.
//
// The mapping is the union of latin-1 and Windows-1252, so that text passed
// through either decoder (including a Windows-1252 decoder that keeps its
// five undefined bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D as C1 controls) is
// recognised. The round applies when s is valid UTF-8, every rune maps, and
// the resulting bytes are valid UTF-8 and differ from s; they then replace s.
// They differ exactly when s has a non-ASCII rune, since such a rune takes
// two or more bytes and maps to one, so pure ASCII never changes and invalid
// UTF-8 is returned as it is.
//
// Repair performs rounds until one does not apply. This terminates and is
// cheap: a round turns each non-ASCII rune (at least two bytes >= 0x80) into
// one byte >= 0x80 and each ASCII rune into itself, so it at least halves
// the number of non-ASCII bytes, and a round needs at least two of them to
// apply. A string with n bytes therefore takes at most log2(n) rounds (two
// for the sample's "BjÃ\u0083Â¶rk"); maxRounds = 64 is a safety cap that
// cannot be reached. Because Repair stops only at a string the rule no longer
// changes, Repair(Repair(s)) == Repair(s) for every s.
//
// Correctly encoded text is left alone unless its latin-1 bytes happen to be
// valid UTF-8, which takes an unusual sequence such as an uppercase accented
// letter Â–ß followed by a symbol from U+0080–U+00BF ("Ã©"); such a string is
// indistinguishable from mojibake and is repaired. A value mixing mojibake
// with characters outside latin-1/Windows-1252 is left unchanged.
//
// The result is valid UTF-8 when s is, and never longer than s.
func Repair(s string) (string, bool) {
	changed := false
	for range maxRounds {
		next, ok := round(s)
		if !ok {
			break
		}
		s, changed = next, true
	}
	return s, changed
}

// round performs one round of repair. It returns s and false, without
// allocating, when the round does not apply.
func round(s string) (string, bool) {
	// ASCII prefix: maps to itself and is valid UTF-8 on its own.
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s, false
	}

	// Check that every rune maps and the mapped bytes are valid UTF-8,
	// without building them.
	var v validator
	n := i // length of the mapped bytes
	for j := i; j < len(s); n++ {
		c := s[j]
		if c < utf8.RuneSelf {
			if !v.feed(c) {
				return s, false
			}
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[j:])
		if r == utf8.RuneError && size == 1 {
			return s, false // s is not valid UTF-8
		}
		b, ok := toByte(r)
		if !ok || !v.feed(b) {
			return s, false
		}
		j += size
	}
	if !v.complete() {
		return s, false
	}

	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(s[:i])
	for _, r := range s[i:] {
		b, _ := toByte(r)
		sb.WriteByte(b)
	}
	return sb.String(), true
}

// toByte maps r to its latin-1 byte, or else its Windows-1252 byte.
func toByte(r rune) (byte, bool) {
	if r < 0x100 {
		return byte(r), true
	}
	switch r {
	case '\u20AC': // €
		return 0x80, true
	case '\u201A': // ‚
		return 0x82, true
	case '\u0192': // ƒ
		return 0x83, true
	case '\u201E': // „
		return 0x84, true
	case '\u2026': // …
		return 0x85, true
	case '\u2020': // †
		return 0x86, true
	case '\u2021': // ‡
		return 0x87, true
	case '\u02C6': // ˆ
		return 0x88, true
	case '\u2030': // ‰
		return 0x89, true
	case '\u0160': // Š
		return 0x8A, true
	case '\u2039': // ‹
		return 0x8B, true
	case '\u0152': // Œ
		return 0x8C, true
	case '\u017D': // Ž
		return 0x8E, true
	case '\u2018': // ‘
		return 0x91, true
	case '\u2019': // ’
		return 0x92, true
	case '\u201C': // “
		return 0x93, true
	case '\u201D': // ”
		return 0x94, true
	case '\u2022': // •
		return 0x95, true
	case '\u2013': // –
		return 0x96, true
	case '\u2014': // —
		return 0x97, true
	case '\u02DC': // ˜
		return 0x98, true
	case '\u2122': // ™
		return 0x99, true
	case '\u0161': // š
		return 0x9A, true
	case '\u203A': // ›
		return 0x9B, true
	case '\u0153': // œ
		return 0x9C, true
	case '\u017E': // ž
		return 0x9E, true
	case '\u0178': // Ÿ
		return 0x9F, true
	}
	return 0, false
}

// validator checks a byte stream for well-formed UTF-8 (as utf8.Valid does:
// no overlong forms, surrogates or values above U+10FFFF) one byte at a time.
type validator struct {
	need   int  // continuation bytes still expected
	lo, hi byte // range of the next continuation byte
}

// feed consumes b and reports whether the stream is still well formed.
func (v *validator) feed(b byte) bool {
	if v.need > 0 {
		if b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
		return true
	case b < 0xC2: // continuation byte or overlong 2-byte lead
		return false
	case b < 0xE0:
		v.need = 1
	case b == 0xE0:
		v.need, v.lo = 2, 0xA0 // no overlong 3-byte forms
	case b == 0xED:
		v.need, v.hi = 2, 0x9F // no surrogates
	case b < 0xF0:
		v.need = 2
	case b == 0xF0:
		v.need, v.lo = 3, 0x90 // no overlong 4-byte forms
	case b < 0xF4:
		v.need = 3
	case b == 0xF4:
		v.need, v.hi = 3, 0x8F // nothing above U+10FFFF
	default:
		return false
	}
	return true
}

// complete reports whether the stream ended on a rune boundary.
func (v *validator) complete() bool { return v.need == 0 }
