//go:build !beam

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sparkify/lake/internal/config"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
)

// beamBuilt tells whether this binary has the Apache Beam engine (go build -tags beam).
const beamBuilt = false

var errNoBeam = errors.New("this sparkify is built without Apache Beam: build it with `go build -tags beam ./cmd/sparkify` (see docs/BEAM.md)")

func beamWorker([]string) {}

func setBeamFlag(string, string) error { return errNoBeam }

func runBeam(context.Context, config.Job, bool, *source.Root, *source.Root, storage.Store, *slog.Logger) (*report.Manifest, error) {
	return nil, errNoBeam
}

func workerPool(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "sparkify worker-pool:", errNoBeam)
	return exitUsage
}

func usageError(error) bool { return false }
