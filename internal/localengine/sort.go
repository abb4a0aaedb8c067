package localengine

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/sparkify/lake/internal/table"
)

// playOrder is a play's sort key (transform.CompareSongplays) and its index: sorting these small
// values, then moving each row once, costs far less than sorting the wide rows themselves.
type playOrder struct {
	startTime, userID, sessionID int64
	item                         int32
	idx                          int32
}

func comparePlayOrder(a, b playOrder) int {
	return cmp.Or(cmp.Compare(a.startTime, b.startTime), cmp.Compare(a.userID, b.userID),
		cmp.Compare(a.sessionID, b.sessionID), cmp.Compare(a.item, b.item))
}

// sortPlays sorts rows in transform.CompareSongplays order with up to workers goroutines: their
// keys are sorted in runs at once, the runs merged pairwise, then the rows moved into place.
func sortPlays(ctx context.Context, rows []table.Songplay, workers int) ([]table.Songplay, error) {
	keys := make([]playOrder, len(rows))
	for i := range rows {
		r := &rows[i]
		keys[i] = playOrder{r.StartTime, r.UserID, r.SessionID, r.ItemInSession, int32(i)}
	}
	n := max(1, min(workers, len(keys)/4096)) // small inputs are not worth the goroutines
	runs := make([][]playOrder, n)
	var wg sync.WaitGroup
	for i := range n {
		runs[i] = keys[i*len(keys)/n : (i+1)*len(keys)/n]
		wg.Go(func() { slices.SortFunc(runs[i], comparePlayOrder) })
	}
	wg.Wait()
	for len(runs) > 1 {
		// Each round of merges takes a fraction of a second at the largest scales: an
		// interrupted run stops between them.
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		next := make([][]playOrder, (len(runs)+1)/2)
		for i := range next {
			if 2*i+1 == len(runs) {
				next[i] = runs[2*i]
				continue
			}
			wg.Go(func() { next[i] = mergeOrders(runs[2*i], runs[2*i+1]) })
		}
		wg.Wait()
		runs = next
	}
	// Put the rows in key order in place, cycle by cycle (rows are wide: a second copy of them
	// would be the largest allocation of the run). A moved row's index is set to -1.
	order := runs[0]
	for i := range order {
		if order[i].idx < 0 {
			continue
		}
		if i%(1<<16) == 0 && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		tmp := rows[i]
		j := i
		for {
			k := int(order[j].idx)
			order[j].idx = -1
			if k == i {
				rows[j] = tmp
				break
			}
			rows[j] = rows[k]
			j = k
		}
	}
	return rows, nil
}

// mergeOrders merges two sorted slices into a new one.
func mergeOrders(a, b []playOrder) []playOrder {
	out := make([]playOrder, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if comparePlayOrder(b[j], a[i]) < 0 {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	return append(append(out, a[i:]...), b[j:]...)
}
