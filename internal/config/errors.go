package config

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error Load returns for a setting or a file that is wrong, as
// opposed to a file that cannot be read (those wrap the fs error instead).
var ErrInvalid = errors.New("invalid configuration")

// Error describes one invalid setting or one bad line of the config file. It wraps ErrInvalid.
//
// Its text never contains a secret: a value is quoted only when it belongs to a setting that is
// not a credential, and a line that could not be parsed is referred to by number, not quoted.
type Error struct {
	File    string // the config file, "" when the value came from a flag or the environment
	Line    int    // 1-based line in File, 0 when not tied to one line
	Setting string // where the value came from: "flag --workers", "env SPARKIFY_WORKERS", "[PROJECT] WORKERS"; "" for a file-structure error
	Reason  string // what is wrong, and where useful how to fix it
}

// Error formats as "dl.cfg:7 [PROJECT] WORKERS: ...", "flag --workers: ..." or "dl.cfg:3: ...".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
	}
	if e.Setting != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Setting)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap lets callers test errors.Is(err, ErrInvalid).
func (e *Error) Unwrap() error { return ErrInvalid }

// maxSuggestDistance is how far a misspelling may be from a valid name for it to be suggested.
// Two edits catch a dropped, doubled or swapped letter without proposing unrelated names.
const maxSuggestDistance = 2

// Suggest returns the candidate nearest to name, ignoring case, when it is close enough to be a
// typo of it (at most maxSuggestDistance edits; an adjacent swap is one), else "". Ties go to the
// earlier candidate so that the hint is deterministic. The CLI uses it for flag names too, so
// every "did you mean" is made the same way.
func Suggest(name string, candidates []string) string {
	name = strings.ToUpper(name)
	best, bestDist := "", maxSuggestDistance+1
	for _, c := range candidates {
		if d := editDistance(name, strings.ToUpper(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions, deletions, substitutions
// and swaps of adjacent bytes each cost one, since a swap ("OUTUPT") is as common a typo as a
// dropped letter. Names here are ASCII, so bytes are characters.
func editDistance(a, b string) int {
	// Three rows suffice: the swap rule looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
