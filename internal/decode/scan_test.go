package decode

import (
	"bytes"
	"testing"

	"github.com/valyala/fastjson"
)

// FuzzEventScanner checks the fast path against the general parser: whatever line the scanner
// accepts must be valid JSON that fastjson reads to the same fields, kind for kind and byte for
// byte. (What it declines goes to the general parser anyway.)
func FuzzEventScanner(f *testing.F) {
	f.Add([]byte(goodEvent))
	f.Add([]byte(eventWith("userId", `""`)))
	f.Add([]byte(`{"artist":"Bj\u00c3\u0083\u00c2\u00b6rk","userAgent":"\"Mozilla\/5.0\"","ts":1.5e3,"page":"NextSong"}`))
	f.Add([]byte(`{"ts":-0,"sessionId":0.5,"x":[1],"page":null,"song":true,"artist":false}`))
	f.Add([]byte(`{"ts":1,"ts":2}`))
	f.Add([]byte(`{"song":"\ud83c\udfb5"}`))
	f.Add([]byte(` { } `))
	f.Fuzz(func(t *testing.T, line []byte) {
		var s flatScanner
		if !s.event(line) {
			return
		}
		if err := fastjson.ValidateBytes(line); err != nil {
			t.Fatalf("scanner accepted invalid JSON %q: %v", line, err)
		}
		var p fastjson.Parser
		v, err := p.ParseBytes(line)
		if err != nil {
			t.Fatal(err)
		}
		o, err := v.Object()
		if err != nil {
			t.Fatalf("scanner accepted a non-object %q", line)
		}
		general := objFields{o}
		for _, k := range eventKeys {
			got, want := s.get(k), general.get(k)
			if got.kind != want.kind || !bytes.Equal(got.raw, want.raw) {
				t.Fatalf("%q field %s: scanner %v %q, fastjson %v %q", line, k, got.kind, got.raw, want.kind, want.raw)
			}
		}
	})
}

func TestScannerTakesTheRealShape(t *testing.T) {
	var s flatScanner
	for _, line := range []string{goodEvent, eventWith("page", `"Home"`), eventWith("length", "null")} {
		if !s.event([]byte(line)) {
			t.Errorf("fast path declined a well-formed line: %s", line)
		}
	}
	for _, line := range []string{`{"a":{"b":1}}`, `{"ts":1,"ts":1}`, `{"song":"\ud83c\udfb5"}`, goodEvent[:40], `[1]`, `{"a":01}`} {
		if s.event([]byte(line)) {
			t.Errorf("fast path accepted %s", line)
		}
	}
}

func TestEventKeyIndex(t *testing.T) {
	for i, k := range eventKeys {
		if got := eventKeyIndex([]byte(k)); got != i {
			t.Errorf("eventKeyIndex(%q): got %d, want %d", k, got, i)
		}
	}
	if eventKeyIndex([]byte("nope")) != -1 {
		t.Error("unknown key found")
	}
}
