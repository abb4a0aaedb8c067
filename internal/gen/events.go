package gen

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pages of the event log, with their method and status as in the real log.
const (
	pgNextSong uint8 = iota
	pgHome
	pgLogin
	pgLogout
	pgSettings
	pgSaveSettings
	pgUpgrade
	pgSubmitUpgrade
	pgDowngrade
	pgSubmitDowngrade
	pgAbout
	pgHelp
	pgError
	numPages
	noPage = numPages
)

var pageInfo = [numPages]struct {
	name, method string
	status       int
}{
	pgNextSong:        {"NextSong", "PUT", 200},
	pgHome:            {"Home", "GET", 200},
	pgLogin:           {"Login", "PUT", 307},
	pgLogout:          {"Logout", "PUT", 307},
	pgSettings:        {"Settings", "GET", 200},
	pgSaveSettings:    {"Save Settings", "PUT", 307},
	pgUpgrade:         {"Upgrade", "GET", 200},
	pgSubmitUpgrade:   {"Submit Upgrade", "PUT", 307},
	pgDowngrade:       {"Downgrade", "GET", 200},
	pgSubmitDowngrade: {"Submit Downgrade", "PUT", 307},
	pgAbout:           {"About", "GET", 200},
	pgHelp:            {"Help", "GET", 200},
	pgError:           {"Error", "GET", 404},
}

// pageJSON holds each page's two pre-rendered pieces of a line: `"PUT","page":"NextSong"` (after
// "method":) and `,"status":200,"ts":`.
var pageJSON = func() (p [numPages]struct{ mp, st []byte }) {
	for i, info := range pageInfo {
		p[i].mp = appendString(nil, info.method, true)
		p[i].mp = append(p[i].mp, `,"page":`...)
		p[i].mp = appendString(p[i].mp, info.name, true)
		p[i].st = fmt.Appendf(nil, `,"status":%d,"ts":`, info.status)
	}
	return p
}()

// pageTable draws a page with integer weights.
type pageTable struct {
	pages []uint8
	cum   []int
}

func newPageTable(w ...int) pageTable { // pairs of page, weight
	var t pageTable
	total := 0
	for i := 0; i < len(w); i += 2 {
		total += w[i+1]
		t.pages = append(t.pages, uint8(w[i]))
		t.cum = append(t.cum, total)
	}
	return t
}

func (t *pageTable) draw(r *rand.Rand) uint8 {
	x := r.IntN(t.cum[len(t.cum)-1])
	i := 0
	for t.cum[i] <= x {
		i++
	}
	return t.pages[i]
}

// The page mix, per mille, tuned so that about 85% of all lines are NextSong as in the real log.
var (
	freePages = newPageTable(int(pgNextSong), 880, int(pgHome), 50, int(pgLogout), 12, int(pgSettings), 10,
		int(pgHelp), 8, int(pgAbout), 4, int(pgError), 2, int(pgUpgrade), 22)
	paidPages = newPageTable(int(pgNextSong), 900, int(pgHome), 45, int(pgLogout), 12, int(pgSettings), 10,
		int(pgHelp), 8, int(pgAbout), 4, int(pgError), 2, int(pgDowngrade), 12)
	// A user who is logged out (before logging in, or after logging out) mostly logs in.
	outPages = newPageTable(int(pgLogin), 55, int(pgHome), 30, int(pgAbout), 8, int(pgHelp), 7)
	// A visitor who never logs in.
	anonPages = newPageTable(int(pgHome), 75, int(pgAbout), 13, int(pgHelp), 12)
)

// Session starts by UTC hour: the users are American, so UTC nights are busy.
var hourWeights = [24]int{9, 8, 7, 5, 4, 3, 2, 2, 2, 2, 3, 4, 5, 7, 8, 9, 9, 10, 10, 10, 10, 10, 10, 10}

// segs are the pre-rendered pieces of a line that depend on who is (or is not) logged in:
//
//	{"artist":…  a  itemInSession  b  length  ,"level":…  c  method,page  d  sessionId ,"song":… ,"status":…,"ts": ts  e
//
// Pre-rendering them once per user keeps the hot path to copies and three integer conversions.
type segs struct{ a, b, c, d, e []byte }

var loggedOut = segs{
	a: []byte(`,"auth":"Logged Out","firstName":null,"gender":null,"itemInSession":`),
	b: []byte(`,"lastName":null,"length":`),
	c: []byte(`,"location":null,"method":`),
	d: []byte(`,"registration":null,"sessionId":`),
	e: []byte(`,"userAgent":null,"userId":""}`),
}

var (
	levelJSON = [2][]byte{[]byte(`,"level":"free"`), []byte(`,"level":"paid"`)}
	null      = []byte("null")
)

type user struct {
	in   segs
	paid bool // the current level; Submit Upgrade and Submit Downgrade change it
}

// track is a song as the log names it: from the catalog (matched) or not. Its artist, title and
// length are pre-rendered JSON, side by side in one arena, so that a play touches one short run of
// memory rather than three scattered allocations.
type track struct {
	start     uint32 // arena offset of the artist; the title and the length follow it
	dur       uint32 // 1e-5 s (at most a few thousand seconds)
	artistLen uint16
	titleLen  uint16
	lengthLen uint8
	matched   bool
}

const (
	stateIn  uint8 = iota // logged in
	stateOut              // logged out: userId ""
)

// session is one listening session. Its lines are written in ts order, interleaved with the other
// sessions' lines through a heap.
type session struct {
	next     int64 // ts (epoch ms) of its next line
	id       int64
	after    int64 // ts of the line after a pending duplicate
	dupLen   int64
	user     int32 // -1: a visitor who never logs in
	item     int32
	left     int32 // lines still to write
	dupTrack int32
	dupItem  int32
	state    uint8
	force    uint8 // page of the next line, or noPage
	paid     bool  // level of a visitor without a user
	dup      bool  // the next line repeats the last play
	dupPaid  bool
}

func before(a, b *session) bool {
	return a.next < b.next || a.next == b.next && a.id < b.id
}

// Defects of injected bad event lines.
const (
	evTruncated uint8 = iota
	evGarbage
	evArray
	evNumber
	evNoTS
	evTSText
	evSessionFraction
	evUserNumber
	evNoUser
	evNoSong
)

var evReasons = []struct {
	reason   string
	variants []uint8
}{
	{ReasonInvalidJSON, []uint8{evTruncated, evGarbage}},
	{ReasonNotObject, []uint8{evArray, evNumber}},
	{ReasonMissingField, []uint8{evNoTS}},
	{ReasonWrongType, []uint8{evTSText, evSessionFraction, evUserNumber}},
	{ReasonEmptyValue, []uint8{evNoUser, evNoSong}},
}

var evReason = func() (m [evNoSong + 1]string) {
	for _, r := range evReasons {
		for _, v := range r.variants {
			m[v] = r.reason
		}
	}
	return m
}()

var garbage = []string{
	"<html><body><h1>502 Bad Gateway</h1></body></html>",
	"ERROR connection reset by peer",
	`{"artist":"Bad Seed","auth":"Logged In",,}`,
	"undefined",
}

type eventGen struct {
	o      *Options
	c      *Counts
	create func(string) (io.WriteCloser, error)
	r      *rand.Rand

	tracks      []track // the catalog's songs by popularity rank, then the songs that are not in it
	arena       []byte
	nCat        int
	catPick     *zipf
	poolPick    *zipf
	matchThresh uint64 // out of 1<<32

	users    []user
	userPick *zipf
	seen     []bool

	startMs, endMs, msOff int64
	dayWeights            []int64
	dayWeightSum          int64
	cumWeight             int64 // of the days planned so far
	hourCum               [24]int

	valid     int64 // valid lines in all
	planned   int64 // valid lines given to sessions so far
	remNormal int64 // valid lines still to write
	badKinds  []uint8
	remDup    int64

	heap    []session
	pending []session
	pi      int
	nextDay int
	nextID  int64

	// Lines are appended straight into out, which is written to w when it is full: one copy
	// fewer than a bufio.Writer.
	w         io.WriteCloser
	out       []byte
	fileDay   int
	fileLines int

	line, lenBuf []byte
	tsHigh       int64
	tsText       []byte
	err          error // the first write error; generation stops at it
}

const outSize = 256 << 10

func newEventGen(o *Options, cat *catalog, c *Counts, create func(string) (io.WriteCloser, error)) *eventGen {
	g := &eventGen{o: o, c: c, create: create, r: stream(o.Seed, 4), fileDay: -1}
	g.startMs = o.Start.UnixMilli()
	g.endMs = g.startMs + int64(o.Days)*dayMs

	// Every ts and registration ends in the same milliseconds, as in the real log, where several
	// plays therefore share a start_time.
	setup := stream(o.Seed, 3)
	g.msOff = setup.Int64N(1000)

	// The catalog as the log names it, in a random order that is its popularity rank.
	g.nCat = len(cat.songs)
	for _, i := range setup.Perm(g.nCat) {
		s := &cat.songs[i]
		g.addTrack(cat.artists[s.artist].name, s.title, s.dur, true)
	}
	if g.nCat > 0 {
		g.catPick = newZipf(g.nCat, 1+g.nCat/20)
	}
	g.matchThresh = uint64(o.MatchShare * (1 << 32))
	g.buildPool(setup, cat)
	g.buildUsers(setup)

	for d := range o.Days {
		w := int64(10)
		switch time.UnixMilli(g.startMs + int64(d)*dayMs).UTC().Weekday() {
		case time.Saturday, time.Sunday:
			w = 8
		}
		g.dayWeights = append(g.dayWeights, w)
		g.dayWeightSum += w
	}
	total := 0
	for h, w := range hourWeights {
		total += w
		g.hourCum[h] = total
	}

	bad := 0
	if o.Dirty {
		per := max(1, o.Events/1000)
		for _, r := range evReasons {
			for i := range per {
				g.badKinds = append(g.badKinds, r.variants[i%len(r.variants)])
			}
		}
		bad = len(g.badKinds)
		setup.Shuffle(len(g.badKinds), func(i, j int) { g.badKinds[i], g.badKinds[j] = g.badKinds[j], g.badKinds[i] })
		g.remDup = int64(max(1, o.Events/500))
	}
	g.valid = int64(o.Events - bad)
	g.remNormal = g.valid
	g.nextID = 1 + setup.Int64N(100)
	g.out = make([]byte, 0, outSize+4096)
	return g
}

func (g *eventGen) addTrack(artist, title string, dur int64, matched bool) {
	t := track{dur: uint32(dur), matched: matched, start: uint32(len(g.arena))}
	g.arena = appendString(g.arena, artist, true)
	t.artistLen = uint16(len(g.arena) - int(t.start))
	g.arena = appendString(g.arena, title, true)
	t.titleLen = uint16(len(g.arena) - int(t.start) - int(t.artistLen))
	g.arena = appendFixed5(g.arena, dur)
	t.lengthLen = uint8(len(g.arena) - int(t.start) - int(t.artistLen) - int(t.titleLen))
	g.tracks = append(g.tracks, t)
}

// buildPool makes the songs that are played but are not in the catalog. Some reuse a catalog
// artist (with a title that artist does not have), some a catalog title (by another artist), and
// some are a catalog song whose names went through the double UTF-8 encoding of the real log
// (those match once repaired): all traps for a join on anything but the exact (title,
// artist_name) pair after text repair.
func (g *eventGen) buildPool(r *rand.Rand, cat *catalog) {
	n := min(max(g.o.Events/4, 16), 1<<15)
	var accented []int
	for i := range cat.songs {
		if !isASCII(cat.artists[cat.songs[i].artist].name) {
			accented = append(accented, i)
		}
	}
	for len(g.tracks) < g.nCat+n {
		var title, name string
		switch k := r.IntN(100); {
		case k < 20 && g.nCat > 0:
			s := &cat.songs[r.IntN(g.nCat)]
			title, name = songTitle(r), cat.artists[s.artist].name
		case k < 30 && g.nCat > 0:
			title, name = cat.songs[r.IntN(g.nCat)].title, artistName(r)
		case k < 36 && len(accented) > 0:
			// The SPEC's text repair gives back the catalog's names: a matched play (unless the
			// run is told --no-repair-text), as the real log's Björk.
			s := &cat.songs[accented[r.IntN(len(accented))]]
			g.addTrack(mojibake(cat.artists[s.artist].name), mojibake(s.title), s.dur, true)
			continue
		default:
			title, name = songTitle(r), artistName(r)
		}
		if cat.has(title, name) {
			continue
		}
		g.addTrack(name, title, duration(r), false)
	}
	g.poolPick = newZipf(n, 1+n/10)
}

func (g *eventGen) buildUsers(r *rand.Rand) {
	id := 0
	g.users = make([]user, g.o.Users)
	g.seen = make([]bool, g.o.Users)
	for i := range g.users {
		id += 1 + max(0, r.IntN(6)-3) // ids with a few gaps
		female := r.IntN(2) == 0
		first, gender := pick(r, firstNamesM), "M"
		if female {
			first, gender = pick(r, firstNamesF), "F"
		}
		ua := pick(r, userAgents)
		if strings.Contains(ua, ",") {
			ua = `"` + ua + `"`
		}
		reg := g.startMs - (3600+r.Int64N(120*86400))*1000 + g.msOff

		// The five pieces share one allocation, in the order a line uses them.
		var b []byte
		var cut [6]int
		b = append(b, `,"auth":"Logged In","firstName":`...)
		b = appendString(b, first, true)
		b = append(b, `,"gender":`...)
		b = appendString(b, gender, true)
		b = append(b, `,"itemInSession":`...)
		cut[1] = len(b)
		b = append(b, `,"lastName":`...)
		b = appendString(b, pick(r, lastNames), true)
		b = append(b, `,"length":`...)
		cut[2] = len(b)
		b = append(b, `,"location":`...)
		b = appendString(b, pick(r, userLocations), true)
		b = append(b, `,"method":`...)
		cut[3] = len(b)
		b = append(b, `,"registration":`...)
		b = strconv.AppendInt(b, reg, 10)
		b = append(b, `.0,"sessionId":`...)
		cut[4] = len(b)
		b = append(b, `,"userAgent":`...)
		b = appendString(b, ua, true)
		b = append(b, `,"userId":`...)
		b = appendString(b, strconv.Itoa(id), true)
		b = append(b, '}')
		cut[5] = len(b)
		u := &g.users[i]
		u.paid = r.IntN(100) < 35
		u.in = segs{b[:cut[1]:cut[1]], b[cut[1]:cut[2]:cut[2]], b[cut[2]:cut[3]:cut[3]], b[cut[3]:cut[4]:cut[4]], b[cut[4]:cut[5]:cut[5]]}
	}
	g.userPick = newZipf(len(g.users), 1+len(g.users)/8)
}

// sessionSize draws the number of lines of a session: mostly short, a few very long.
func sessionSize(r *rand.Rand) int64 {
	switch n := r.IntN(100); {
	case n < 65:
		return 1 + r.Int64N(8)
	case n < 95:
		return 5 + r.Int64N(30)
	default:
		return 20 + r.Int64N(120)
	}
}

// planDay makes the sessions that start on the next day. The valid lines are shared among the days
// by weight (weekends are quieter); a session that runs past midnight writes its late lines into
// the next day's file.
func (g *eventGen) planDay() {
	d := g.nextDay
	g.nextDay++
	g.cumWeight += g.dayWeights[d]
	budget := g.valid*g.cumWeight/g.dayWeightSum - g.planned
	g.planned += budget
	r := g.r
	dayStart := g.startMs + int64(d)*dayMs
	g.pending, g.pi = g.pending[:0], 0
	for budget > 0 {
		size := sessionSize(r)
		x := r.IntN(g.hourCum[23])
		h := 0
		for g.hourCum[h] <= x {
			h++
		}
		s := session{
			next:  dayStart + (int64(h)*3600+r.Int64N(3600))*1000 + g.msOff,
			user:  -1,
			force: noPage,
		}
		switch {
		case chance(r, 30): // a short visit that never logs in
			s.state, s.paid = stateOut, chance(r, 300)
			size = 1 + r.Int64N(3)
		case chance(r, 130): // logs in after looking around: the session id is shared with userId ""
			s.user, s.state = int32(g.userPick.pick(r)), stateOut
		default:
			s.user, s.state = int32(g.userPick.pick(r)), stateIn
		}
		size = min(size, budget)
		budget -= size
		s.left = int32(size)
		g.pending = append(g.pending, s)
	}
	for i := range g.pending {
		g.pending[i].id = int64(i) // ties in start time keep the order of drawing
	}
	slices.SortFunc(g.pending, func(a, b session) int {
		if c := cmp.Compare(a.next, b.next); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for i := range g.pending {
		g.pending[i].id = g.nextID
		g.nextID++
	}
}

func (g *eventGen) run(ctx context.Context) (err error) {
	defer func() {
		for _, seen := range g.seen {
			if seen {
				g.c.Users++
			}
		}
		if err == nil {
			err = g.toDay(g.o.Days) // the remaining days get empty files
		} else if g.w != nil {
			g.w.Close()
		}
	}()
	for n := 0; ; {
		if g.pi == len(g.pending) && g.nextDay < g.o.Days {
			g.planDay()
			continue
		}
		if g.pi < len(g.pending) && (len(g.heap) == 0 || before(&g.pending[g.pi], &g.heap[0])) {
			g.push(g.pending[g.pi])
			g.pi++
			continue
		}
		if len(g.heap) == 0 {
			return nil
		}
		if n++; n&8191 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		g.step(&g.heap[0])
		if g.err != nil {
			return g.err
		}
		if len(g.out) >= outSize {
			if err := g.flush(); err != nil {
				return err
			}
		}
		if g.heap[0].left == 0 {
			g.pop()
		} else {
			g.down(0)
		}
	}
}

// step writes the next line of s (the session whose line is due first).
func (g *eventGen) step(s *session) {
	r := g.r
	ts := s.next
	if day := int((ts - g.startMs) / dayMs); day != g.fileDay {
		if g.err = g.toDay(day); g.err != nil {
			return
		}
	}
	// Bad lines are spread over the log by selection sampling: exactly len(badKinds) of them, each
	// placed before a valid line with the right probability.
	if len(g.badKinds) > 0 && r.Int64N(g.remNormal) < int64(len(g.badKinds)) {
		g.writeBad(s, ts)
	}
	g.remNormal--

	if s.dup {
		g.newLine()
		g.out = g.appendLine(g.out, &g.users[s.user].in, &g.tracks[s.dupTrack], s.dupLen, s.dupPaid, pgNextSong, s.dupItem, s.id, ts)
		g.c.NextSong++
		s.dup = false
		s.left--
		s.next = s.after
		return
	}

	pg := s.force
	s.force = noPage
	var u *user
	if s.user >= 0 {
		u = &g.users[s.user]
	}
	if pg == noPage {
		switch {
		case u == nil:
			pg = anonPages.draw(r)
		case s.state == stateOut:
			pg = outPages.draw(r)
		case u.paid:
			pg = paidPages.draw(r)
		default:
			pg = freePages.draw(r)
		}
	}
	seg, paid := &loggedOut, s.paid
	if u != nil {
		paid = u.paid
		if s.state == stateIn {
			seg = &u.in
			g.seen[s.user] = true
		}
	}

	var gap int64 // seconds to the session's next line
	var t *track
	var length int64
	var ti int32
	switch pg {
	case pgNextSong:
		ti, length = g.pickTrack()
		t = &g.tracks[ti]
		g.c.NextSong++
		if t.matched {
			g.c.Matched++
		}
		sec := length / 100000
		if chance(r, 850) {
			gap = sec + r.Int64N(3) // listened to the end
		} else {
			gap = 1 + r.Int64N(sec+1) // skipped
		}
	case pgLogin:
		gap = 1 + r.Int64N(10)
	case pgLogout:
		gap = 1 + r.Int64N(120)
	default:
		gap = r.Int64N(45)
	}
	g.newLine()
	g.out = g.appendLine(g.out, seg, t, length, paid, pg, s.item, s.id, ts)
	item := s.item
	s.item++
	s.left--

	switch pg {
	case pgLogin:
		s.state, s.force = stateIn, pgHome
	case pgLogout:
		s.state, s.force = stateOut, pgHome
	case pgSettings:
		if chance(r, 300) {
			s.force = pgSaveSettings
		}
	case pgUpgrade:
		if chance(r, 400) {
			s.force = pgSubmitUpgrade
		}
	case pgDowngrade:
		if chance(r, 200) {
			s.force = pgSubmitDowngrade
		}
	case pgSubmitUpgrade:
		u.paid, s.force = true, pgHome
	case pgSubmitDowngrade:
		u.paid, s.force = false, pgHome
	}

	if s.left > 0 {
		// Near the end of the range the gaps shrink so that every line stays inside it.
		gap = min(gap, (g.endMs-1-ts)/1000/int64(s.left))
	}
	s.next = ts + gap*1000

	// A duplicate repeats this play as the session's next line, at the same ts or later but not
	// after the line that follows it. It takes one of the session's lines, so Events stays exact.
	if pg == pgNextSong && g.remDup > 0 && s.left > 0 && r.Int64N(g.remNormal) < 3*g.remDup {
		g.remDup--
		g.c.DuplicateEvents++
		s.dup, s.dupTrack, s.dupLen, s.dupPaid, s.dupItem = true, ti, length, paid, item
		s.after = s.next
		if r.IntN(2) == 0 {
			s.next = ts
		} else {
			s.next = ts + r.Int64N(gap+1)*1000
		}
	}
}

// pickTrack draws the song of a play and the length the log gives it.
func (g *eventGen) pickTrack() (int32, int64) {
	r := g.r
	if g.nCat > 0 && r.Uint64N(1<<32) < g.matchThresh {
		i := int32(g.catPick.pick(r))
		length := int64(g.tracks[i].dur)
		if chance(r, 50) {
			// The log's length is sometimes a little off the catalog's duration: the SPEC says
			// duration is not part of the join key.
			d := 1 + r.Int64N(1000)
			if r.IntN(2) == 0 {
				d = -d
			}
			length += d
		}
		return i, length
	}
	i := int32(g.nCat + g.poolPick.pick(r))
	return i, int64(g.tracks[i].dur)
}

// appendLine renders one line. t is nil for pages other than NextSong.
func (g *eventGen) appendLine(b []byte, s *segs, t *track, length int64, paid bool, pg uint8, item int32, sid, ts int64) []byte {
	art, title, lenJSON := null, null, null
	if t != nil {
		a := g.arena[t.start:]
		art, a = a[:t.artistLen], a[t.artistLen:]
		title, a = a[:t.titleLen], a[t.titleLen:]
		lenJSON = a[:t.lengthLen]
		if length != int64(t.dur) {
			g.lenBuf = appendFixed5(g.lenBuf[:0], length)
			lenJSON = g.lenBuf
		}
	}
	lv := 0
	if paid {
		lv = 1
	}
	b = append(b, `{"artist":`...)
	b = append(b, art...)
	b = append(b, s.a...)
	b = strconv.AppendInt(b, int64(item), 10)
	b = append(b, s.b...)
	b = append(b, lenJSON...)
	b = append(b, levelJSON[lv]...)
	b = append(b, s.c...)
	b = append(b, pageJSON[pg].mp...)
	b = append(b, s.d...)
	b = strconv.AppendInt(b, sid, 10)
	b = append(b, `,"song":`...)
	b = append(b, title...)
	b = append(b, pageJSON[pg].st...)
	b = g.appendTS(b, ts)
	b = append(b, s.e...)
	return b
}

// appendTS appends a ts. Lines come in ts order, so the leading digits rarely change: they are
// rendered once and only the last six digits are formatted per line.
func (g *eventGen) appendTS(b []byte, ts int64) []byte {
	const split = 1_000_000
	hi, lo := ts/split, ts%split
	if hi <= 0 {
		return strconv.AppendInt(b, ts, 10)
	}
	if hi != g.tsHigh || len(g.tsText) == 0 {
		g.tsHigh = hi
		g.tsText = strconv.AppendInt(g.tsText[:0], hi, 10)
	}
	b = append(b, g.tsText...)
	x, y, z := lo/10000*2, lo/100%100*2, lo%100*2
	return append(b, digits2[x], digits2[x+1], digits2[y], digits2[y+1], digits2[z], digits2[z+1])
}

// digits2 holds "00" to "99".
const digits2 = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// writeBad writes one injected bad line: a NextSong play of a random user with exactly one
// defect. The keys searched for below cannot occur inside a string value, where '"' is escaped.
func (g *eventGen) writeBad(s *session, ts int64) {
	r := g.r
	kind := g.badKinds[len(g.badKinds)-1]
	g.badKinds = g.badKinds[:len(g.badKinds)-1]
	u := &g.users[r.IntN(len(g.users))]
	ti, length := g.pickTrack()
	b := g.appendLine(g.line[:0], &u.in, &g.tracks[ti], length, u.paid, pgNextSong, int32(r.IntN(50)), s.id, ts)
	at := func(key string) int { return bytes.Index(b, []byte(key)) }
	switch kind {
	case evTruncated:
		b = b[:1+r.IntN(len(b)-1)] // an object without its closing brace
	case evGarbage:
		b = append(b[:0], pick(r, garbage)...)
	case evArray:
		b = append(b[:0], '[')
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, `,"NextSong",`...)
		b = strconv.AppendInt(b, s.id, 10)
		b = append(b, ']')
	case evNumber:
		b = strconv.AppendInt(b[:0], ts, 10)
	case evNoTS:
		i, j := at(`,"ts":`), at(`,"userAgent":`)
		b = append(b[:i], b[j:]...)
	case evTSText:
		i, j := at(`,"ts":`)+len(`,"ts":`), at(`,"userAgent":`)
		b = slices.Insert(b, j, '"')
		b = slices.Insert(b, i, '"')
	case evSessionFraction:
		b = slices.Insert(b, at(`,"song":`), '.', '5')
	case evUserNumber:
		i := bytes.LastIndex(b, []byte(`"userId":"`)) + len(`"userId":`)
		b = append(b[:len(b)-2], '}') // the closing quote
		b = slices.Delete(b, i, i+1)  // the opening quote
	case evNoUser:
		i := bytes.LastIndex(b, []byte(`"userId":"`)) + len(`"userId":`)
		b = append(b[:i], `""}`...)
	case evNoSong:
		i, j := at(`,"song":`)+len(`,"song":`), at(`,"status":`)
		b = slices.Replace(b, i, j, '"', '"')
	}
	g.line = b
	g.newLine()
	g.out = append(g.out, b...)
	g.c.Rejected[evReason[kind]]++
}

// newLine counts a line and separates it from the previous one: the real files have no trailing
// newline.
func (g *eventGen) newLine() {
	if g.fileLines > 0 {
		g.out = append(g.out, '\n')
	}
	g.fileLines++
	g.c.Events++
}

func (g *eventGen) flush() error {
	if g.err != nil {
		return g.err
	}
	if len(g.out) > 0 {
		_, g.err = g.w.Write(g.out)
		g.out = g.out[:0]
	}
	return g.err
}

// toDay closes the current log file and opens the files up to day d (empty ones for days without
// lines). d == Days closes the last file.
func (g *eventGen) toDay(d int) error {
	for g.fileDay < d {
		if g.w != nil {
			err := g.flush()
			if cerr := g.w.Close(); err == nil {
				err = cerr
			}
			g.w = nil
			if err != nil {
				return err
			}
		}
		g.fileDay++
		if g.fileDay >= g.o.Days {
			return nil
		}
		y, m, day := time.UnixMilli(g.startMs + int64(g.fileDay)*dayMs).UTC().Date()
		w, err := g.create(fmt.Sprintf("log_data/%04d/%02d/%04d-%02d-%02d-events.json", y, m, y, m, day))
		if err != nil {
			return err
		}
		g.w, g.fileLines = w, 0
		g.c.LogFiles++
	}
	if g.fileDay > d {
		return fmt.Errorf("gen: internal error: line for day %d after day %d", d, g.fileDay)
	}
	return nil
}

// The heap orders the active sessions by (next, id).

func (g *eventGen) push(s session) {
	g.heap = append(g.heap, s)
	h := g.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !before(&h[i], &h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (g *eventGen) pop() {
	n := len(g.heap) - 1
	g.heap[0] = g.heap[n]
	g.heap = g.heap[:n]
	if n > 0 {
		g.down(0)
	}
}

func (g *eventGen) down(i int) {
	h := g.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && before(&h[c+1], &h[c]) {
			c++
		}
		if !before(&h[c], &h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
