// Package decode turns raw input bytes into records or rejects, applying the SPEC's validation.
//
// It never panics and never drops anything: every JSON value of a song file and every non-blank
// line of an event file becomes exactly one record.Song / record.Event or one record.Reject that
// carries its raw bytes, its position and a reason. It does no I/O and keeps no state between
// calls other than a reusable parser and the run's bound on ts (Decoder.MaxTS), so a Decoder is
// cheap to make and must not be shared between goroutines.
//
// Input is untrusted: nesting deeper than MaxDepth is rejected before any JSON parser sees it, so
// decoding costs time linear in the input (FuzzDecodeLinear).
package decode
