package gen

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// zipf draws indexes 0..n-1 with weights proportional to 1/(i+v): a Zipf-like law with exponent 1
// whose head is flattened by v.
//
// It is Vose's alias method built from integers only: a seed must yield the same draws on every
// CPU, and math/rand/v2's Zipf uses math.Exp and math.Log, whose last bits may differ between
// architectures (and between amd64 CPUs with and without FMA). A draw is one random number and one
// table entry, whatever n: the event log draws a song per play, so this is on the hot path.
type zipf struct {
	t []aliasEntry
}

type aliasEntry struct {
	prob  uint32 // keep this index when the draw's fraction (out of 1<<32) is below prob
	alias int32  // else take this one
}

// zipfScale keeps the weights integers with enough resolution for the tail: the weight of index i
// is zipfScale/(i+v).
const zipfScale = 1 << 32

func newZipf(n int, v int) *zipf {
	if n <= 0 {
		return nil
	}
	// s[i] = weight * n, compared with the total weight: an index with s[i] < total is "small" and
	// gets topped up from a "large" one.
	s := make([]uint64, n)
	var total uint64
	for i := range n {
		s[i] = zipfScale / uint64(i+v)
		total += s[i]
	}
	var small, large []int32
	for i := range s {
		s[i] *= uint64(n)
		if s[i] < total {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	z := &zipf{t: make([]aliasEntry, n)}
	for len(small) > 0 && len(large) > 0 {
		l := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		hi, lo := bits.Mul64(s[l], 1<<32)
		q, _ := bits.Div64(hi, lo, total) // s[l] < total, so q < 1<<32
		z.t[l] = aliasEntry{prob: uint32(q), alias: g}
		s[g] -= total - s[l]
		if s[g] < total {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What is left (by rounding, or exactly full) keeps itself.
	for _, i := range append(small, large...) {
		z.t[i] = aliasEntry{prob: math.MaxUint32, alias: i}
	}
	return z
}

func (z *zipf) pick(r *rand.Rand) int {
	// The high word of x*n is a uniform index; the low word is the fraction that decides between
	// the index and its alias.
	hi, lo := bits.Mul64(r.Uint64(), uint64(len(z.t)))
	e := z.t[hi]
	if uint32(lo>>32) < e.prob {
		return int(hi)
	}
	return int(e.alias)
}
