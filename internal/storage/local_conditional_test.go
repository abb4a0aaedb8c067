//go:build unix

package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sparkify/lake/internal/storage"
)

// TestLocalConditionalAcrossProcesses runs several copies of the test binary that race for one
// object with conditional writes: each tries to create it once, and increments a counter with
// read / compare-and-swap loops, from two goroutines. Exactly one process creates the object,
// and no increment is lost, which they would be if the flock did not exclude other processes.
func TestLocalConditionalAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("STORAGE_TEST_CAS_DIR"); dir != "" {
		casChild(t, dir)
		return
	}
	const procs, perGoroutine = 4, 20
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Features().Conditional
	if _, err := c.CreateIfAbsent(ctx, "counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	var outs []*bytes.Buffer
	var cmds []*exec.Cmd
	var starts []io.WriteCloser
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLocalConditionalAcrossProcesses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "STORAGE_TEST_CAS_DIR="+dir, fmt.Sprintf("STORAGE_TEST_CAS_ID=%d", i),
			fmt.Sprintf("STORAGE_TEST_CAS_N=%d", perGoroutine))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		start, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, starts = append(cmds, cmd), append(outs, out), append(starts, start)
	}
	for _, s := range starts {
		s.Close() // the children start on EOF, all at once
	}
	won, conflicts := 0, 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
			continue
		}
		for line := range strings.Lines(outs[i].String()) {
			if strings.HasPrefix(line, "WON") {
				won++
			}
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "CONFLICTS="); ok {
				k, _ := strconv.Atoi(n)
				conflicts += k
			}
		}
	}
	if t.Failed() {
		return
	}
	if won != 1 {
		t.Errorf("%d processes created the object, want exactly 1", won)
	}
	data, _, err := c.ReadVersioned(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(procs * 2 * perGoroutine); string(data) != want {
		t.Errorf("counter is %s, want %s: increments were lost", data, want)
	}
	t.Logf("%d compare-and-swap conflicts were retried", conflicts)
}

func casChild(t *testing.T, dir string) {
	io.ReadAll(os.Stdin) // wait for the start
	ctx := context.Background()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Features().Conditional
	id := os.Getenv("STORAGE_TEST_CAS_ID")
	n, _ := strconv.Atoi(os.Getenv("STORAGE_TEST_CAS_N"))
	if _, err := c.CreateIfAbsent(ctx, "winner", []byte(id)); err == nil {
		fmt.Println("WON")
	} else if !errors.Is(err, storage.ErrPrecondition) {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for range 2 {
		wg.Go(func() {
			for done := 0; done < n; {
				data, v, err := c.ReadVersioned(ctx, "counter")
				if err != nil {
					t.Error(err)
					return
				}
				k, err := strconv.Atoi(string(data))
				if err != nil {
					t.Errorf("counter %q: %v", data, err)
					return
				}
				_, err = c.ReplaceIfMatch(ctx, "counter", []byte(strconv.Itoa(k+1)), v)
				if errors.Is(err, storage.ErrPrecondition) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		})
	}
	wg.Wait()
	fmt.Printf("CONFLICTS=%d\n", conflicts)
}

// TestLocalConditionalFiles: a conditional write leaves the object, with the mode the umask
// gives, and its lock file beside it, which stays (see localConditional); no temporary file.
func TestLocalConditionalFiles(t *testing.T) {
	ctx := context.Background()
	st := newLocal(t)
	c := st.Features().Conditional
	v, err := c.CreateIfAbsent(ctx, "out/_lock", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReplaceIfMatch(ctx, "out/_lock", []byte("b"), v); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(st.Location("out"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, []string{"_lock", "_lock.flock"}) {
		t.Errorf("the folder holds %v, want [_lock _lock.flock]", got)
	}
}
