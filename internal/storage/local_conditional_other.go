//go:build !unix

package storage

// conditional is nil where the system has no flock(2): the local store then cannot write
// conditionally.
func (l *Local) conditional() Conditional { return nil }
