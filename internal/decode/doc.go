// Package decode turns raw input bytes into records or rejects, applying the SPEC's validation.
//
// It never panics and never drops anything: every JSON value of a song file and every non-blank
// line of an event file becomes exactly one record.Song / record.Event or one record.Reject that
// carries its raw bytes, its position and a reason. It does no I/O and keeps no state between
// calls other than a reusable parser, so a Decoder is cheap to make and must not be shared between
// goroutines.
package decode
