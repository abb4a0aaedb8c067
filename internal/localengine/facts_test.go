package localengine

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sparkify/lake/internal/run"
	"github.com/sparkify/lake/internal/table"
	"github.com/sparkify/lake/internal/transform"
)

// TestSortPlays checks that sorting keys and moving rows in place gives exactly the order of
// transform.CompareSongplays, the one every engine must write, whatever the number of workers.
func TestSortPlays(t *testing.T) {
	for _, n := range []int{0, 1, 2, 4095, 4096, 10000, 50001} {
		for _, workers := range []int{1, 2, 3, 8} {
			r := rand.New(rand.NewPCG(uint64(n), uint64(workers)))
			rows := make([]table.Songplay, n)
			for i := range rows {
				// Few distinct values per column, so that ties on the leading columns are common.
				rows[i] = table.Songplay{
					StartTime: r.Int64N(50), UserID: r.Int64N(20), SessionID: r.Int64N(20),
					ItemInSession: int32(i), Location: string(rune('a' + i%26)),
				}
			}
			want := slices.Clone(rows)
			slices.SortFunc(want, func(a, b table.Songplay) int { return transform.CompareSongplays(&a, &b) })
			got, err := sortPlays(context.Background(), rows, workers)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("n=%d workers=%d: sortPlays differs from CompareSongplays order", n, workers)
			}
		}
	}
}

func TestCheckUniqueIDs(t *testing.T) {
	plays := []table.Songplay{{SongplayID: 3, UserID: 1}, {SongplayID: 1, UserID: 2}, {SongplayID: 2, UserID: 3}}
	if err := checkUniqueIDs(plays, rowID, rowKey); err != nil {
		t.Fatalf("distinct ids: %v", err)
	}
	plays = append(plays, table.Songplay{SongplayID: 1, UserID: 4})
	if err := checkUniqueIDs(plays, rowID, rowKey); !errors.Is(err, run.ErrDuplicateID) {
		t.Fatalf("duplicate ids: got %v, want ErrDuplicateID", err)
	}
}

// BenchmarkSortPlays compares sorting keys in parallel runs and moving the rows once against
// sorting the rows themselves, on a million plays.
func BenchmarkSortPlays(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	rows := make([]table.Songplay, 1_000_000)
	for i := range rows {
		rows[i] = table.Songplay{StartTime: r.Int64N(1 << 40), UserID: r.Int64N(1000), SessionID: r.Int64N(1 << 20), ItemInSession: int32(i)}
	}
	work := make([]table.Songplay, len(rows))
	b.Run("keys", func(b *testing.B) {
		for b.Loop() {
			copy(work, rows)
			sortPlays(context.Background(), work, 2)
		}
	})
	b.Run("rows", func(b *testing.B) {
		for b.Loop() {
			copy(work, rows)
			slices.SortFunc(work, func(a, b table.Songplay) int { return transform.CompareSongplays(&a, &b) })
		}
	})
}

// TestSortPlaysStopsWhenCancelled: an interrupted run does not sort a million plays first.
func TestSortPlaysStopsWhenCancelled(t *testing.T) {
	rows := make([]table.Songplay, 100_000)
	for i := range rows {
		rows[i] = table.Songplay{StartTime: int64(len(rows) - i)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sortPlays(ctx, rows, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("sortPlays on a cancelled context: got %v, want context.Canceled", err)
	}
}
