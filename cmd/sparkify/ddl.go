package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparkify/lake/internal/config"
	"github.com/sparkify/lake/internal/ddl"
)

// ddlCommand prints the statements that register a lake's tables in an analyst's tool.
func ddlCommand(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("sparkify ddl", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dialect := fl.String("dialect", "", "athena, spark, trino or duckdb (required)")
	cfgPath := fl.String("config", "", "read the output location from this dl.cfg (INI) file; env SPARKIFY_CONFIG")
	fl.String("output", "", `the lake's location: a folder or s3://bucket/prefix (default "out")`)
	fl.String("mode", "", "LOCAL or S3: which section of dl.cfg gives the output (default LOCAL)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sparkify ddl --dialect %s [--output LOCATION]\n\nPrints the statements that register the five tables of the lake at LOCATION.\n\nFlags:\n", strings.Join(ddl.Dialects, "|"))
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "sparkify ddl: unexpected argument %q\n", fl.Arg(0))
		return exitUsage
	}
	if *dialect == "" {
		fmt.Fprintf(stderr, "sparkify ddl: --dialect is required (%s)\n", strings.Join(ddl.Dialects, ", "))
		return exitUsage
	}
	set := map[string]string{}
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "output" || f.Name == "mode" {
			set[f.Name] = f.Value.String()
		}
	})
	job, err := config.Load(config.Inputs{ConfigPath: *cfgPath, Flags: set, LookupEnv: os.LookupEnv})
	if err != nil {
		fmt.Fprintln(stderr, "sparkify ddl:", err)
		return exitUsage
	}
	location := job.Output
	if !strings.Contains(location, "://") {
		// Readers resolve relative paths against their own working folder: give them ours.
		if abs, err := filepath.Abs(location); err == nil {
			location = abs
		}
	}
	if err := ddl.Write(stdout, *dialect, strings.TrimRight(location, "/")); err != nil {
		fmt.Fprintln(stderr, "sparkify ddl:", err)
		return exitUsage
	}
	return exitOK
}
