package spill

import (
	"errors"
	"os"
	"runtime/debug"
	"testing"

	"github.com/sparkify/lake/internal/record"
)

// TestMappedFault: a mapped file that cannot be read (here, truncated under the mapping, as a
// failing disk would make a page unreadable) faults on access; with SetPanicOnFault, Fault turns
// that into a damaged-file error naming the file, instead of the process dying.
func TestMappedFault(t *testing.T) {
	d, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Remove()
	f, err := d.Create("p")
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for len(b) < 1<<16 {
		b = AppendPlay(b, &record.Event{Page: record.PageNextSong, Song: "s", Artist: "a", HasUser: true}, "", "")
	}
	if err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	data, err := f.Map()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if f.mapped == nil {
		t.Skip("the file was read, not mapped")
	}
	if err := os.Truncate(f.Name(), 0); err != nil {
		t.Fatal(err)
	}
	err = func() (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if err = f.Fault(r); err == nil {
					t.Fatalf("not a fault: %v", r)
				}
			}
		}()
		for i := 0; i < len(data); i += 4096 {
			touched += data[i]
		}
		return nil
	}()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("reading a truncated mapping: got %v, want a damaged-file error", err)
	}
	t.Log(err)
	if f.Fault("something else") != nil {
		t.Error("Fault took a panic that is not a fault")
	}
}

// touched keeps the reads of TestMappedFault from being optimized away.
var touched byte
