package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sparkify/lake/internal/config"
)

// parseFlags parses a command's flags the way a user expects: -h and --help print the usage on
// stdout and exit 0; a mistyped flag or a bad value is one line on stderr that names it (with the
// closest flag for a typo), not the whole usage. ok is false when the command must return code.
func parseFlags(fl *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	usage := fl.Usage
	fl.SetOutput(io.Discard) // errors are reported below, in one line
	fl.Usage = func() {}
	err := fl.Parse(args)
	fl.Usage = usage
	if err == nil {
		return exitOK, true
	}
	if errors.Is(err, flag.ErrHelp) {
		fl.SetOutput(stdout)
		fl.Usage()
		return exitOK, false
	}
	fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", fl.Name(), flagError(fl, err), fl.Name())
	return exitUsage, false
}

// flagError rewrites the flag package's messages: "flag provided but not defined: -ouptut"
// becomes "unknown flag --ouptut; did you mean --output?", and "invalid value "abc" for flag
// -workers: parse error" becomes "--workers: invalid value "abc"".
func flagError(fl *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		s := "unknown flag --" + name
		if best := closestFlag(fl, name); best != "" {
			s += "; did you mean --" + best + "?"
		}
		return s
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if value, after, ok := strings.Cut(rest, " for flag -"); ok {
			name, why, _ := strings.Cut(after, ": ")
			s := "--" + name + ": invalid value " + value
			if strings.Contains(why, "parse error") {
				s += " (want a " + flagKind(fl, name) + ")"
			} else if why != "" {
				s += ": " + why
			}
			return s
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if value, after, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ := strings.Cut(after, ": ")
			return "--" + name + ": invalid value " + value + " (want true or false)"
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + name + " needs a value"
	}
	return msg
}

// flagKind names what a flag's value must be, from its default's type, for messages.
func flagKind(fl *flag.FlagSet, name string) string {
	switch fmt.Sprintf("%T", fl.Lookup(name).Value) {
	case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
		return "whole number"
	case "*flag.float64Value":
		return "number"
	case "*flag.durationValue":
		return "duration such as 30s"
	}
	return "valid value"
}

// closestFlag returns the defined flag nearest to name, if it is close enough to be a typo.
func closestFlag(fl *flag.FlagSet, name string) string {
	var names []string
	fl.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return config.Suggest(name, names)
}
