package localengine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

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

	// mode is held shared by every add, and exclusively to start spilling (startSpill).
	mode sync.RWMutex
	// spill is nil while the plays are held in memory. It is atomic so that a block folded once
	// the run spills does not take mode's exclusive side to find out (add).
	spill atomic.Pointer[spiller]
	// budget, when not nil, decides when to spill: after held input bytes' events are folded.
	budget *spillBudget
	held   atomic.Int64
}

func newFolder() *folder {
	f := &folder{seed: maphash.MakeSeed(), users: map[int64]*record.Event{}}
	for i := range f.shards {
		f.shards[i].plays = map[transform.EventKey]*record.Event{}
	}
	return f
}

// add folds events decoded from n bytes of input; the folder keeps pointers into events, unless
// it spills. It may decide to start spilling (see spillBudget).
func (f *folder) add(events []record.Event, n int64) (held bool, err error) {
	if held, err = f.fold(events); err != nil {
		return held, err
	}
	if f.budget == nil || f.spill.Load() != nil || !f.budget.over(f.held.Add(n)) {
		return held, nil
	}
	return held, f.startSpill()
}

// fold folds events into f; held reports that f points into them (it holds its plays and users
// in memory), and that they must not be reused.
func (f *folder) fold(events []record.Event) (held bool, err error) {
	f.mode.RLock()
	defer f.mode.RUnlock()
	if sp := f.spill.Load(); sp != nil {
		return false, f.spillEvents(sp, events)
	}
	var byShard [foldShards][]*record.Event
	users := map[int64]*record.Event{}
	for i := range events {
		e := &events[i]
		foldUser(users, e)
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
	return true, nil
}

// foldUser folds e into users, each user's latest event (transform.LatestUserOf); e may have
// no user.
func foldUser(users map[int64]*record.Event, e *record.Event) {
	if !e.HasUser {
		return
	}
	if prev, ok := users[e.UserID]; ok {
		users[e.UserID] = transform.LatestUserOf(prev, e)
	} else {
		users[e.UserID] = e
	}
}
