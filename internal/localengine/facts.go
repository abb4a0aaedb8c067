package localengine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
	"golang.org/x/sync/errgroup"
)

// facts holds the rows of the tables built from the events, sorted.
type facts struct {
	songplays      []table.Songplay
	users          []table.User
	times          []table.Time
	matched        int64
	duplicatePlays int64
}

// buildFacts turns the folded events into the songplays, users and time tables, matching each
// play against the catalog; the shards are turned into rows in parallel.
func buildFacts(ctx context.Context, f *folder, cat *catalog, workers int) (_ *facts, err error) {
	t := &facts{users: make([]table.User, 0, len(f.users))}
	for _, e := range f.users {
		t.users = append(t.users, transform.UserRow(e))
	}
	f.users = nil
	slices.SortFunc(t.users, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })

	// Rows are built per shard in parallel into one slice, then sorted as workers runs in
	// parallel and merged: copying rows is what costs, so they are copied as few times as possible.
	var offsets [foldShards + 1]int
	var seen int64
	for s := range f.shards {
		offsets[s+1] = offsets[s] + len(f.shards[s].plays)
		seen += f.shards[s].seen
	}
	rows := make([]table.Songplay, offsets[foldShards])
	var matched [foldShards]int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for s := range f.shards {
		g.Go(func() error {
			out := rows[offsets[s]:offsets[s]:offsets[s+1]]
			for _, e := range f.shards[s].plays {
				// A shard holds tens of thousands of plays at most scales: checking once per
				// play costs nothing next to the match, and stops an interrupted run at once.
				if gctx.Err() != nil {
					return context.Cause(gctx)
				}
				var match *record.Song
				if m, ok := transform.MatchSong(e, cat.candidates[transform.EventMatchKey(e)]); ok {
					match = &m
					matched[s]++
				}
				out = append(out, transform.SongplayRow(e, match))
			}
			f.shards[s].plays = nil // the last reference to the events: let them go
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for s := range f.shards {
		t.matched += matched[s]
	}
	if t.songplays, err = sortPlays(ctx, rows, workers); err != nil {
		return nil, err
	}
	t.duplicatePlays = seen - int64(len(t.songplays))
	if err := checkUniqueIDs(t.songplays); err != nil {
		return nil, err
	}
	// The plays are in start-time order: the time table is their distinct start times.
	for i := range t.songplays {
		if i%(1<<16) == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if ts := t.songplays[i].StartTime; i == 0 || ts != t.songplays[i-1].StartTime {
			t.times = append(t.times, transform.TimeRow(ts))
		}
	}
	return t, nil
}

// checkUniqueIDs fails if two plays share a songplay_id (see transform.SongplayID).
func checkUniqueIDs(plays []table.Songplay) error {
	ids := make([]int64, len(plays))
	for i := range plays {
		ids[i] = plays[i].SongplayID
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			var keys []string
			for _, p := range plays {
				if p.SongplayID == ids[i] {
					keys = append(keys, fmt.Sprintf("(user %d, session %d, item %d)", p.UserID, p.SessionID, p.ItemInSession))
				}
			}
			return fmt.Errorf("%w: %d for %s", run.ErrDuplicateID, ids[i], strings.Join(keys, " and "))
		}
	}
	return nil
}
