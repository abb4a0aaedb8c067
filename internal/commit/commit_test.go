package commit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

// A run's content: folder → object name below it → bytes.
type runContent map[string]map[string]string

var (
	oldRun = runContent{
		"songplays": {"year=2018/month=11/part-00000.parquet": "old plays 11", "year=2018/month=12/part-00000.parquet": "old plays 12"},
		"users":     {"part-00000.parquet": "old users", "part-00001.parquet": "users in both runs"},
		"_rejected": {"rejected.jsonl": "old rejects"},
	}
	newRun = runContent{
		"songplays": {"year=2018/month=11/part-00000.parquet": "new plays 11", "year=2019/month=01/part-00000.parquet": "new plays 01"},
		"users":     {"part-00000.parquet": "new users", "part-00001.parquet": "users in both runs"},
		"artists":   {"part-00000.parquet": "new artists"},
	}
	owned = []string{"songplays", "users", "artists", "_rejected"}
)

// stage writes a run's content under its staging folder and returns the folders to publish.
func stage(t *testing.T, st storage.Store, id string, c runContent) []Dir {
	t.Helper()
	var dirs []Dir
	for _, d := range owned {
		dir := Dir{Name: d}
		for name, body := range c[d] {
			if err := storage.WriteFile(context.Background(), st, Staging(id)+"/"+d+"/"+name, []byte(body)); err != nil {
				t.Fatal(err)
			}
			dir.Files++
			dir.Bytes += int64(len(body))
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

func manifestOf(id string) []byte { return []byte(`{"run_id":"` + id + `"}`) }

// published reads what a reader sees: every object outside the staging.
func published(t *testing.T, st storage.Store) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := st.List(context.Background(), "", func(o storage.Object) error {
		if strings.HasPrefix(o.Name, StagingDir+"/") {
			return nil
		}
		b, err := storage.ReadFile(context.Background(), st, o.Name)
		got[o.Name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// want is what a reader must see once the output holds exactly run c.
func want(id string, c runContent) map[string]string {
	w := map[string]string{ManifestFile: string(manifestOf(id)), SuccessFile: ""}
	for d, files := range c {
		for name, body := range files {
			w[d+"/"+name] = body
		}
	}
	return w
}

// tableOf tells whether the objects of table d in got are entirely those of old, entirely those
// of new, or a mix.
func tableOf(got map[string]string, d string) string {
	pick := func(c runContent) map[string]string {
		m := map[string]string{}
		for name, body := range c[d] {
			m[d+"/"+name] = body
		}
		return m
	}
	have := map[string]string{}
	for k, v := range got {
		if strings.HasPrefix(k, d+"/") {
			have[k] = v
		}
	}
	switch {
	case len(have) == 0 && (len(pick(newRun)) > 0 || len(pick(oldRun)) > 0):
		return "absent"
	case maps.Equal(have, pick(newRun)):
		return "new"
	case maps.Equal(have, pick(oldRun)):
		return "old"
	}
	return fmt.Sprintf("a mix: %v", slices.Sorted(maps.Keys(have)))
}

var flavours = []struct {
	name string
	opts storage.MemoryOptions
}{
	{"rename store", storage.MemoryOptions{}},
	{"object store", storage.MemoryOptions{ObjectStore: true}},
}

// oldLake returns a store with oldRun published and newRun staged as run "new".
func oldLake(t *testing.T, opts storage.MemoryOptions) (*storage.Memory, []Dir) {
	t.Helper()
	st := storage.NewMemory(opts)
	if _, err := Publish(context.Background(), st, "old", stage(t, st, "old", oldRun), manifestOf("old")); err != nil {
		t.Fatal(err)
	}
	if got := published(t, st); !maps.Equal(got, want("old", oldRun)) {
		t.Fatalf("after the first publish: %v", got)
	}
	return st, stage(t, st, "new", newRun)
}

// TestPublishCrashMatrix fails the Nth mutating storage call of a publish, for every N, then
// recovers (as the next run does) and checks that every table is entirely old or entirely new,
// all of them on the same side, and that the manifest and _SUCCESS match: the run is published
// exactly when its commit marker had been written.
func TestPublishCrashMatrix(t *testing.T) {
	for _, fl := range flavours {
		for _, mode := range []struct {
			name string
			opts []storagetest.FaultyOption
		}{{"fails", nil}, {"fails after its effect", []storagetest.FaultyOption{storagetest.FailAfterEffect()}}} {
			t.Run(fl.name+"/"+mode.name, func(t *testing.T) {
				for n := 1; ; n++ {
					st, dirs := oldLake(t, fl.opts)
					f := storagetest.NewFaulty(st, n, mode.opts...)
					committed, err := Publish(context.Background(), f, "new", dirs, manifestOf("new"))
					if f.Injected() == 0 {
						if err != nil || !committed {
							t.Fatalf("n=%d: publish without a fault: committed=%v err=%v", n, committed, err)
						}
						if got := published(t, st); !maps.Equal(got, want("new", newRun)) {
							t.Fatalf("published: %v", got)
						}
						if n < 10 {
							t.Fatalf("only %d mutating calls: the matrix tested nothing", n)
						}
						t.Logf("%d crash points", n-1)
						return
					}
					if !errors.Is(err, storagetest.ErrInjected) {
						t.Fatalf("n=%d: got %v, want the injected fault", n, err)
					}
					// On a rename store, readers during the failure see each table whole (old or
					// new) or missing between its two renames, never a mix within a table. An
					// object store holds a mix while the copies run: S3 has no rename.
					if !fl.opts.ObjectStore {
						mid := published(t, st)
						for _, d := range owned {
							if s := tableOf(mid, d); strings.HasPrefix(s, "a mix") {
								t.Errorf("n=%d: while interrupted, table %s is %s", n, d, s)
							}
						}
					}
					// As run.End does: a run that did not commit removes its staging, with a store
					// that works again (a store that is still failing leaves it to the recovery).
					if !committed {
						if err := Discard(context.Background(), st, "new"); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := Recover(context.Background(), st); err != nil {
						t.Fatalf("n=%d: recover: %v", n, err)
					}
					got := published(t, st)
					switch {
					case maps.Equal(got, want("new", newRun)):
						if !committed {
							t.Errorf("n=%d: published although Publish said it did not commit", n)
						}
					case maps.Equal(got, want("old", oldRun)):
						if committed {
							t.Errorf("n=%d: Publish said committed, yet recovery kept the old tables", n)
						}
					default:
						t.Fatalf("n=%d (calls %v): after recovery the output is neither run: %v", n, f.Log(), got)
					}
					if ok, _ := storage.Exists(context.Background(), st, StagingDir); ok {
						t.Errorf("n=%d: staging left after recovery", n)
					}
				}
			})
		}
	}
}

// TestRecoverCrashMatrix interrupts the recovery itself at every point, after a publish that
// stopped right after its commit marker: recovering again must still publish the run whole.
func TestRecoverCrashMatrix(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			// Find the call that writes the marker, and fail the one after it.
			st, dirs := oldLake(t, fl.opts)
			f := storagetest.NewFaulty(st, 0)
			if _, err := Publish(context.Background(), f, "new", dirs, manifestOf("new")); err != nil {
				t.Fatal(err)
			}
			afterMarker := slices.IndexFunc(f.Log(), func(s string) bool { return strings.HasPrefix(s, "close ") && strings.Contains(s, markerFile) }) + 2
			for m := 1; ; m++ {
				st, dirs := oldLake(t, fl.opts)
				if committed, err := Publish(context.Background(), storagetest.NewFaulty(st, afterMarker), "new", dirs, manifestOf("new")); !committed || err == nil {
					t.Fatalf("publish was to stop after its marker: committed=%v err=%v", committed, err)
				}
				rf := storagetest.NewFaulty(st, m)
				_, err := Recover(context.Background(), rf)
				if rf.Injected() == 0 {
					if err != nil {
						t.Fatal(err)
					}
					break
				}
				if _, err := Recover(context.Background(), st); err != nil {
					t.Fatalf("m=%d: second recovery: %v", m, err)
				}
				if got := published(t, st); !maps.Equal(got, want("new", newRun)) {
					t.Fatalf("m=%d: after an interrupted recovery and another: %v", m, got)
				}
			}
		})
	}
}

// TestPublishRefusesChangedStaging: a staging that lost or gained files since the run wrote them
// (another run's recovery removed it) is not published, and the old tables stay.
func TestPublishRefusesChangedStaging(t *testing.T) {
	for _, change := range []struct {
		name string
		do   func(st storage.Store) error
	}{
		{"a file removed", func(st storage.Store) error {
			return st.RemoveAll(context.Background(), Staging("new")+"/users/part-00000.parquet")
		}},
		{"the staging removed", func(st storage.Store) error { return st.RemoveAll(context.Background(), Staging("new")) }},
		{"a file added", func(st storage.Store) error {
			return storage.WriteFile(context.Background(), st, Staging("new")+"/users/part-00001.parquet", []byte("x"))
		}},
	} {
		t.Run(change.name, func(t *testing.T) {
			st, dirs := oldLake(t, storage.MemoryOptions{})
			if err := change.do(st); err != nil {
				t.Fatal(err)
			}
			committed, err := Publish(context.Background(), st, "new", dirs, manifestOf("new"))
			if !errors.Is(err, ErrStagingChanged) || committed {
				t.Fatalf("got committed=%v err=%v, want ErrStagingChanged", committed, err)
			}
			if got := published(t, st); !maps.Equal(got, want("old", oldRun)) {
				t.Fatalf("old tables changed: %v", got)
			}
		})
	}
}

// TestRollForwardDiscardsVanishedStaging: a committed run whose staging was removed before its
// first move is discarded by recovery rather than published as empty tables.
func TestRollForwardDiscardsVanishedStaging(t *testing.T) {
	st, dirs := oldLake(t, storage.MemoryOptions{})
	f := storagetest.NewFaulty(st, 0)
	if _, err := Publish(context.Background(), f, "new", dirs, manifestOf("new")); err != nil {
		t.Fatal(err)
	}
	afterMarker := slices.IndexFunc(f.Log(), func(s string) bool { return strings.HasPrefix(s, "close ") && strings.Contains(s, markerFile) }) + 2
	st, dirs = oldLake(t, storage.MemoryOptions{})
	if committed, _ := Publish(context.Background(), storagetest.NewFaulty(st, afterMarker), "new", dirs, manifestOf("new")); !committed {
		t.Fatal("publish was to stop after its marker")
	}
	// If the fault hit after the first move had begun, this test cannot apply.
	if ok, _ := storage.Exists(context.Background(), st, Staging("new")+"/"+startedFile); ok {
		t.Skip("the roll-forward had started")
	}
	if err := st.RemoveAll(context.Background(), Staging("new")+"/users"); err != nil {
		t.Fatal(err)
	}
	rec, err := Recover(context.Background(), st)
	if err != nil || !slices.Equal(rec.Discarded, []string{"new"}) {
		t.Fatalf("recover: %+v %v, want the run discarded", rec, err)
	}
	if got := published(t, st); !maps.Equal(got, want("old", oldRun)) {
		t.Fatalf("old tables changed: %v", got)
	}
}

// TestPublishCopiesOnlyChanged: on an object store whose versions hash the content, an object
// the new run staged with the bytes already published is not copied again, and the output still
// ends as exactly the new run; the others are copied.
func TestPublishCopiesOnlyChanged(t *testing.T) {
	st, dirs := oldLake(t, storage.MemoryOptions{ObjectStore: true})
	f := storagetest.NewFaulty(st, 0)
	if _, err := Publish(context.Background(), f, "new", dirs, manifestOf("new")); err != nil {
		t.Fatal(err)
	}
	if got := published(t, st); !maps.Equal(got, want("new", newRun)) {
		t.Fatalf("published: %v", got)
	}
	var copied []string
	for _, c := range f.Log() {
		if strings.HasPrefix(c, "copy ") {
			copied = append(copied, strings.Fields(c)[2])
		}
	}
	slices.Sort(copied)
	wantCopied := []string{
		"artists/part-00000.parquet", "songplays/year=2018/month=11/part-00000.parquet",
		"songplays/year=2019/month=01/part-00000.parquet", "users/part-00000.parquet",
	}
	if !slices.Equal(copied, wantCopied) {
		t.Errorf("copied %v, want %v (users/part-00001.parquet is the same in both runs)", copied, wantCopied)
	}
}
