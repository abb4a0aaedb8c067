package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sparkify/lake/internal/gen"
)

// CountsFile is where gen writes what it generated, beside song_data/ and log_data/.
const countsFile = "counts.json"

func generate(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("sparkify gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "", "the folder to write into (required)")
	songs := fl.Int("songs", 20_000, "songs in the catalog")
	artists := fl.Int("artists", 0, "artists (default: about songs/3)")
	events := fl.Int("events", 1_000_000, "lines of the event log")
	users := fl.Int("users", 1_000, "users")
	days := fl.Int("days", 30, "daily log files")
	start := fl.String("start", "2018-11-01", "the first day (UTC)")
	seed := fl.Uint64("seed", 1, "random seed: the same seed and options write the same bytes")
	match := fl.Float64("match-share", 0.3, "share of plays whose song and artist are in the catalog")
	perFile := fl.Int("songs-per-file", 1, "songs per catalog file (1 as in the real data)")
	dirty := fl.Bool("dirty", false, "inject every kind of bad record the SPEC rejects, and duplicate plays,\nin numbers written to counts.json")
	commandHelp{
		usage: "sparkify gen --out DIR [flags]",
		about: "Writes a synthetic dataset in exactly the real format (song_data/ and log_data/), at any\nscale, and counts.json with what it wrote; the same options and seed write the same bytes.",
		types: map[string]string{"out": "DIR", "start": "YYYY-MM-DD", "match-share": "SHARE"},
		after: `Examples:
  sparkify gen --out /tmp/data                            20,000 songs, 1,000,000 events in 30 days
  sparkify gen --out /tmp/small --songs 2000 --events 100000
  sparkify gen --out /tmp/dirty --dirty                   with every kind of bad record, counted`,
	}.install(fl)
	if code, ok := parseFlags(fl, args, stdout, stderr); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "sparkify gen: --out is required")
		return exitUsage
	}
	day, err := time.Parse("2006-01-02", *start)
	if err != nil {
		fmt.Fprintf(stderr, "sparkify gen: --start %q: want YYYY-MM-DD\n", *start)
		return exitUsage
	}
	opts := gen.Options{Songs: *songs, Artists: *artists, Events: *events, Users: *users, Days: *days,
		Start: day, Seed: *seed, MatchShare: *match, SongsPerFile: *perFile, Dirty: *dirty}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	counts, err := gen.WriteDir(ctx, *out, opts)
	if err != nil {
		fmt.Fprintln(stderr, "sparkify gen:", err)
		if errors.Is(err, gen.ErrOptions) {
			return exitUsage
		}
		return exitFailure
	}
	elapsed := time.Since(began)
	b, _ := json.MarshalIndent(counts, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, countsFile), append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(stderr, "sparkify gen:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote %d songs in %d files and %d events in %d files to %s in %.2fs (%.0f events/s); counts in %s\n",
		counts.Songs, counts.SongFiles, counts.Events, counts.LogFiles, *out, elapsed.Seconds(),
		float64(counts.Events)/elapsed.Seconds(), filepath.Join(*out, countsFile))
	return exitOK
}
