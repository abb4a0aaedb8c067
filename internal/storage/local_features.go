package storage

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Features implements Store: a local folder renames a file or a folder atomically, is durable
// once synced, and writes conditionally (see localConditional) where the system has flock(2).
func (l *Local) Features() Features {
	return Features{Move: l.Move, Sync: l.Sync, Conditional: l.conditional(), CreateDirect: l.createDirect}
}

// createTemp creates a new, empty temporary file beside dst, where it can be renamed to dst.
// Unlike os.CreateTemp, which always uses mode 0600, the file gets 0666 less the umask, as
// os.Create gives: renamed into place, it is the object.
func createTemp(dst string) (*os.File, error) {
	prefix := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-")
	for try := 0; ; try++ {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		f, err := openFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}

// cause strips the path from an error of the os package, so that an error about a temporary
// file can name the object instead: the temporary file means nothing to the user.
func cause(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
