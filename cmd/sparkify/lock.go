package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sparkify/lake/internal/config"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/s3"
)

// outputFlags are the flags of the commands that act on an output only (unlock, recover).
type outputFlags struct {
	fl      *flag.FlagSet
	cfgPath *string
	help    commandHelp // a command may add to it before load
}

func newOutputFlags(name, what string, stderr io.Writer) outputFlags {
	fl := flag.NewFlagSet("sparkify "+name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	o := outputFlags{fl: fl}
	o.cfgPath = fl.String("config", "", "read settings from this dl.cfg (INI) `FILE`; env SPARKIFY_CONFIG")
	fl.String("output", "", "the output: a folder or s3://bucket/prefix (default: out)")
	fl.String("mode", "", "the section of dl.cfg that gives the output (default: LOCAL)")
	o.help = commandHelp{usage: "sparkify " + name + " [flags]", about: what,
		types: map[string]string{"output": "LOCATION", "mode": "LOCAL|S3"}}
	return o
}

// load parses args and loads the settings they, the environment and dl.cfg give; code is the
// exit status when ok is false.
func (o outputFlags) load(args []string, stdout, stderr io.Writer) (job config.Job, code int, ok bool) {
	o.help.install(o.fl)
	if code, ok := parseFlags(o.fl, args, stdout, stderr); !ok {
		return job, code, false
	}
	if o.fl.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", o.fl.Name(), o.fl.Arg(0))
		return job, exitUsage, false
	}
	set := map[string]string{}
	o.fl.Visit(func(f *flag.Flag) {
		if f.Name == "output" || f.Name == "mode" {
			set[f.Name] = f.Value.String()
		}
	})
	job, err := config.Load(config.Inputs{ConfigPath: *o.cfgPath, Flags: set, LookupEnv: os.LookupEnv})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", o.fl.Name(), err)
		return job, exitUsage, false
	}
	return job, exitOK, true
}

// open parses args and opens the output store they name; code is the exit status on failure.
func (o outputFlags) open(args []string, stdout, stderr io.Writer) (out storage.Store, code int, ok bool) {
	job, code, ok := o.load(args, stdout, stderr)
	if !ok {
		return nil, code, false
	}
	a := job.AWS
	remote := s3.NewOpener(s3.Config{
		Region: a.Region, Endpoint: a.Endpoint, PathStyle: a.PathStyle,
		AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey.Reveal(), SessionToken: a.SessionToken.Reveal(),
	})
	out, err := source.OpenOutput(job.Output, func(url string) (storage.Store, error) { return remote.Open(context.Background(), url) })
	if err != nil {
		fmt.Fprintf(stderr, "%s: output: %v\n", o.fl.Name(), err)
		return nil, exitUsage, false
	}
	return out, exitOK, true
}

// unlock breaks an output's lock, for a run that died where its lease cannot tell.
func unlock(args []string, stdout, stderr io.Writer) int {
	of := newOutputFlags("unlock", "Releases the lock of an output whose run died. A lock whose holder looks alive\n(its lease is being renewed) is kept unless --force is given.", stderr)
	force := of.fl.Bool("force", false, "break the lock even if its holder looks alive (the holder then fails before publishing)")
	out, code, ok := of.open(args, stdout, stderr)
	if !ok {
		return code
	}
	ctx, stop := interruptible(stderr, "unlock")
	defer stop()
	h, broke, err := run.Break(ctx, out, *force, time.Now())
	switch {
	case errors.Is(err, run.ErrLockLive):
		fmt.Fprintln(stderr, "sparkify unlock:", err)
		return exitLocked
	case err != nil:
		fmt.Fprintln(stderr, "sparkify unlock:", err)
		return exitFailure
	case !broke:
		fmt.Fprintf(stdout, "%s is not locked\n", out.Location(""))
	default:
		fmt.Fprintf(stdout, "released the lock of %s held by %s\n", out.Location(""), h)
	}
	return exitOK
}

// recoverOutput finishes an interrupted publish and removes failed runs' staging, under the lock.
func recoverOutput(args []string, stdout, stderr io.Writer) int {
	of := newOutputFlags("recover", "Finishes publishing a run that was interrupted after its commit point and removes\nthe staging of failed runs, as sparkify etl does before it starts. Cheap: it reads\nno input.", stderr)
	out, code, ok := of.open(args, stdout, stderr)
	if !ok {
		return code
	}
	ctx, stop := interruptible(stderr, "recover")
	defer stop()
	r, rctx, err := run.Begin(ctx, out, run.Options{Command: "recover"})
	if err == nil {
		err = r.End(rctx, nil)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sparkify recover:", err)
		return exitCode(ctx, err)
	}
	switch rec := r.Recovered; {
	case len(rec.RolledForward) == 0 && len(rec.Discarded) == 0:
		fmt.Fprintf(stdout, "%s: nothing to recover\n", out.Location(""))
	default:
		for _, id := range rec.RolledForward {
			fmt.Fprintf(stdout, "finished publishing run %s\n", id)
		}
		for _, id := range rec.Discarded {
			fmt.Fprintf(stdout, "removed the staging of failed run %s\n", id)
		}
	}
	return exitOK
}
