//go:build beam

// The Apache Beam engine and `sparkify worker-pool`, built in with -tags beam. They bring the Beam
// SDK (about 140 MB of binary and 700 more packages to compile), which a local run does not need.

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sparkify/lake/internal/beamengine"
	"github.com/sparkify/lake/internal/config"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/sink"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
)

const beamBuilt = true

var errNoBeam error // unused in this build

// beamWorker runs the Beam worker harness, and does not return, when args are a worker's.
func beamWorker(args []string) {
	if beamengine.IsWorker(args) {
		beamengine.RunWorker()
	}
}

func setBeamFlag(name, value string) error { return beamengine.SetRunnerFlag(name, value) }

func runBeam(ctx context.Context, job config.Job, noRepair bool, songs, logs *source.Root, out storage.Store, logger *slog.Logger) (*report.Manifest, error) {
	a := job.AWS
	return beamengine.Run(ctx, beamengine.Options{
		Config: beamengine.Config{
			Songs: job.Songs, Logs: job.Logs, Output: job.Output,
			S3:           beamengine.S3Config{Region: a.Region, Endpoint: a.Endpoint, PathStyle: a.PathStyle, Concurrency: job.S3Concurrency},
			Sink:         sink.Options{Compression: job.Compression, Version: version()},
			NoRepairText: noRepair,
		},
		SongsRoot: songs, LogsRoot: logs, OutputStore: out,
		Runner: job.Runner, MaxRejectedRatio: job.MaxRejectedRatio, Logger: logger,
	})
}

// usageError reports whether err is the Beam engine's refusal of a bad invocation.
func usageError(err error) bool { return errors.Is(err, beamengine.ErrNoWorkerPool) }
