package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sparkify/lake/internal/config"
)

// commandHelp is what a command's --help prints: a usage line, what the command does, its flags
// in titled groups (each flag on one line, `--name TYPE  text`), then free text such as examples.
// The flag package's own listing puts each text on a second line and knows no groups, which is
// hard to scan once a command has twenty flags.
type commandHelp struct {
	usage  string            // "sparkify etl [flags]"
	about  string            // a paragraph; may be empty
	groups []flagGroup       // nil: every flag under "Flags"
	types  map[string]string // what a flag's value is, where neither its usage nor its type says
	after  string            // examples, exit statuses; may be empty
}

// flagGroup is a titled set of flags, listed in this order, with an optional note under them.
type flagGroup struct {
	title string
	names []string
	note  string
}

// install makes h the flag set's usage.
func (h commandHelp) install(fl *flag.FlagSet) {
	fl.Usage = func() { h.print(fl.Output(), fl) }
}

func (h commandHelp) print(w io.Writer, fl *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n", h.usage)
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.about, "\n"))
	}
	// A flag no group names is still listed, under a title that TestHelp looks for.
	listed := map[string]bool{}
	for _, g := range h.groups {
		for _, name := range g.names {
			listed[name] = true
		}
	}
	var rest []string
	fl.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			rest = append(rest, f.Name)
		}
	})
	groups := h.groups
	if len(rest) > 0 {
		title := "Flags"
		if groups != nil {
			title = "Other flags"
		}
		groups = append(groups, flagGroup{title: title, names: rest})
	}
	width := 0
	for _, g := range groups {
		for _, name := range g.names {
			width = max(width, len(h.flagHead(fl.Lookup(name))))
		}
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, name := range g.names {
			f := fl.Lookup(name)
			_, text := flag.UnquoteUsage(f)
			if d := f.DefValue; d != "" && d != "0" && d != "false" && d != "[]" {
				text += fmt.Sprintf(" (default %s)", d)
			}
			text = strings.ReplaceAll(text, "\n", "\n"+strings.Repeat(" ", width+4))
			fmt.Fprintf(w, "  %-*s  %s\n", width, h.flagHead(f), text)
		}
		if g.note != "" {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(g.note, "\n", "\n  "))
		}
	}
	if h.after != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.after, "\n"))
	}
}

// flagHead is "--name TYPE", TYPE from h.types, a `quoted` word of the usage text or else the
// flag's type, upper-cased; a bool flag has none.
func (h commandHelp) flagHead(f *flag.Flag) string {
	if t, ok := h.types[f.Name]; ok {
		return "--" + f.Name + " " + t
	}
	kind, _ := flag.UnquoteUsage(f)
	switch kind {
	case "":
		return "--" + f.Name
	case "float":
		kind = "number"
	case "int", "uint":
		kind = "n"
	}
	return "--" + f.Name + " " + strings.ToUpper(kind)
}

// etlHelp is `sparkify etl --help`. TestEtlHelp checks that every flag is in exactly one group.
var etlHelp = commandHelp{
	usage: "sparkify etl [flags]",
	about: `Reads the song catalog and the event log, validates every record (the rejected ones go to
_rejected/ with a reason), builds songplays, users, songs, artists and time, and publishes them as
Parquet under the output in one step: a failed or interrupted run leaves the tables as they were.
With no flags it runs the built-in synthetic sample into ./out.

Settings come from flags, then SPARKIFY_* environment variables (SPARKIFY_OUTPUT, ...), then the
--config file (dl.cfg), then defaults.`,
	groups: []flagGroup{
		{title: "Input and output", names: []string{"songs", "logs", "output", "config", "mode"}},
		{title: "Run", names: []string{"incremental", "workers", "max-rejected-ratio", "compression", "no-repair-text",
			"memory-limit", "temp-dir"}},
		{title: "S3", names: []string{"s3-concurrency"},
			note: "Credentials, region and endpoint: [AWS] in dl.cfg (see dl.cfg.example), else the AWS\n" +
				"SDK's usual chain (environment, profiles, instance roles)."},
		{title: "Beam", names: []string{"engine", "runner", "endpoint", "beam-opt"}},
		{title: "Logging and diagnostics", names: []string{"quiet", "verbose", "cpuprofile"}},
	},
	types: map[string]string{"songs": "LOCATION", "logs": "LOCATION", "output": "LOCATION",
		"mode": "LOCAL|S3", "compression": "CODEC", "engine": "local|beam", "runner": "NAME",
		"endpoint": "HOST:PORT", "beam-opt": "NAME=VALUE", "memory-limit": "SIZE", "temp-dir": "DIR"},
	after: `Examples:
  sparkify etl                                    the built-in sample into ./out
  sparkify etl --songs data/song_data --logs data/log_data --output /tmp/lake
  sparkify etl --songs s3://raw/song_data --logs s3://raw/log_data --output s3://lake/v1
  sparkify etl --config dl.cfg --mode S3          locations and credentials from dl.cfg
  sparkify etl --songs s3://raw/song_data --logs s3://raw/log_data --output s3://lake/v1 --incremental
                                                  a daily run: only the files loaded since yesterday
  sparkify etl --engine beam                      the same tables, on Apache Beam (Prism)

Exit status:
  0    published
  1    the run failed (storage, I/O); the tables are as they were
  2    bad flags or configuration
  3    an input is missing, empty or unreadable
  4    too many rejected records (see --max-rejected-ratio and _rejected/)
  5    another run holds the output's lock (see sparkify unlock)
  130  interrupted; nothing was published`,
}

// memoryLimitUsage is --memory-limit's text. The default is computed, so that the help says
// what it is on this machine.
func memoryLimitUsage() string {
	return "memory the local engine may use, such as 8GiB or 1.5GB (8G means 8GiB);\n" +
		"a run's plays past 256 MiB of events, or past the limit, go through --temp-dir\n" +
		"(default: half of this machine's memory, " + gib(config.DefaultMemoryLimit()) + " here)"
}

// tempDirUsage is --temp-dir's text, with the folder os.TempDir gives here.
func tempDirUsage() string {
	return "an existing local folder for the local engine's spill files\n" +
		"(default: the OS temp folder, " + os.TempDir() + " here)"
}

// gib formats n bytes as GiB with at most one decimal: "11.8 GiB", "4 GiB".
func gib(n int64) string {
	s := strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " GiB"
}
