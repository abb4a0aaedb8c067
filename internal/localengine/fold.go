package localengine

import (
	"hash/maphash"
	"sync"

	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/transform"
)

// foldShards is the number of independently locked parts of the play fold: enough that the
// workers folding decoded files rarely wait for each other.
const foldShards = 64

// folder deduplicates plays and picks each user's latest event while files are still being
// decoded, so that the work is spread over the decoding workers instead of following them. Plays
// are sharded by key; each file's plays are grouped by shard first, so each shard is locked once
// per file.
type folder struct {
	seed   maphash.Seed
	shards [foldShards]struct {
		mu    sync.Mutex
		plays map[transform.EventKey]*record.Event
		seen  int64 // plays folded, duplicates included
	}
	usersMu sync.Mutex
	users   map[int64]*record.Event
}

func newFolder() *folder {
	f := &folder{seed: maphash.MakeSeed(), users: map[int64]*record.Event{}}
	for i := range f.shards {
		f.shards[i].plays = map[transform.EventKey]*record.Event{}
	}
	return f
}

// add folds one file's events; the folder keeps pointers into events.
func (f *folder) add(events []record.Event) {
	var byShard [foldShards][]*record.Event
	users := map[int64]*record.Event{}
	for i := range events {
		e := &events[i]
		if e.HasUser {
			if prev, ok := users[e.UserID]; ok {
				users[e.UserID] = transform.LatestUserOf(prev, e)
			} else {
				users[e.UserID] = e
			}
		}
		if e.IsSongPlay() {
			s := maphash.Comparable(f.seed, transform.KeyOf(e)) % foldShards
			byShard[s] = append(byShard[s], e)
		}
	}
	for s, es := range byShard {
		if len(es) == 0 {
			continue
		}
		sh := &f.shards[s]
		sh.mu.Lock()
		for _, e := range es {
			k := transform.KeyOf(e)
			if prev, ok := sh.plays[k]; ok {
				sh.plays[k] = transform.EarlierEventOf(prev, e)
			} else {
				sh.plays[k] = e
			}
		}
		sh.seen += int64(len(es))
		sh.mu.Unlock()
	}
	f.usersMu.Lock()
	for id, e := range users {
		if prev, ok := f.users[id]; ok {
			f.users[id] = transform.LatestUserOf(prev, e)
		} else {
			f.users[id] = e
		}
	}
	f.usersMu.Unlock()
}
