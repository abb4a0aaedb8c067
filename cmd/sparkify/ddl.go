package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sparkify/lake/internal/ddl"
)

// ddlCommand prints the statements that register a lake's tables in an analyst's tool.
func ddlCommand(args []string, stdout, stderr io.Writer) int {
	of := newOutputFlags("ddl", "Prints the statements that register the five tables of the lake at the output location\nin Athena (Glue), Spark SQL, Trino (Hive connector) or DuckDB.", stderr)
	dialect := of.fl.String("dialect", "", "the tool: "+strings.Join(ddl.Dialects, ", ")+" (required)")
	of.help.types["dialect"] = "DIALECT"
	of.help.after = `Examples:
  sparkify ddl --dialect duckdb > views.sql && duckdb -init views.sql
  sparkify ddl --dialect athena --output s3://lake/v1     then run it in the Athena console`
	job, code, ok := of.load(args, stdout, stderr)
	if !ok {
		return code
	}
	if *dialect == "" {
		fmt.Fprintf(stderr, "sparkify ddl: --dialect is required (%s)\n", strings.Join(ddl.Dialects, ", "))
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
