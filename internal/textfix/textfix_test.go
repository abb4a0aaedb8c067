package textfix

import (
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

func TestRepairCases(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Unchanged.
		{"empty", "", ""},
		{"ascii", "You're The One", "You're The One"},
		{"ascii controls", "a\x00b\x7f\tc", "a\x00b\x7f\tc"},
		{"catalog latin-1 name", "Montserrat Caballé", "Montserrat Caballé"},
		{"catalog inverted question", "¿Dónde va Chichi?", "¿Dónde va Chichi?"},
		{"trailing accent", "Beyoncé", "Beyoncé"},
		{"accent before space", "Sigur Rós", "Sigur Rós"},
		{"umlaut", "Motörhead", "Motörhead"},
		{"cjk", "坂本龍一", "坂本龍一"},
		{"emoji", "Happy 🎉🎶", "Happy 🎉🎶"},
		{"greek", "Βαγγέλης", "Βαγγέλης"},
		{"cp1252 punctuation only", "Don’t Stop “Now” – …", "Don’t Stop “Now” – …"},
		{"lone C1 control", "a\u0085b", "a\u0085b"},
		{"replacement char", "Bj\uFFFDrk", "Bj\uFFFDrk"},
		{"invalid utf-8", "Bj\xc3\xc3\x83rk", "Bj\xc3\xc3\x83rk"},
		{"invalid utf-8 latin-1 byte", "Bj\xf6rk", "Bj\xf6rk"},
		{"mojibake mixed with cjk", "BjÃ¶rk 坂本", "BjÃ¶rk 坂本"},
		// Mojibake, one round.
		{"one round latin-1", "BjÃ¶rk", "Björk"},
		{"one round cafe", "CafÃ©", "Café"},
		{"one round cp1252 apostrophe", "Don\u00e2\u20ac\u2122t", "Don’t"},
		{"one round cp1252 Œ", "\u00c5\u2019uvre", "Œuvre"},
		{"one round C1 (cp1252-undefined 0x81)", "\u00c3\u0081lvaro", "Álvaro"},
		{"one round cjk", "\u00e5\u009d\u0082\u00e6\u009c\u00ac\u00e9\u00be\u008d\u00e4\u00b8\u0080", "坂本龍一"},
		{"one round emoji", "\u00f0\u009f\u008e\u0089", "🎉"},
		// Mojibake, several rounds.
		{"two rounds (sample)", "Bj\u00c3\u0083\u00c2\u00b6rk", "Björk"},
		{"two rounds cp1252 then latin-1", "\u00c3\u00a2\u00e2\u0082\u00ac\u00e2\u0084\u00a2", "’"},
		{"three rounds", "Bj\u00c3\u0083\u00c2\u0083\u00c3\u0082\u00c2\u00b6rk", "Björk"},
		{"ten rounds", encodeTimes("Undo — Björk", 10, latin1Rune), "Undo — Björk"},
		// A correctly encoded string that is mojibake-shaped cannot be told
		// apart from mojibake: it is repaired (documented).
		{"mojibake-shaped genuine text", "Ã©", "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Repair(tt.in)
			if got != tt.want || changed != (tt.want != tt.in) {
				t.Errorf("Repair(%+q) = %+q, %v; want %+q, %v", tt.in, got, changed, tt.want, tt.want != tt.in)
			}
			if again, ch := Repair(got); again != got || ch {
				t.Errorf("not idempotent: Repair(%+q) = %+q, %v", got, again, ch)
			}
		})
	}
}

func TestRepairUnchangedDoesNotAllocate(t *testing.T) {
	for _, s := range []string{
		"You're The One", "Dwight Yoakam", "Montserrat Caballé", "¿Dónde va Chichi?",
		"Beyoncé", "坂本龍一", "Don’t Stop", "Happy 🎉", "Bj\xf6rk", strings.Repeat("é", 1000),
	} {
		if n := testing.AllocsPerRun(100, func() { Repair(s) }); n != 0 {
			t.Errorf("Repair(%+q): %v allocations, want 0", s, n)
		}
	}
	// A repair allocates its result once per round.
	if n := testing.AllocsPerRun(100, func() { Repair("BjÃ¶rk") }); n != 1 {
		t.Errorf("one-round repair: %v allocations, want 1", n)
	}
}

// cp1252 lists the characters Windows-1252 defines at 0x80–0x9F.
var cp1252 = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87,
	'ˆ': 0x88, '‰': 0x89, 'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91,
	'’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97, '˜': 0x98,
	'™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// TestToByteTable checks the rune-to-byte mapping over the whole of Unicode:
// U+0000–U+00FF map to themselves, and exactly the 27 characters
// Windows-1252 defines at 0x80–0x9F map there, one per byte, leaving out the
// five bytes Windows-1252 does not define.
func TestToByteTable(t *testing.T) {
	if len(cp1252) != 27 {
		t.Fatalf("test table has %d entries", len(cp1252))
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		b, ok := toByte(r)
		switch want, in := cp1252[r]; {
		case r < 0x100:
			if !ok || b != byte(r) {
				t.Errorf("toByte(%U) = %#x, %v; want %#x", r, b, ok, r)
			}
		case in:
			if !ok || b != want {
				t.Errorf("toByte(%U) = %#x, %v; want %#x", r, b, ok, want)
			}
		case ok:
			t.Errorf("toByte(%U) = %#x; want no mapping", r, b)
		}
	}
}

func TestValidatorMatchesUTF8Valid(t *testing.T) {
	check := func(p []byte) bool {
		var v validator
		ok := true
		for _, b := range p {
			if !v.feed(b) {
				ok = false
				break
			}
		}
		return (ok && v.complete()) == utf8.Valid(p)
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
	// Random bytes are rarely valid; also try short strings biased to the
	// interesting lead and continuation bytes.
	rng := rand.New(rand.NewPCG(1, 2))
	interesting := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
		0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	for range 200000 {
		p := make([]byte, rng.IntN(6))
		for i := range p {
			p[i] = interesting[rng.IntN(len(interesting))]
		}
		if !check(p) {
			t.Fatalf("validator disagrees with utf8.Valid on % x", p)
		}
	}
	// Every valid encoding of every rune.
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !check(utf8.AppendRune(nil, r)) {
			t.Fatalf("validator disagrees with utf8.Valid on %U", r)
		}
	}
}

// naiveRound is the rule written as plainly as possible: the reference the
// property tests compare Repair with.
func naiveRound(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return s, false
	}
	var p []byte
	for _, r := range s {
		b, ok := toByte(r)
		if !ok {
			return s, false
		}
		p = append(p, b)
	}
	if !utf8.Valid(p) || string(p) == s {
		return s, false
	}
	return string(p), true
}

func naiveRepair(s string) (string, bool) {
	changed := false
	for {
		next, ok := naiveRound(s)
		if !ok {
			return s, changed
		}
		s, changed = next, true
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func TestPropertyASCIIUnchanged(t *testing.T) {
	f := func(p []byte) bool {
		for i := range p {
			p[i] &= 0x7F
		}
		s := string(p)
		got, changed := Repair(s)
		return got == s && !changed
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 10000}); err != nil {
		t.Error(err)
	}
}

// TestPropertyIsolatedAccentUnchanged: a string in which a letter
// U+00C0–U+00FF (À…ÿ) ends the string or is followed by an ASCII character is
// never changed: that letter's latin-1 byte (>= 0xC0) is a UTF-8 lead byte
// or invalid, and needs a continuation byte (0x80–0xBF) after it, which
// neither the end of the string nor an ASCII byte is. This covers most
// names: Beyoncé, Motörhead, Sigur Rós, Montserrat Caballé.
func TestPropertyIsolatedAccentUnchanged(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteRune(randomRune(rng))
		}
		sb.WriteRune(0xC0 + rune(rng.IntN(0x40)))
		if rng.IntN(4) > 0 {
			sb.WriteByte(byte(0x20 + rng.IntN(0x5F)))
			for range rng.IntN(12) {
				sb.WriteRune(randomRune(rng))
			}
		}
		s := sb.String()
		if got, changed := Repair(s); got != s || changed {
			t.Fatalf("Repair(%+q) = %+q, %v; want unchanged", s, got, changed)
		}
	}
}

// TestPropertyRandomUnicodeNotMojibake: random valid strings mixing ASCII,
// Latin-1, Windows-1252 punctuation, Latin Extended-A, Greek, CJK and emoji
// are left unchanged unless their latin-1/cp1252 bytes happen to be valid
// UTF-8 (mojibake-shaped by definition). Repair always agrees with the naive
// reference, and mojibake-shaped strings are rare.
func TestPropertyRandomUnicodeNotMojibake(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 100000
	shaped, nonASCII := 0, 0
	for range n {
		s := randomString(rng, 1+rng.IntN(24))
		if !isASCII(s) {
			nonASCII++
		}
		got, changed := Repair(s)
		want, wantChanged := naiveRepair(s)
		if got != want || changed != wantChanged {
			t.Fatalf("Repair(%+q) = %+q, %v; reference %+q, %v", s, got, changed, want, wantChanged)
		}
		if _, ok := naiveRound(s); ok {
			shaped++
			continue
		}
		if got != s || changed {
			t.Fatalf("Repair(%+q) = %+q, %v; want unchanged", s, got, changed)
		}
	}
	t.Logf("%d of %d random strings (%d non-ASCII) are mojibake-shaped", shaped, n, nonASCII)
	if shaped*200 > n { // 0.5 %
		t.Errorf("%d of %d random strings are mojibake-shaped; expected rare", shaped, n)
	}
}

// TestPropertyMojibakeRecovers: an original whose UTF-8 bytes are read as
// latin-1 or cp1252 runes k times (k = 1..3, decoder chosen per layer) is
// recovered exactly. Recovery is guaranteed when the original
//   - contains a non-ASCII rune (otherwise encoding does not change it), and
//   - is not itself mojibake-shaped (a round does not apply to it);
//
// each round of Repair then undoes exactly one layer, because mapping the
// runes of an encoded layer back to bytes gives that layer's UTF-8 bytes,
// and it stops at the original. Originals that are mojibake-shaped would be
// repaired one step further; they are excluded and counted.
func TestPropertyMojibakeRecovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 30000
	excluded := 0
	for i := range n {
		orig := randomString(rng, 1+rng.IntN(16))
		if isASCII(orig) {
			orig += string(randomNonASCII(rng))
		}
		if _, ok := naiveRound(orig); ok {
			excluded++
			continue
		}
		k := 1 + i%3
		enc := orig
		for range k {
			dec := latin1Rune
			if rng.IntN(2) == 0 {
				dec = cp1252Rune
			}
			enc = encodeTimes(enc, 1, dec)
		}
		if got, changed := Repair(enc); got != orig || !changed {
			t.Fatalf("Repair(%+q) = %+q, %v; want %+q (k=%d)", enc, got, changed, orig, k)
		}
	}
	t.Logf("%d of %d originals excluded as mojibake-shaped", excluded, n)
}

func TestPropertyIdempotent(t *testing.T) {
	f := func(s string) bool {
		r1, _ := Repair(s)
		r2, changed := Repair(r1)
		return r2 == r1 && !changed
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 10000}); err != nil {
		t.Error(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for range 20000 {
		s := encodeTimes(randomString(rng, 1+rng.IntN(8)), rng.IntN(4), latin1Rune)
		if !f(s) {
			t.Fatalf("not idempotent on %+q", s)
		}
	}
}

func FuzzRepair(f *testing.F) {
	for _, s := range []string{
		"", "Undo", "Björk", "BjÃ¶rk", "Bj\u00c3\u0083\u00c2\u00b6rk", "Montserrat Caballé",
		"¿Dónde va Chichi?", "Don\u00e2\u20ac\u2122t", "坂本龍一", "🎉", "Bj\xf6rk", "\xed\xa0\x80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := Repair(s)
		if changed != (got != s) {
			t.Fatalf("Repair(%+q) = %+q, changed=%v", s, got, changed)
		}
		if len(got) > len(s) {
			t.Fatalf("Repair(%+q) = %+q grew", s, got)
		}
		if utf8.ValidString(s) != utf8.ValidString(got) {
			t.Fatalf("Repair(%+q) = %+q changed validity", s, got)
		}
		if !utf8.ValidString(s) && changed {
			t.Fatalf("Repair changed invalid UTF-8 %+q", s)
		}
		if isASCII(s) && changed {
			t.Fatalf("Repair changed ASCII %+q", s)
		}
		if again, ch := Repair(got); again != got || ch {
			t.Fatalf("not idempotent: Repair(%+q) = %+q, Repair of that = %+q", s, got, again)
		}
		if want, wantChanged := naiveRepair(s); got != want || changed != wantChanged {
			t.Fatalf("Repair(%+q) = %+q, %v; reference %+q, %v", s, got, changed, want, wantChanged)
		}
	})
}

var benchValues = []string{
	// Typical log values: mostly ASCII titles and names.
	"You're The One", "Dwight Yoakam", "Undo", "Sehr kosmisch", "Harmonia",
	"Revelry", "Kings Of Leon", "Catch You Baby (Steve Pitron & Max Sanna Radio Edit)",
	"Lonnie Gordon", "Secrets", "OneRepublic", "Waco, TX", "San Francisco-Oakland-Hayward, CA",
	// Correctly encoded non-ASCII.
	"Björk", "Beyoncé", "Motörhead", "Sigur Rós", "Montserrat Caballé", "¿Dónde va Chichi?",
	"坂本龍一", "Don’t Stop",
}

var sink string

func BenchmarkRepair(b *testing.B) {
	b.Run("ascii", func(b *testing.B) {
		vals := benchValues[:13]
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink, _ = Repair(vals[i%len(vals)])
		}
	})
	b.Run("non-ascii-unchanged", func(b *testing.B) {
		vals := benchValues[13:]
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink, _ = Repair(vals[i%len(vals)])
		}
	})
	b.Run("mojibake-1-round", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = Repair("BjÃ¶rk")
		}
	})
	b.Run("mojibake-2-rounds", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = Repair("Bj\u00c3\u0083\u00c2\u00b6rk")
		}
	})
}

// Generators.

type runeRange struct {
	lo, hi rune
	weight int
}

var ranges = []runeRange{
	{0x20, 0x7E, 6},       // ASCII printable
	{0xA0, 0xFF, 6},       // Latin-1 supplement
	{0x80, 0x9F, 1},       // C1 controls
	{0x100, 0x17F, 2},     // Latin Extended-A
	{0x391, 0x3C9, 2},     // Greek
	{0x4E00, 0x9FFF, 2},   // CJK
	{0x1F300, 0x1F64F, 1}, // emoji
	{0x2013, 0x2022, 1},   // punctuation incl. cp1252 dashes, quotes, bullet
}

func randomRune(rng *rand.Rand) rune {
	total := 0
	for _, r := range ranges {
		total += r.weight
	}
	w := rng.IntN(total)
	for _, r := range ranges {
		if w < r.weight {
			return r.lo + rune(rng.IntN(int(r.hi-r.lo+1)))
		}
		w -= r.weight
	}
	panic("unreachable")
}

func randomNonASCII(rng *rand.Rand) rune {
	for {
		if r := randomRune(rng); r >= utf8.RuneSelf {
			return r
		}
	}
}

func randomString(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteRune(randomRune(rng))
	}
	return sb.String()
}

// latin1Rune decodes byte b as latin-1.
func latin1Rune(b byte) rune { return rune(b) }

// cp1252Rune decodes byte b as Windows-1252, keeping its five undefined
// bytes as C1 controls.
func cp1252Rune(b byte) rune {
	for r, c := range cp1252 {
		if c == b {
			return r
		}
	}
	return rune(b)
}

// encodeTimes reads the UTF-8 bytes of s as single-byte characters with dec,
// k times: the mojibake of s.
func encodeTimes(s string, k int, dec func(byte) rune) string {
	for range k {
		var sb strings.Builder
		for i := 0; i < len(s); i++ {
			sb.WriteRune(dec(s[i]))
		}
		s = sb.String()
	}
	return s
}
