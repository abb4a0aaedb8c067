package decode

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/record"
	"github.com/valyala/fastjson"
)

// FuzzEventScanner checks the fast path against the general parser: whatever line the scanner
// accepts must be valid JSON that fastjson reads to the same fields, kind for kind and byte for
// byte, that the general path's own checks (depth, repeated keys) let through, and that
// validation then judges the same way, event for event and reject for reject. (What it declines
// goes to the general parser anyway.)
func FuzzEventScanner(f *testing.F) {
	f.Add([]byte(goodEvent))
	f.Add([]byte(eventWith("userId", `""`)))
	f.Add([]byte(`{"artist":"Bj\u00c3\u0083\u00c2\u00b6rk","userAgent":"\"Mozilla\/5.0\"","ts":1.5e3,"page":"NextSong"}`))
	f.Add([]byte(`{"ts":-0,"sessionId":0.5,"x":[1],"page":null,"song":true,"artist":false}`))
	f.Add([]byte(`{"ts":1,"ts":2}`))
	f.Add([]byte(`{"song":"\ud83c\udfb5"}`))
	f.Add([]byte(` { } `))
	f.Add([]byte(`{"x":1,"y":2,"x":3}`))
	f.Add([]byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`))
	f.Add([]byte(`{"pa\u0067e":"Home","page":"NextSong"}`))
	f.Add([]byte(eventWith("ts", "9223372036854775807")))
	f.Add([]byte(eventWith("ts", "946684799999")))
	f.Add([]byte(eventWith("artist", "\"Bj\xf6rk\"")))
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
		var d Decoder
		obj, prob := d.object(line)
		if prob != nil {
			t.Fatalf("scanner accepted %q, which the general path rejects: %s %s %s", line, prob.reason, prob.field, prob.detail)
		}
		maxTS := MaxTSAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		var fast, slow record.Event
		pf, ps := eventFields(&s, &fast, maxTS), eventFields(objFields{obj}, &slow, maxTS)
		if (pf == nil) != (ps == nil) || pf != nil && *pf != *ps || fast != slow {
			t.Fatalf("%q: scanner gives %+v %+v, general parser %+v %+v", line, fast, pf, slow, ps)
		}
	})
}

func TestScannerTakesTheRealShape(t *testing.T) {
	var s flatScanner
	oneUnknown := strings.Replace(goodEvent, "{", `{"x": 1, `, 1)
	for _, line := range []string{goodEvent, eventWith("page", `"Home"`), eventWith("length", "null"), oneUnknown} {
		if !s.event([]byte(line)) {
			t.Errorf("fast path declined a well-formed line: %s", line)
		}
	}
	for _, line := range []string{`{"a":{"b":1}}`, `{"ts":1,"ts":1}`, `{"x":1,"ts":1,"x":1}`, `{"x":1,"ts":1,"y":1}`, `{"pa\u0067e":"Home"}`, `{"song":"\ud83c\udfb5"}`, goodEvent[:40], `[1]`, `{"a":01}`} {
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
