package spill

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sparkify/lake/internal/record"
)

type play struct {
	e                record.Event
	songID, artistID string
}

var plays = []play{
	{e: record.Event{
		Src: record.Source{Path: "2018/11/2018-11-01-events.json", Line: 7, Offset: 1234},
		TS:  1541105830796, SessionID: 139, ItemInSession: 3, Page: record.PageNextSong,
		UserID: 8, HasUser: true, Artist: "Mötley Crüe", Song: "Home Sweet Home", Length: 239.98, HasLength: true,
		Level: "free", Location: "Phoenix-Mesa-Scottsdale, AZ", UserAgent: `"Mozilla/5.0 (Windows NT 6.1; WOW64)"`,
	}, songID: "SOZCTXZ12AB0182364", artistID: "AR5KOSW1187FB35FF4"},
	// Extremes: negative and huge numbers, no length, no user, empty text, no match.
	{e: record.Event{
		Src: record.Source{Path: "", Line: math.MaxInt32, Offset: math.MaxInt64},
		TS:  math.MinInt64, SessionID: -1, ItemInSession: math.MinInt32, Page: record.PageNextSong,
		UserID: math.MaxInt64,
	}},
	{e: record.Event{
		Src: record.Source{Path: "a", Line: 1}, TS: 0, Page: record.PageNextSong, HasUser: true,
		Length: math.Copysign(0, -1), HasLength: true, Song: strings.Repeat("x", 1<<16),
	}, songID: "S", artistID: ""},
}

func TestRoundTrip(t *testing.T) {
	d, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Create("p0")
	if err != nil {
		t.Fatal(err)
	}
	// Many writers at once: each Write's records stay whole.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var b []byte
			for _, p := range plays {
				b = AppendPlay(b, &p.e, p.songID, p.artistID)
			}
			if err := f.Write(b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	data, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
	if copied, err := f.ReadAll(); err != nil || !bytes.Equal(copied, data) {
		t.Fatalf("ReadAll and Map differ (%v)", err)
	}
	// The data outlives the file's name (the engine removes a file as soon as it is read), and
	// is the file's until Release.
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	n := 0
	for rest := data; len(rest) > 0; n++ {
		var rec []byte
		if rec, rest, err = Next(rest); err != nil {
			t.Fatal(err)
		}
		var e record.Event
		songID, artistID, err := View(rec, &e)
		if err != nil {
			t.Fatal(err)
		}
		want := plays[n%len(plays)]
		h, err := ViewHead(rec)
		if err != nil {
			t.Fatal(err)
		}
		if wh := (Head{TS: want.e.TS, SessionID: want.e.SessionID, ItemInSession: want.e.ItemInSession, UserID: want.e.UserID}); h != wh {
			t.Fatalf("play %d: head %+v, want %+v", n, h, wh)
		}
		// Float -0 compares equal to 0: compare its bits.
		if e != want.e || math.Float64bits(e.Length) != math.Float64bits(want.e.Length) || songID != want.songID || artistID != want.artistID {
			t.Fatalf("play %d: got %+v %q %q, want %+v %q %q", n, e, songID, artistID, want.e, want.songID, want.artistID)
		}
	}
	if n != 8*len(plays) {
		t.Fatalf("read %d plays, want %d", n, 8*len(plays))
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path()); !os.IsNotExist(err) {
		t.Fatalf("spill folder still there after Remove: %v", err)
	}
}

func TestDamaged(t *testing.T) {
	var whole []byte
	for _, p := range plays {
		whole = AppendPlay(whole, &p.e, p.songID, p.artistID)
	}
	first := len(AppendPlay(nil, &plays[0].e, plays[0].songID, plays[0].artistID))
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated length", whole[:first+2]},
		{"truncated record", whole[:first+10]},
		{"length over what is left", append(whole[:first:first], 0xff, 0xff, 0xff, 0x7f)},
		{"length shorter than its fields", func() []byte {
			b := bytes.Clone(whole[:first])
			b[0] -= 20
			return b[:len(b)-20]
		}()},
		{"length longer than its fields", func() []byte {
			b := bytes.Clone(whole[:first])
			b[0]++
			return append(b, 0)
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := readAll(tc.data); !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want a damaged-file error", err)
			}
		})
	}
}

// readAll reads every play of data, and returns the first error.
func readAll(data []byte) error {
	for len(data) > 0 {
		rec, rest, err := Next(data)
		if err != nil {
			return err
		}
		var e record.Event
		if _, _, err := View(rec, &e); err != nil {
			return err
		}
		data = rest
	}
	return nil
}

func TestHeadDamaged(t *testing.T) {
	rec := AppendPlay(nil, &plays[0].e, "", "")
	for _, tc := range []struct {
		name string
		rec  []byte
	}{
		{"no length", rec[:3]},
		{"no fields", rec[:4]},
		{"a number cut short", append(bytes.Clone(rec[:4]), 0xff, 0xff)},
		{"three numbers of four", func() []byte {
			b := bytes.Clone(rec[:4])
			for range 3 {
				b = append(b, 2)
			}
			return b
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ViewHead(tc.rec); !errors.Is(err, ErrDamaged) {
				t.Fatalf("got %v, want a damaged-record error", err)
			}
		})
	}
}

func TestAppendMatched(t *testing.T) {
	for _, p := range plays {
		rec := AppendPlay(nil, &p.e, "", "")
		got := AppendMatched([]byte("prefix"), rec, "SOX", "ARY")
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatal("AppendMatched lost what b held")
		}
		want := AppendPlay(nil, &p.e, "SOX", "ARY")
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("AppendMatched wrote %x, AppendPlay with the match %x", got[6:], want)
		}
	}
}

// A full disk is an error that names the spill folder, the setting a user can change.
func TestWriteErrorNamesFolder(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	d := &Dir{path: "/some/spill/folder"}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	f := &File{f: full, dir: d.path}
	f.w = bufio.NewWriterSize(full, 4096)
	err = f.Write(bytes.Repeat([]byte{1}, 1<<20))
	if err == nil {
		_, err = f.ReadAll()
	}
	if err == nil || !strings.Contains(err.Error(), "spill to /some/spill/folder") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("got %v, want a one-line error naming the folder and the full disk", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error has several lines: %q", err)
	}
	_ = full.Close()
}

func TestCreateInMissingFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := Create(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v, want an error naming %s", err, missing)
	}
}

func FuzzView(f *testing.F) {
	var b []byte
	for _, p := range plays[:2] { // the third's long title would slow every mutation
		b = AppendPlay(b, &p.e, p.songID, p.artistID)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		for len(data) > 0 {
			rec, rest, err := Next(data)
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("error not marked damaged: %v", err)
				}
				return
			}
			var e record.Event
			songID, artistID, err := View(rec, &e)
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("error not marked damaged: %v", err)
				}
				return
			}
			// What decodes encodes back to the same play.
			again := AppendPlay(nil, &e, songID, artistID)
			var e2 record.Event
			s2, a2, err := View(again, &e2)
			if err != nil || e2 != e && !(math.IsNaN(e.Length) && math.IsNaN(e2.Length)) || s2 != songID || a2 != artistID {
				t.Fatalf("re-encoding changed the play: %+v %q %q -> %+v %q %q (%v)", e, songID, artistID, e2, s2, a2, err)
			}
			data = rest
		}
	})
}
