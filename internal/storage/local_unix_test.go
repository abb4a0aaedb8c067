//go:build unix

package storage_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sparkify/lake/internal/storage"
)

// TestLocalFileModes checks that the local store leaves permissions to the umask, as os.Create
// and os.MkdirAll do: a BI service running as another user must be able to read the lake. The
// umask is the process's, so this test must not run in parallel with others.
func TestLocalFileModes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		umask        int
		file, folder fs.FileMode
	}{
		{0o022, 0o644, 0o755},
		{0o002, 0o664, 0o775},
		{0o077, 0o600, 0o700},
	} {
		old := syscall.Umask(c.umask)
		root := filepath.Join(t.TempDir(), "lake")
		st, err := storage.NewLocal(root)
		if err != nil {
			syscall.Umask(old)
			t.Fatal(err)
		}
		werr := storage.WriteFile(ctx, st, "songs/year=2018/part-00000.parquet", []byte("x"))
		var lockErr error
		if c := st.Features().Conditional; c != nil {
			_, lockErr = c.CreateIfAbsent(ctx, "_lock", []byte("x"))
		}
		syscall.Umask(old)
		if werr != nil || lockErr != nil {
			t.Fatal(werr, lockErr)
		}
		for name, want := range map[string]fs.FileMode{
			"songs/year=2018/part-00000.parquet": c.file,
			"_lock":                              c.file,
			"songs":                              c.folder | fs.ModeDir,
			"songs/year=2018":                    c.folder | fs.ModeDir,
		} {
			info, err := os.Stat(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode(); got != want {
				t.Errorf("umask %03o: %s has mode %v, want %v", c.umask, name, got, want)
			}
		}
	}
}

// TestLocalWriteErrorNamesObjectOnce makes a write fail for real, in a child process whose file
// size limit (RLIMIT_FSIZE) is 1 KiB: the error names the object once (not its temporary file)
// and says the cause.
func TestLocalWriteErrorNamesObjectOnce(t *testing.T) {
	if dir := os.Getenv("STORAGE_TEST_FSIZE_DIR"); dir != "" {
		fsizeChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalWriteErrorNamesObjectOnce$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STORAGE_TEST_FSIZE_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	dst := filepath.Join(dir, "out", "_staging", "run", "songs", "part-00000.snappy.parquet")
	want := "write " + dst + ": file too large"
	if got := string(out); !strings.Contains(got, "ERROR="+want+"\n") {
		t.Errorf("child said:\n%s\nwant the line ERROR=%s", got, want)
	}
	if strings.Count(string(out), dir) != 1 {
		t.Errorf("the error names a path more than once:\n%s", out)
	}
}

// fsizeChild writes 64 KiB with a file size limit of 1 KiB, and prints the error.
func fsizeChild(dir string) {
	signal.Ignore(syscall.SIGXFSZ) // else the kernel's SIGXFSZ ends the process
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1024, Max: 1024}); err != nil {
		println("setrlimit:", err.Error())
		os.Exit(2)
	}
	st, err := storage.NewLocal(filepath.Join(dir, "out"))
	if err != nil {
		os.Exit(2)
	}
	err = storage.WriteFile(context.Background(), st, "_staging/run/songs/part-00000.snappy.parquet", make([]byte, 64<<10))
	if !errors.Is(err, syscall.EFBIG) {
		os.Stdout.WriteString("not EFBIG: ")
	}
	if err == nil {
		os.Stdout.WriteString("no error\n")
		return
	}
	os.Stdout.WriteString("ERROR=" + err.Error() + "\n")
}

// TestLocalCloseErrorNamesObjectOnce fails the rename that publishes an object (a folder has the
// object's name): the error names the object once.
func TestLocalCloseErrorNamesObjectOnce(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteFile(ctx, st, "t/part-0/inside", []byte("x")); err != nil {
		t.Fatal(err)
	}
	err = storage.WriteFile(ctx, st, "t/part-0", []byte("y"))
	if err == nil {
		t.Fatal("writing over a folder succeeded")
	}
	dst := filepath.Join(root, "t", "part-0")
	if got := err.Error(); !strings.HasPrefix(got, "write "+dst+": ") || strings.Count(got, root) != 1 {
		t.Errorf("got %q, want %q followed by the cause only", got, "write "+dst+": ")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "t"))
	if len(entries) != 1 {
		t.Errorf("a temporary file was left: %v", entries)
	}
}
