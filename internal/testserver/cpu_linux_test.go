//go:build linux

package testserver

import (
	"fmt"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// The fields after comm, from state (field 3) to stime (field 15) and a few more.
	const rest = " S 1 2 3 0 -1 4194560 100 0 0 0 %s 0 0 20 0 9 0 12345 0 0"
	for _, tc := range []struct {
		name, stat   string
		utime, stime uint64
		wantErr      bool
	}{
		{name: "plain", stat: "4242 (versitygw)" + fmt.Sprintf(rest, "1234 56"), utime: 1234, stime: 56},
		{name: "spaces in comm", stat: "7 (toxiproxy server)" + fmt.Sprintf(rest, "7 8"), utime: 7, stime: 8},
		{name: "parentheses in comm", stat: "7 (a) b (c) 1 2 3)" + fmt.Sprintf(rest, "10 20"), utime: 10, stime: 20},
		{name: "only a paren in comm", stat: "7 ())" + fmt.Sprintf(rest, "0 0"), utime: 0, stime: 0},
		{name: "comm looks like fields", stat: "7 (R 1 2 3 4 5 6 7 8 9 10 11 99 99)" + fmt.Sprintf(rest, "3 4"), utime: 3, stime: 4},
		{name: "trailing newline", stat: "7 (x)" + fmt.Sprintf(rest, "5 6") + "\n", utime: 5, stime: 6},
		{name: "large", stat: "7 (x)" + fmt.Sprintf(rest, "18446744073709551615 1"), utime: 1<<64 - 1, stime: 1},
		{name: "empty", stat: "", wantErr: true},
		{name: "no comm", stat: "7 x S 1 2 3", wantErr: true},
		{name: "unclosed comm", stat: "7 (x S 1 2 3 4 5 6 7 8 9 10 11 12 13", wantErr: true},
		{name: "too few fields", stat: "7 (x) S 1 2 3 0 -1 4194560 100 0 0 0 5", wantErr: true},
		{name: "utime not a number", stat: "7 (x)" + fmt.Sprintf(rest, "x 6"), wantErr: true},
		{name: "stime negative", stat: "7 (x)" + fmt.Sprintf(rest, "5 -6"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			utime, stime, err := parseProcStat(tc.stat)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseProcStat(%q) = %d, %d, nil; want an error", tc.stat, utime, stime)
				}
				return
			}
			if err != nil || utime != tc.utime || stime != tc.stime {
				t.Fatalf("parseProcStat(%q) = %d, %d, %v; want %d, %d, nil", tc.stat, utime, stime, err, tc.utime, tc.stime)
			}
		})
	}
}
