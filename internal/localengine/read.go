package localengine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/sparkify/lake/internal/decode"
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/storage"
	"golang.org/x/sync/errgroup"
)

// fileResult is what decoding one file produced.
type fileResult struct {
	songs    []record.Song
	kept     int64 // events decoded and folded (events themselves are not kept: see foldEvents)
	rejects  []*record.Reject
	repaired decode.Repairs // text values repaired, by field
}

var decoders = sync.Pool{New: func() any { return new(decode.Decoder) }}

// list lists both inputs: their files, and the entries that are not read, each logged.
func list(ctx context.Context, o Options, log *slog.Logger) (songs, logs source.Listing, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		songs, err = o.Songs.Scan(gctx)
		if err != nil {
			return fmt.Errorf("songs: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		logs, err = o.Logs.Scan(gctx)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return songs, logs, err
	}
	for _, in := range []struct {
		name string
		root *source.Root
		l    source.Listing
	}{{"songs", o.Songs, songs}, {"logs", o.Logs, logs}} {
		for _, s := range in.l.Skipped {
			log.Debug("skipped", "input", in.name, "entry", in.root.Store.Location(s.Name), "reason", s.Reason)
		}
	}
	total := sumSizes(songs.Files) + sumSizes(logs.Files)
	o.Progress.FilesTotal.Store(int64(len(songs.Files) + len(logs.Files)))
	o.Progress.BytesTotal.Store(total)
	log.Info("listed inputs", "song_files", len(songs.Files), "log_files", len(logs.Files), "bytes", total,
		"skipped", len(songs.Skipped)+len(logs.Skipped))
	return songs, logs, nil
}

// decodeFunc reads and decodes one file of root into res with d, and returns the file's
// decompressed size.
type decodeFunc func(ctx context.Context, d *decode.Decoder, root *source.Root, f source.File, res *fileResult) (int64, error)

// readFiles reads and decodes the files of a listing, at most o.Workers at a time (more on remote
// stores, where the wait is the network's). Results are kept per file, in file order, so the
// outcome does not depend on scheduling.
func readFiles(ctx context.Context, o Options, log *slog.Logger, root *source.Root, l source.Listing,
	decodeFile decodeFunc,
) (res []fileResult, st report.Input, err error) {
	res = make([]fileResult, len(l.Files))
	var nbytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// Twice the workers: while some decode, the others wait for the disk (cold files) or network.
	// Each worker takes file after file: a goroutine per file grew a new stack for each through
	// the decoder or the S3 client's deep call chain, 6 % of an S3 run's processor time in
	// copying stacks.
	var next atomic.Int64
	for range min(max(storage.Concurrency(root.Store, 2*o.Workers), 1), len(l.Files)) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(l.Files) {
					return nil
				}
				if gctx.Err() != nil {
					return context.Cause(gctx)
				}
				f := l.Files[i]
				d := decoders.Get().(*decode.Decoder)
				d.MaxTS, d.NoRepair, d.Repaired = o.maxTS, o.NoRepairText, decode.Repairs{}
				size, err := decodeFile(gctx, d, root, f, &res[i])
				res[i].repaired = d.Repaired
				decoders.Put(d)
				if err != nil {
					return err
				}
				nbytes.Add(size)
				o.Progress.FilesDone.Add(1)
				o.Progress.BytesDone.Add(f.Size)
				log.Debug("decoded", "file", root.Store.Location(f.Name), "bytes", size,
					"records", int64(len(res[i].songs))+res[i].kept, "rejected", len(res[i].rejects))
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, st, err
	}
	st = report.Input{Root: root.Display, Files: len(l.Files), Bytes: nbytes.Load(), RejectedBy: map[string]int64{},
		Skipped: l.SkippedBy()}
	var repaired decode.Repairs
	for _, r := range res {
		for f, n := range r.repaired {
			repaired[f] += n
		}
		st.Kept += int64(len(r.songs)) + r.kept
		st.Rejected += int64(len(r.rejects))
		for _, rj := range r.rejects {
			st.RejectedBy[string(rj.Reason)]++
		}
	}
	st.Read = st.Kept + st.Rejected
	if m := repaired.Map(); len(m) > 0 {
		st.Repaired = m
	}
	return res, st, nil
}

func sumSizes(files []source.File) (n int64) {
	for _, f := range files {
		n += f.Size
	}
	return n
}

// decodeSongs reads a song file whole (source caps its size) and decodes it.
func decodeSongs(ctx context.Context, d *decode.Decoder, root *source.Root, f source.File, res *fileResult) (int64, error) {
	rej := func(r *record.Reject) { res.rejects = append(res.rejects, r) }
	data, size, err := root.SongFile(ctx, f, rej)
	if err != nil {
		return size, err
	}
	d.SongFile(f.Path, data, func(s record.Song) { res.songs = append(res.songs, s) }, rej)
	return size, nil
}

// foldEvents returns the decodeFunc of log files: it streams a file through the decoder a block
// of lines at a time, and folds each block's events into fold (which may spill them) as soon as
// they are decoded. No file's events are held whole: a log file's size does not bound the run's
// memory.
func foldEvents(fold *folder) decodeFunc { return streamEvents(fold.add) }

// streamEvents returns the decodeFunc that gives each block's events, and the size of the block's
// lines, to each; it stops at the first error of each. each reports whether it holds on to the
// events; if not, their slice is used again for the next block.
func streamEvents(each func(events []record.Event, n int64) (held bool, err error)) decodeFunc {
	return func(ctx context.Context, d *decode.Decoder, root *source.Root, f source.File, res *fileResult) (int64, error) {
		var events []record.Event
		rej := func(r *record.Reject) { res.rejects = append(res.rejects, r) }
		var eachErr error
		size, err := root.EventLines(ctx, f, func(b source.Block) {
			if eachErr != nil {
				return
			}
			// One event per line at most: sized once, so that no slice of these large structs
			// is copied again and again as it grows. A spilling run folds each block's events
			// into its spill files and keeps none: the slice serves every block of the file,
			// where one per block was a fifth of a run's allocations.
			if cap(events) < b.Lines+1 {
				events = make([]record.Event, 0, b.Lines+1)
			}
			events = d.AppendEvents(events[:0], f.Path, b.Data, b.FirstLine, b.Offset, rej)
			res.kept += int64(len(events))
			var held bool
			held, eachErr = each(events, int64(len(b.Data)))
			if held {
				events = nil
			}
		}, rej)
		if err == nil {
			err = eachErr
		}
		return size, err
	}
}
