// Package report holds what a run measures and tells: live progress counters, safe for
// concurrent use, and the manifest written as _manifest.json and shown as the summary.
//
// It does not print or log; cmd's progress package draws what it holds.
package report

import (
	"sync/atomic"
	"time"
)

// Input tells what was read from one input.
type Input struct {
	Root       string           `json:"root"`
	Files      int              `json:"files"`
	Bytes      int64            `json:"bytes"`
	Read       int64            `json:"records_read"`
	Rejected   int64            `json:"records_rejected"`
	RejectedBy map[string]int64 `json:"rejected_by_reason"`
	Kept       int64            `json:"records_kept"`
	Duplicates int64            `json:"duplicates_removed"`
	// Repaired counts the text values whose mojibake was undone, by source field.
	Repaired map[string]int64 `json:"repaired_by_field,omitempty"`
	// Skipped counts the entries below the root that were not read, by why (source.SkipNotJSON,
	// source.SkipHidden, storage.SkipSymlinkToFolder, ...); nil when none were.
	Skipped map[string]int64 `json:"skipped,omitempty"`
}

// Table tells what was written for one table.
type Table struct {
	Rows       int64 `json:"rows"`
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	Partitions int   `json:"partitions"`
}

// Phase is one step of a run and the wall time it took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Lap ends the phase that began at *since: it appends it to m.Phases, and the next phase begins
// at now.
func (m *Manifest) Lap(name string, since *time.Time, now time.Time) Phase {
	p := Phase{Name: name, Seconds: now.Sub(*since).Seconds()}
	m.Phases = append(m.Phases, p)
	*since = now
	return p
}

// Manifest describes a run: what it read, what it wrote and how it went. It holds no secrets:
// roots are shown as the user named them, without credentials.
type Manifest struct {
	RunID      string    `json:"run_id"`
	Version    string    `json:"version"`
	Engine     string    `json:"engine"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"elapsed_seconds"` // the whole run, publish included
	// Phases are the run's steps in order, each with its wall time (list, read songs, read
	// events, transform, stage, publish; an incremental run has its own). They add up to the
	// run's time. A full run reads the songs and the events at once: "read songs" ends when the
	// catalog is built from the song files, and "read events" is what the events took after it.
	Phases      []Phase `json:"phases"`
	Output      string  `json:"output"`
	Compression string  `json:"compression"`
	Workers     int     `json:"workers"`
	// MemoryLimit is the run's --memory-limit in bytes (0: none); Spilled is set when the plays
	// did not fit in it and went through local disk (the tables are the same either way).
	MemoryLimit int64            `json:"memory_limit,omitempty"`
	Spilled     bool             `json:"spilled,omitempty"`
	Inputs      map[string]Input `json:"inputs"` // "songs", "events"
	Tables      map[string]Table `json:"tables"`
	Rejected    Table            `json:"rejected"`
	Plays       int64            `json:"songplays"`
	Matched     int64            `json:"songplays_matched"`
	MatchRate   float64          `json:"match_rate"`
	Recovered   []string         `json:"recovered_runs,omitempty"`
	Retries     int64            `json:"storage_retries"`
	// Requests counts the requests to S3 by operation (GetObject, PutObject, CopyObject, ...),
	// publish included: what the run costs, where requests are billed. They are its S3 client's,
	// which the CLI makes once per run. Absent when the run touched no object store, and on the
	// Beam engine, whose workers have clients of their own.
	Requests map[string]int64 `json:"storage_requests,omitempty"`
	// Incremental is set for a run with --incremental: what it loaded and what it rewrote.
	// Inputs then count only the files this run read.
	Incremental *Incremental `json:"incremental,omitempty"`
}

// Incremental tells what an incremental run did.
type Incremental struct {
	// Full is true when the run loaded every input file: the first incremental run on an
	// output, or a rebuild because the state was written under other settings (Why says which).
	Full bool   `json:"full_load"`
	Why  string `json:"why,omitempty"`
	// NewFiles and LoadedBefore count, per input, the files read now and those skipped because
	// an earlier run loaded them.
	NewFiles     map[string]int `json:"new_files"`
	LoadedBefore map[string]int `json:"loaded_before"`
	// Rewritten and Removed list, per table, the partition folders this run wrote or removed
	// ("" for an unpartitioned table) or, in songplays and time, whose files are one per day,
	// the days: year=2018/month=11/2018-11-30 for the files part-2018-11-30-* of that folder.
	// The others were left as they were.
	Rewritten map[string][]string `json:"rewritten_partitions"`
	Removed   map[string][]string `json:"removed_partitions,omitempty"`
}

// InputBytes is the number of bytes read from both inputs.
func (m *Manifest) InputBytes() int64 {
	var n int64
	for _, in := range m.Inputs {
		n += in.Bytes
	}
	return n
}

// Progress is the live state of a run, updated by the engine and read by whoever draws it.
type Progress struct {
	FilesTotal atomic.Int64
	FilesDone  atomic.Int64
	BytesTotal atomic.Int64
	BytesDone  atomic.Int64
	phase      atomic.Value // string
}

// SetPhase names what the run is doing now, as the progress line shows it ("listing", "reading",
// "reading, spilling", "merging", "transforming", "writing", "publishing").
func (p *Progress) SetPhase(s string) { p.phase.Store(s) }

// Phase returns what the run is doing now.
func (p *Progress) Phase() string {
	s, _ := p.phase.Load().(string)
	return s
}
