package state

import (
	"context"
	"errors"
	"testing"

	"github.com/sparkify/lake/internal/storage"
)

// FuzzReadMeta reads arbitrary bytes as meta/state.json. It must never panic, and return either
// a Meta that WriteMeta writes back as the same bytes, or an error that is ErrCorrupt or
// ErrIncompatible.
func FuzzReadMeta(f *testing.F) {
	ctx := context.Background()
	seed := storage.NewMemory(storage.MemoryOptions{})
	// Small seeds: the fuzzer minimizes every input that finds new code, at a cost that grows
	// with its size, and counts no executions meanwhile.
	small := &Meta{Version: "v", Rules: "r", Settings: map[string]string{"c": "snappy"}, Counters: map[string]int64{"n": 1},
		Loaded: []Loaded{{Input: "event", Path: "a.json", Size: 1, ETag: "e"}},
		Files:  []File{{Name: PlaysFile("y=1", "2018-11-30"), Size: 1, SHA256: sha('a')}},
		Tables: map[string]map[string]Part{"t": {"y=1/g": {Partition: "y=1", Group: "g", Files: 1, Names: []string{"a"}}}},
		Plays:  []Span{{Partition: "y=1", Day: "2018-11-30", Rows: 1, MinSession: -1, MaxSession: 1}}}
	for i, m := range []*Meta{small, {}} {
		dir := string(rune('a' + i))
		if _, err := WriteMeta(ctx, seed, dir, m); err != nil {
			f.Fatal(err)
		}
		data, _ := storage.ReadFile(ctx, seed, dir+"/"+MetaFile)
		f.Add(data)
	}
	for _, s := range []string{"", "{}", "null", `{"format": 1}`, `{"format": 2}`, `{"format": 3}`, `{"format": 1e400}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st := storage.NewMemory(storage.MemoryOptions{Name: "fuzz"})
		if err := storage.WriteFile(ctx, st, Dir+"/"+MetaFile, data); err != nil {
			t.Fatal(err)
		}
		m, err := ReadMeta(ctx, st, Dir)
		if err != nil {
			if m != nil {
				t.Fatal("a Meta and an error")
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrIncompatible) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrIncompatible", err)
			}
			return
		}
		if _, err := WriteMeta(ctx, st, "again", m); err != nil {
			t.Fatalf("a Meta read cannot be written: %v", err)
		}
		again, _ := storage.ReadFile(ctx, st, "again/"+MetaFile)
		if string(again) != string(data) {
			t.Fatalf("read %q, written back as %q", data, again)
		}
	})
}

// FuzzReadIDs reads arbitrary bytes as ids/ids.bin, with a Meta entry that matches them (what a
// hand-made file would have). It must never panic, and return either ErrCorrupt or ids that
// WriteIDs writes back as the same bytes.
func FuzzReadIDs(f *testing.F) {
	ctx := context.Background()
	for _, s := range []string{"", "\x01", "\x00\x00\x00\x00\x00\x00\x00\x00", "\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00",
		"\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st := storage.NewMemory(storage.MemoryOptions{Name: "fuzz"})
		ids, err := ReadIDs(ctx, st, Dir, withEntry(t, st, IDsFile, data))
		if err != nil {
			if ids != nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ids %v, error %v: want no ids and ErrCorrupt", ids, err)
			}
			return
		}
		if _, err := WriteIDs(ctx, st, "again", ids); err != nil {
			t.Fatalf("ids read cannot be written: %v", err)
		}
		again, _ := storage.ReadFile(ctx, st, "again/"+IDsFile)
		if string(again) != string(data) {
			t.Fatalf("read %x, written back as %x", data, again)
		}
	})
}
