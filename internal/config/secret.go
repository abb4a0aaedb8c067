package config

import (
	"fmt"
	"log/slog"
)

// redacted is what a non-empty Secret shows wherever it is printed, logged or marshalled.
const redacted = "**redacted**"

// Secret holds a credential. Every way of turning it into text (fmt with any verb, slog,
// encoding/json, encoding.TextMarshaler) yields "**redacted**", or "" when it is empty so that a
// reader can still tell "not set" from "set". Only Reveal returns the value; grep for it to find
// every place a credential leaves the program.
//
// The value sits in an unexported field so that reflection-based printers that respect export
// rules (fmt, encoding/json, encoding/gob) cannot reach it either.
type Secret struct {
	value string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the credential itself. Hand it only to the code that authenticates.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "**redacted**", or "" for an empty secret.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString makes %#v redacted as well; fmt prefers Format, but other printers call GoString.
func (s Secret) GoString() string { return s.String() }

// Format implements fmt.Formatter so that no verb, not even %x or %#v, reaches the value. Width
// and flags apply to the redacted text; %q quotes it; every other verb prints it as %s would.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s.value == "" {
		return []byte(`""`), nil
	}
	return []byte(`"` + redacted + `"`), nil
}

// MarshalText implements encoding.TextMarshaler, which YAML, TOML and map-key encoders use.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
