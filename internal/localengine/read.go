package localengine

import (
	"bytes"
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
	songs   []record.Song
	events  []record.Event
	rejects []*record.Reject
}

var decoders = sync.Pool{New: func() any { return new(decode.Decoder) }}

// list lists both inputs.
func list(ctx context.Context, o Options, log *slog.Logger) (songFiles, logFiles []source.File, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		songFiles, err = o.Songs.List(gctx)
		if err != nil {
			return fmt.Errorf("songs: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		logFiles, err = o.Logs.List(gctx)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	total := sumSizes(songFiles) + sumSizes(logFiles)
	o.Progress.FilesTotal.Store(int64(len(songFiles) + len(logFiles)))
	o.Progress.BytesTotal.Store(total)
	log.Info("listed inputs", "song_files", len(songFiles), "log_files", len(logFiles), "bytes", total)
	return songFiles, logFiles, nil
}

// readFiles reads and decodes files, at most o.Workers at a time (more on remote stores, where
// the wait is the network's). Results are kept per file, in file order, so the outcome does not
// depend on scheduling; done, if not nil, is called on each file's result as soon as it is
// decoded, from the worker that decoded it.
func readFiles(ctx context.Context, o Options, log *slog.Logger, root *source.Root, files []source.File,
	decodeFile func(d *decode.Decoder, f source.File, data []byte, res *fileResult), done func(*fileResult),
) (res []fileResult, st report.Input, err error) {
	res = make([]fileResult, len(files))
	var nbytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// Twice the workers: while some decode, the others wait for the disk (cold files) or network.
	g.SetLimit(storage.Concurrency(root.Store, 2*o.Workers))
	for i, f := range files {
		g.Go(func() error {
			data, err := root.ReadAll(gctx, f)
			if err != nil {
				return err
			}
			d := decoders.Get().(*decode.Decoder)
			decodeFile(d, f, data, &res[i])
			decoders.Put(d)
			if done != nil {
				done(&res[i])
			}
			nbytes.Add(int64(len(data)))
			o.Progress.FilesDone.Add(1)
			o.Progress.BytesDone.Add(f.Size)
			log.Debug("decoded", "file", root.Store.Location(f.Name), "bytes", len(data),
				"records", len(res[i].songs)+len(res[i].events), "rejected", len(res[i].rejects))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, st, err
	}
	st = report.Input{Root: root.Display, Files: len(files), Bytes: nbytes.Load(), RejectedBy: map[string]int64{}}
	for _, r := range res {
		st.Kept += int64(len(r.songs) + len(r.events))
		st.Rejected += int64(len(r.rejects))
		for _, rj := range r.rejects {
			st.RejectedBy[string(rj.Reason)]++
		}
	}
	st.Read = st.Kept + st.Rejected
	return res, st, nil
}

func sumSizes(files []source.File) (n int64) {
	for _, f := range files {
		n += f.Size
	}
	return n
}

func decodeSongs(d *decode.Decoder, f source.File, data []byte, res *fileResult) {
	d.SongFile(f.Path, data,
		func(s record.Song) { res.songs = append(res.songs, s) },
		func(r *record.Reject) { res.rejects = append(res.rejects, r) })
}

func decodeEvents(d *decode.Decoder, f source.File, data []byte, res *fileResult) {
	// One event per line at most: sizing the slice once saves copying a growing slice of large
	// structs again and again.
	res.events = make([]record.Event, 0, bytes.Count(data, []byte{'\n'})+1)
	d.EventLines(f.Path, data, 1, 0,
		func(e record.Event) { res.events = append(res.events, e) },
		func(r *record.Reject) { res.rejects = append(res.rejects, r) })
}
