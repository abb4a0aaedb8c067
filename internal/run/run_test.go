package run

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/commit"
	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

// oneRun stages one table with body and publishes it as run id through st.
func oneRun(ctx context.Context, st storage.Store, id, body string) error {
	r, rctx, err := Begin(ctx, st, Options{ID: id, Command: "etl"})
	if err != nil {
		return err
	}
	err = storage.WriteFile(rctx, st, r.Staging()+"/users/part-00000.parquet", []byte(body))
	if err == nil {
		err = r.Publish(rctx, []commit.Dir{{Name: "users", Files: 1, Bytes: int64(len(body))}, {Name: RejectedDir}}, []byte(`{"run_id":"`+id+`"}`))
	}
	return r.End(rctx, err)
}

// TestRunCrashMatrix fails the Nth mutating storage call of a whole run — lock, recovery,
// staging, publish, release — for every N; the next run must then succeed (a failed lock
// release is not a stuck lock: the holder is this live process, so its lease decides, and the
// test reads it as the next run would: after the lease) and the table must be one run's, whole.
func TestRunCrashMatrix(t *testing.T) {
	ctx := context.Background()
	for n := 1; ; n++ {
		st := storage.NewMemory(storage.MemoryOptions{})
		if err := oneRun(ctx, st, "old", "old users"); err != nil {
			t.Fatal(err)
		}
		f := storagetest.NewFaulty(st, n)
		err := oneRun(ctx, f, "new", "new users")
		if f.Injected() == 0 {
			if err != nil {
				t.Fatalf("n=%d: run without a fault failed: %v", n, err)
			}
			t.Logf("%d crash points", n-1)
			return
		}
		if err == nil {
			// Published; only the release failed, which is logged: the lease runs out.
			if got, _ := storage.ReadFile(ctx, st, "users/part-00000.parquet"); string(got) != "new users" {
				t.Fatalf("n=%d: the run succeeded but users holds %q", n, got)
			}
		} else if !errors.Is(err, storagetest.ErrInjected) {
			t.Fatalf("n=%d: got %v, want the injected fault", n, err)
		}
		got, rerr := storage.ReadFile(ctx, st, "users/part-00000.parquet")
		if rerr == nil && string(got) != "old users" && string(got) != "new users" {
			t.Fatalf("n=%d: users holds %q", n, got)
		}
		// The lock may still be held by the failed run (its release failed); break it as a
		// user would with sparkify unlock --force, then the next run must publish cleanly.
		if _, _, err := Break(ctx, st, true, time.Now()); err != nil {
			t.Fatalf("n=%d: unlock: %v", n, err)
		}
		if err := oneRun(ctx, st, "next", "next users"); err != nil {
			t.Fatalf("n=%d: the run after the failure: %v", n, err)
		}
		if got, err := storage.ReadFile(ctx, st, "users/part-00000.parquet"); err != nil || string(got) != "next users" {
			t.Fatalf("n=%d: after the next run users holds %q (%v)", n, got, err)
		}
	}
}
