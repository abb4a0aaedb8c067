package decode

import (
	"unicode/utf16"
	"unicode/utf8"
)

// eventKeys are the fields of an event line, in the order the real log writes them.
var eventKeys = [...]string{"artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length",
	"level", "location", "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId"}

func eventKeyIndex(key []byte) int {
	// A switch on the string compiles to a search on length and bytes, without allocating.
	switch string(key) {
	case "artist":
		return 0
	case "auth":
		return 1
	case "firstName":
		return 2
	case "gender":
		return 3
	case "itemInSession":
		return 4
	case "lastName":
		return 5
	case "length":
		return 6
	case "level":
		return 7
	case "location":
		return 8
	case "method":
		return 9
	case "page":
		return 10
	case "registration":
		return 11
	case "sessionId":
		return 12
	case "song":
		return 13
	case "status":
		return 14
	case "ts":
		return 15
	case "userAgent":
		return 16
	case "userId":
		return 17
	}
	return -1
}

// flatScanner is the fast path for event lines: one pass over a flat JSON object (no nested
// objects or arrays), with no parse tree. It only ever accepts; whatever it does not fully
// understand — nesting, a surrogate escape, an escaped key, a repeated key, more than one key
// that is not an event field, any syntax error — it declines, and the general parser takes the
// line. So it cannot reject a valid line or accept an invalid one that the general path would
// reject: declining is always safe. FuzzEventScanner checks that what it accepts, the general
// parser reads the same.
type flatScanner struct {
	// intern shares one string among the events that repeat it: a log repeats its levels,
	// names, places, user agents and popular songs on line after line, and one string instead
	// of thousands saves the allocations and the memory the collector would scan.
	intern  map[string]string
	vals    [len(eventKeys)]field
	spans   [len(eventKeys)][2]int // for unescaped strings: their place in buf
	escaped [len(eventKeys)]bool
	buf     []byte
	unknown int // keys not in eventKeys
}

var _ fields = (*flatScanner)(nil)

// maxInterned bounds the intern table, so that a log of mostly distinct values cannot grow it
// without limit: past it, the table starts again.
const maxInterned = 1 << 16

func (s *flatScanner) str(b []byte) string {
	if v, ok := s.intern[string(b)]; ok { // the conversion in a map index does not allocate
		return v
	}
	if s.intern == nil || len(s.intern) >= maxInterned {
		s.intern = make(map[string]string, 1024)
	}
	v := string(b)
	s.intern[v] = v
	return v
}

func (s *flatScanner) get(name string) field {
	if i := eventKeyIndex([]byte(name)); i >= 0 {
		return s.vals[i]
	}
	return field{}
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// event scans line into s.vals and reports whether it understood all of it.
func (s *flatScanner) event(line []byte) bool {
	s.vals = [len(eventKeys)]field{}
	s.escaped = [len(eventKeys)]bool{}
	s.buf = s.buf[:0]
	s.unknown = 0
	i, n := 0, len(line)
	ws := func() {
		for i < n && isWS(line[i]) {
			i++
		}
	}
	ws()
	if i >= n || line[i] != '{' {
		return false
	}
	i++
	ws()
	if i < n && line[i] == '}' {
		i++
		ws()
		return i == n
	}
	for {
		// Key: a plain string without escapes or control bytes.
		if i >= n || line[i] != '"' {
			return false
		}
		start := i + 1
		i = start
		for i < n && line[i] != '"' {
			if line[i] == '\\' || line[i] < 0x20 {
				return false
			}
			i++
		}
		if i >= n {
			return false
		}
		key := line[start:i]
		i++
		ws()
		if i >= n || line[i] != ':' {
			return false
		}
		i++
		ws()
		if i >= n {
			return false
		}
		var f field
		esc := false
		var lo, hi int
		switch c := line[i]; {
		case c == '"':
			j := i + 1
			for j < n && line[j] != '"' {
				switch {
				case line[j] < 0x20:
					return false
				case line[j] == '\\':
					esc = true
					j++
				}
				j++
			}
			if j >= n {
				return false
			}
			f = field{kind: kindString, raw: line[i+1 : j]}
			if esc {
				lo = len(s.buf)
				var ok bool
				if s.buf, ok = unescape(s.buf, line[i+1:j]); !ok {
					return false
				}
				hi = len(s.buf)
			}
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j, ok := numberEnd(line, i)
			if !ok {
				return false
			}
			f = field{kind: kindNumber, raw: line[i:j]}
			i = j
		case c == 'n' && hasLiteral(line, i, "null"):
			f, i = field{kind: kindNull}, i+4
		case c == 't' && hasLiteral(line, i, "true"):
			f, i = field{kind: kindTrue}, i+4
		case c == 'f' && hasLiteral(line, i, "false"):
			f, i = field{kind: kindFalse}, i+5
		default:
			return false // nesting, or not JSON: the general parser decides
		}
		if k := eventKeyIndex(key); k >= 0 {
			if s.vals[k].kind != kindAbsent {
				return false // a repeated key: leave the choice to the general parser
			}
			s.vals[k] = f
			if esc {
				s.escaped[k], s.spans[k] = true, [2]int{lo, hi}
			}
		} else {
			s.unknown++
		}
		ws()
		if i >= n {
			return false
		}
		if line[i] == ',' {
			i++
			ws()
			continue
		}
		if line[i] != '}' {
			return false
		}
		i++
		ws()
		if i != n {
			return false
		}
		break
	}
	if s.unknown > 1 {
		// An unknown key is ignored, but not when repeated, which the general parser rejects.
		// Real lines have none, so rather than compare them here, leave two or more to it.
		return false
	}
	// Unescaped strings point into buf only now that it has stopped growing.
	for k := range s.vals {
		if s.escaped[k] {
			s.vals[k].raw = s.buf[s.spans[k][0]:s.spans[k][1]]
		}
	}
	return true
}

func hasLiteral(line []byte, i int, lit string) bool {
	return len(line)-i >= len(lit) && string(line[i:i+len(lit)]) == lit
}

// numberEnd returns the end of the JSON number starting at i, following the grammar exactly:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func numberEnd(b []byte, i int) (int, bool) {
	n := len(b)
	digits := func() int {
		j := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case digits() == 0:
		return i, false
	}
	if i < n && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return i, true
}

// unescape appends the unescaped form of a JSON string's content to dst. It declines surrogate
// escapes (rare, and where parsers differ on lone halves) and any invalid escape.
func unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, false
		}
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if len(s)-i-1 < 4 {
				return dst, false
			}
			r := rune(0)
			for _, h := range s[i+1 : i+5] {
				var v byte
				switch {
				case h >= '0' && h <= '9':
					v = h - '0'
				case h >= 'a' && h <= 'f':
					v = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					v = h - 'A' + 10
				default:
					return dst, false
				}
				r = r<<4 | rune(v)
			}
			if utf16.IsSurrogate(r) {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			i += 4
		default:
			return dst, false
		}
	}
	return dst, true
}
