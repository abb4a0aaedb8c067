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
	plays          int64 // the songplays table's rows, written or not
	matched        int64
	duplicatePlays int64
}

// buildFacts turns the folded events into the songplays, users and time tables, matching each
// play against the catalog; the shards are turned into rows in parallel.
func buildFacts(ctx context.Context, f *folder, cat *catalog, workers int) (_ *facts, err error) {
	t := &facts{users: userRows(f)}

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
	t.plays = int64(len(t.songplays))
	t.duplicatePlays = seen - t.plays
	if err := checkUniqueIDs(t.songplays, rowID, rowKey); err != nil {
		return nil, err
	}
	if t.times, err = appendTimes(ctx, nil, t.songplays); err != nil {
		return nil, err
	}
	return t, nil
}

// userRows returns the users table's rows, sorted, and lets the users' events go.
func userRows(f *folder) []table.User {
	users := make([]table.User, 0, len(f.users))
	for _, e := range f.users {
		users = append(users, transform.UserRow(e))
	}
	f.users = nil
	slices.SortFunc(users, func(a, b table.User) int { return transform.CompareUsers(&a, &b) })
	return users
}

// appendTimes appends the time rows of plays, which are in start-time order: their distinct
// start times.
func appendTimes(ctx context.Context, times []table.Time, plays []table.Songplay) ([]table.Time, error) {
	for i := range plays {
		if i%(1<<16) == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if ts := plays[i].StartTime; i == 0 || ts != plays[i-1].StartTime {
			times = append(times, transform.TimeRow(ts))
		}
	}
	return times, nil
}

func rowID(r *table.Songplay) int64 { return r.SongplayID }

func rowKey(r *table.Songplay) transform.EventKey {
	return transform.EventKey{UserID: r.UserID, SessionID: r.SessionID, ItemInSession: r.ItemInSession}
}

// checkUniqueIDs fails if two plays share a songplay_id (see transform.SongplayID); id and key
// give a play's id and key, whatever form the plays have (rows, or an incremental run's keys).
func checkUniqueIDs[T any](plays []T, id func(*T) int64, key func(*T) transform.EventKey) error {
	ids := make([]int64, len(plays))
	for i := range plays {
		ids[i] = id(&plays[i])
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			var keys []transform.EventKey
			for j := range plays {
				if id(&plays[j]) == ids[i] {
					keys = append(keys, key(&plays[j]))
				}
			}
			return duplicateIDError(ids[i], keys)
		}
	}
	return nil
}

// duplicateIDError reports plays of different keys that share the songplay_id id.
func duplicateIDError(id int64, keys []transform.EventKey) error {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = fmt.Sprintf("(user %d, session %d, item %d)", k.UserID, k.SessionID, k.ItemInSession)
	}
	return fmt.Errorf("%w: %d for %s", run.ErrDuplicateID, id, strings.Join(s, " and "))
}
