package localengine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	events   []record.Event
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
// outcome does not depend on scheduling; done, if not nil, is called on each file's result as
// soon as it is decoded, from the worker that decoded it.
func readFiles(ctx context.Context, o Options, log *slog.Logger, root *source.Root, l source.Listing,
	decodeFile decodeFunc, done func(*fileResult),
) (res []fileResult, st report.Input, err error) {
	res = make([]fileResult, len(l.Files))
	var nbytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// Twice the workers: while some decode, the others wait for the disk (cold files) or network.
	g.SetLimit(storage.Concurrency(root.Store, 2*o.Workers))
	for i, f := range l.Files {
		g.Go(func() error {
			d := decoders.Get().(*decode.Decoder)
			d.MaxTS, d.NoRepair, d.Repaired = o.maxTS, o.NoRepairText, decode.Repairs{}
			size, err := decodeFile(gctx, d, root, f, &res[i])
			res[i].repaired = d.Repaired
			decoders.Put(d)
			if err != nil {
				return err
			}
			if done != nil {
				done(&res[i])
			}
			nbytes.Add(size)
			o.Progress.FilesDone.Add(1)
			o.Progress.BytesDone.Add(f.Size)
			log.Debug("decoded", "file", root.Store.Location(f.Name), "bytes", size,
				"records", len(res[i].songs)+len(res[i].events), "rejected", len(res[i].rejects))
			return nil
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
		st.Kept += int64(len(r.songs) + len(r.events))
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

// decodeEvents streams a log file through the decoder, a block of lines at a time.
func decodeEvents(ctx context.Context, d *decode.Decoder, root *source.Root, f source.File, res *fileResult) (int64, error) {
	emit := func(e record.Event) { res.events = append(res.events, e) }
	rej := func(r *record.Reject) { res.rejects = append(res.rejects, r) }
	// One event per line at most: each block's events go to a slice sized for its lines, so that
	// no slice of these large structs is copied again and again as it grows, or made larger than
	// needed. A file of several blocks has its slices joined once at the end.
	var blocks [][]record.Event
	size, err := root.EventLines(ctx, f, func(b source.Block) {
		res.events = make([]record.Event, 0, b.Lines+1)
		d.EventLines(f.Path, b.Data, b.FirstLine, b.Offset, emit, rej)
		blocks = append(blocks, res.events)
	}, rej)
	if len(blocks) > 1 {
		res.events = slices.Concat(blocks...)
	}
	return size, err
}
