package state

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/storage"
)

// stores returns the stores every round trip is run on: memory, and a local folder.
func stores(t *testing.T) map[string]storage.Store {
	t.Helper()
	local, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]storage.Store{"memory": storage.NewMemory(storage.MemoryOptions{Name: "t"}), "local": local}
}

// sameRows reports how got differs from want, "" if not at all: field by field with
// reflect.DeepEqual, and every float64 by its bits, which DeepEqual does not do (it takes -0 for
// 0 and NaN for different from itself).
func sameRows[T any](got, want []T) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := reflect.ValueOf(&got[i]).Elem(), reflect.ValueOf(&want[i]).Elem()
		gb, wb := floatBits(g), floatBits(w)
		if !reflect.DeepEqual(gb, wb) {
			return fmt.Sprintf("row %d: float bits %x, want %x", i, gb, wb)
		}
		gc, wc := withoutFloats(g), withoutFloats(w)
		if !reflect.DeepEqual(gc, wc) {
			return fmt.Sprintf("row %d:\n got %#v\nwant %#v", i, gc, wc)
		}
	}
	return ""
}

func floatBits(v reflect.Value) []uint64 {
	var out []uint64
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Float64 {
			out = append(out, math.Float64bits(f.Float()))
		}
	}
	return out
}

func withoutFloats(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := range c.NumField() {
		if f := c.Field(i); f.Kind() == reflect.Float64 {
			f.SetFloat(0)
		}
	}
	return c.Interface()
}

// gen makes random records whose values reach the edges: every bit pattern of a float64
// (NaNs with payloads, -0, subnormals, infinities), the extremes of every integer, empty strings,
// strings that are not UTF-8 or hold NUL, long strings, and strings that repeat (which the
// dictionaries share).
type gen struct {
	r    *rand.Rand
	pool []string
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range 40 {
		g.pool = append(g.pool, fmt.Sprintf("song_data/%c/%c/TR%06d.json", 'A'+i%26, 'A'+i%7, i))
	}
	return g
}

func (g *gen) str() string {
	switch g.r.IntN(10) {
	case 0:
		return ""
	case 1:
		return "Beyoncé ♫ 日本語 \u2028"
	case 2:
		return "\xff\xfe invalid \xc3\x28 utf-8 \x00 nul"
	case 3:
		return strings.Repeat(string(rune('a'+g.r.IntN(26))), g.r.IntN(3000))
	case 4, 5, 6:
		return g.pool[g.r.IntN(len(g.pool))]
	}
	b := make([]byte, g.r.IntN(40))
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return string(b)
}

var edgeFloats = []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, math.MaxFloat64, -math.MaxFloat64,
	math.Inf(1), math.Inf(-1), math.NaN(), math.Float64frombits(0x7ff0000000000001), math.Float64frombits(0xfff8dead00000000),
	2.2250738585072014e-308, 1, -1, 0.1, 218.95791}

func (g *gen) float() float64 {
	switch g.r.IntN(3) {
	case 0:
		return edgeFloats[g.r.IntN(len(edgeFloats))]
	case 1:
		return math.Float64frombits(g.r.Uint64())
	}
	return g.r.NormFloat64() * 300
}

var edgeInt64s = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32, 1541903636796}

func (g *gen) int64() int64 {
	if g.r.IntN(3) == 0 {
		return edgeInt64s[g.r.IntN(len(edgeInt64s))]
	}
	return int64(g.r.Uint64())
}

func (g *gen) int32() int32 {
	if g.r.IntN(3) == 0 {
		return []int32{0, -1, math.MaxInt32, math.MinInt32}[g.r.IntN(4)]
	}
	return int32(g.r.Uint32())
}

func (g *gen) bool() bool { return g.r.IntN(2) == 0 }

func (g *gen) src() record.Source {
	return record.Source{Path: g.str(), Line: int(g.int64()), Offset: g.int64()}
}

func (g *gen) event() record.Event {
	return record.Event{
		Src: g.src(), TS: g.int64(), SessionID: g.int64(), ItemInSession: g.int32(), Page: g.str(),
		UserID: g.int64(), HasUser: g.bool(), Artist: g.str(), Song: g.str(), Length: g.float(),
		HasLength: g.bool(), FirstName: g.str(), LastName: g.str(), Gender: g.str(), Level: g.str(),
		Location: g.str(), UserAgent: g.str(),
	}
}

func (g *gen) song() record.Song {
	return record.Song{
		Src: g.src(), SongID: g.str(), Title: g.str(), ArtistID: g.str(), ArtistName: g.str(),
		ArtistLocation: g.str(), Latitude: g.float(), HasLatitude: g.bool(), Longitude: g.float(),
		HasLongitude: g.bool(), Duration: g.float(), Year: g.int32(),
	}
}

// ids returns n strictly increasing ids: random gaps of 1 to 2^56, so that neighbours differ in
// any byte, and sometimes the extremes of int64 at either end.
func (g *gen) ids(n int) []int64 {
	if n == 0 {
		return []int64{}
	}
	out := make([]int64, n)
	id := int64(math.MinInt64)
	if g.r.IntN(2) == 0 {
		id = -int64(g.r.Uint64N(1 << 62))
	}
	// n gaps of at most 2^shift stay below 2^62: from at least -2^63, no overflow.
	shift := min(56, 62-bits.Len(uint(n)))
	for i := range out {
		out[i] = id
		id += 1 + int64(g.r.Uint64N(1<<g.r.IntN(shift+1)))
	}
	if n > 1 && g.r.IntN(2) == 0 && out[n-2] < math.MaxInt64 {
		out[n-1] = math.MaxInt64
	}
	return out
}

func (g *gen) reject() *record.Reject {
	var raw []byte
	switch g.r.IntN(4) {
	case 0: // nil
	case 1:
		raw = []byte{}
	default:
		raw = []byte(g.str())
	}
	return &record.Reject{
		Kind: record.Kind(g.str()), Src: g.src(), Reason: record.Reason(g.str()), Field: g.str(),
		Detail: g.str(), Raw: raw, FullSize: g.int64(),
	}
}

func many[T any](n int, f func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// realisticPlays makes n plays as the log has them: a few users, pages and agents, paths that repeat.
func realisticPlays(n int) []record.Event {
	r := rand.New(rand.NewPCG(1, 2))
	agents := []string{
		`"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"`,
		`Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0`,
		`"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"`,
	}
	out := make([]record.Event, n)
	for i := range out {
		u := r.IntN(100)
		out[i] = record.Event{
			Src: record.Source{Path: fmt.Sprintf("log_data/2018/11/2018-11-%02d-events.json", 1+i*30/n), Line: 1 + i%400, Offset: int64(i) * 330},
			TS:  1541105830796 + int64(i)*26000, SessionID: int64(u*7 + i/500), ItemInSession: int32(i % 90),
			Page: "NextSong", UserID: int64(u), HasUser: true,
			Artist: fmt.Sprintf("Artist %d", r.IntN(5000)), Song: fmt.Sprintf("Song %d", r.IntN(20000)),
			Length: 100 + r.Float64()*300, HasLength: true,
			FirstName: fmt.Sprintf("First%d", u), LastName: fmt.Sprintf("Last%d", u), Gender: []string{"F", "M"}[u%2],
			Level: []string{"free", "paid"}[u%3%2], Location: fmt.Sprintf("City %d, ST", u%40), UserAgent: agents[u%3],
		}
	}
	return out
}

// day is a plays file: a day of a partition.
type day struct{ partition, day string }

// fixture is a whole state: its Meta and what it holds.
type fixture struct {
	meta    *Meta
	songs   []record.Song
	users   []record.Event
	plays   map[day][]record.Event
	ids     []int64
	rejects []*record.Reject
}

// spanOf returns the span of a day's plays, which must not be empty.
func spanOf(d day, plays []record.Event) Span {
	s := Span{Partition: d.partition, Day: d.day, Rows: int64(len(plays)), MinSession: plays[0].SessionID, MaxSession: plays[0].SessionID}
	for _, e := range plays {
		s.MinSession, s.MaxSession = min(s.MinSession, e.SessionID), max(s.MaxSession, e.SessionID)
	}
	return s
}

// writeState writes a whole state of random records under dir.
func writeState(t *testing.T, st storage.Store, dir string, seed uint64, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	g := newGen(seed)
	f := &fixture{
		meta:  &Meta{Version: "test", Rules: "r1", Settings: map[string]string{"compression": "snappy"}, Counters: map[string]int64{"plays": int64(n)}},
		songs: many(n, g.song),
		users: many(n, g.event),
		plays: map[day][]record.Event{
			{"year=2018/month=11", "2018-11-01"}: many(n, g.event),
			{"year=2018/month=11", "2018-11-30"}: many(max(1, n/3), g.event),
			{"year=2018/month=12", "2018-12-01"}: many(max(1, n/2), g.event),
		},
		ids:     g.ids(n),
		rejects: many(n, g.reject),
	}
	add := func(file File, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		f.meta.AddFile(file)
	}
	add(WriteSongs(ctx, st, dir, f.songs))
	add(WriteUsers(ctx, st, dir, f.users))
	for d, plays := range f.plays {
		add(WritePlays(ctx, st, dir, d.partition, d.day, plays))
		f.meta.Plays = append(f.meta.Plays, spanOf(d, plays))
	}
	// In the order WriteMeta writes them, which ReadMeta gives back.
	slices.SortFunc(f.meta.Plays, compareSpans)
	add(WriteIDs(ctx, st, dir, f.ids))
	add(WriteRejects(ctx, st, dir, f.rejects))
	if _, err := WriteMeta(ctx, st, dir, f.meta); err != nil {
		t.Fatal(err)
	}
	f.meta.Format = Format
	return f
}
