// Package run is the life of one ETL run on an output, shared by every engine and the CLI: it
// names the run, takes the output's lock, finishes or discards what earlier runs left, and at the
// end publishes the run's staging or abandons it. It also holds the parts of the output's
// contract that do not depend on an engine: where the rejected records go, which folders a run
// owns, when too many records were rejected.
//
// An engine only stages files under Run.Staging; everything that decides what readers see goes
// through this package and package commit, so two engines cannot differ in how a run begins or
// ends.
package run

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/table"
)

// RejectedDir is the folder, under the output root, of the rejected records, and RejectedFile
// the file in it. Every engine writes them there.
const (
	RejectedDir  = "_rejected"
	RejectedFile = RejectedDir + "/rejected.jsonl"
)

// PublishedDirs are the folders a run owns under the output root: every table, and the rejected
// records even when a run rejected nothing, so that an old one is removed.
func PublishedDirs() []string { return append(slices.Clone(table.All), RejectedDir) }

// NewID names a run: its start time, sortable, and a random suffix, so that two runs started in
// the same second do not share a staging folder.
func NewID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ErrTooManyRejected matches a *RejectedError with errors.Is.
var ErrTooManyRejected = errors.New("too many rejected records")

// ErrDuplicateID is returned in the (astronomically unlikely) case that two song plays hash to the
// same songplay_id: the run fails rather than write a table whose id is not unique.
var ErrDuplicateID = errors.New("songplay_id collision")

// RejectedError tells that an input's rejected share passed the limit.
type RejectedError struct {
	Input          string // "songs" or "events"
	Rejected, Read int64
	Limit          float64 // the allowed share, 0..1
	Where          string  // where the rejected records can be read
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s: %d of %d %s rejected (%.2f%%, the limit is %.2f%%, see --max-rejected-ratio); the tables were left as they were; the rejected records are in %s",
		ErrTooManyRejected, e.Rejected, e.Read, e.Input,
		100*float64(e.Rejected)/float64(e.Read), 100*e.Limit, e.Where)
}

// Is makes errors.Is(err, ErrTooManyRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrTooManyRejected }

// CheckRejected returns a *RejectedError when the rejected share of the songs or of the events
// exceeds maxRatio; where says where the rejected records are.
func CheckRejected(inputs map[string]report.Input, maxRatio float64, where string) error {
	for _, name := range []string{"songs", "events"} {
		st := inputs[name]
		if st.Read > 0 && float64(st.Rejected)/float64(st.Read) > maxRatio {
			return &RejectedError{Input: name, Rejected: st.Rejected, Read: st.Read, Limit: maxRatio, Where: where}
		}
	}
	return nil
}
