package commit

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

// tree is what a reader sees of a lake, or what a run stages in a folder: object name → body.
type tree map[string]string

// partDir is a folder an incremental run owns, with what it stages there (nothing: the folder
// is removed), or a single object it owns: files then holds the one key "", the object's body.
type partDir struct {
	name  string
	files tree // name below the folder → body; "" is the object named name itself
}

// join names the object n of the run's folder dir; n == "" is dir itself, a unit that is one
// object.
func join(dir, n string) string {
	if n == "" {
		return dir
	}
	return dir + "/" + n
}

// partCase is a lake published by a full run, and an incremental run over it.
type partCase struct {
	name string
	old  tree // published by a full run of its top-level folders
	run  []partDir
}

// incremental replaces month 12, adds a month of a new year, removes month 11 (its year keeps
// other months) and the only month of 2017 (its year folder must go), leaves month 10 and month 1
// alone (month 1 is a sibling whose name month 12 starts with), adds a table that did not exist,
// and replaces state files of two depths.
var incremental = partCase{
	name: "replace, add, remove, untouched",
	old: tree{
		"t/year=2017/month=5/part-0":          "old 2017-5",
		"t/year=2018/month=1/part-0":          "old 1",
		"t/year=2018/month=10/part-0":         "old 10",
		"t/year=2018/month=10/part-1":         "old 10b",
		"t/year=2018/month=11/part-0":         "old 11",
		"t/year=2018/month=12/part-0":         "old 12",
		"t/year=2018/month=12/part-1":         "old 12b",
		"_state/plays/year=2018/month=12/ids": "old ids 12",
		"_state/meta/state.json":              "old meta",
		"other/part-0":                        "old other",
	},
	run: []partDir{
		{"t/year=2018/month=12", tree{"part-0": "new 12"}},
		{"t/year=2019/month=1", tree{"part-0": "new 2019-1"}},
		{"t/year=2018/month=11", nil},
		{"t/year=2017/month=5", nil},
		{"u/year=2018/month=1", tree{"part-0": "new u"}},
		{"_state/plays/year=2018/month=12", tree{"ids": "new ids 12"}},
		{"_state/meta", tree{"state.json": "new meta"}},
	},
}

var partCases = []partCase{
	incremental,
	{
		name: "a partition of a table folder that does not exist yet",
		old:  tree{"t/year=2018/month=1/part-0": "old t"},
		run:  []partDir{{"u/year=2018/month=1", tree{"part-0": "new u", "part-1": "new u1"}}},
	},
	{
		name: "month=1 replaced beside month=12",
		old:  tree{"t/year=2018/month=1/part-0": "old 1", "t/year=2018/month=12/part-0": "old 12", "t/year=2018/month=12/part-9": "old 12b"},
		run:  []partDir{{"t/year=2018/month=1", tree{"part-1": "new 1"}}},
	},
	{
		name: "month=1 removed beside month=12",
		old:  tree{"t/year=2018/month=1/part-0": "old 1", "t/year=2018/month=12/part-0": "old 12"},
		run:  []partDir{{"t/year=2018/month=1", nil}},
	},
	{
		name: "month=1 and month=12 both replaced",
		old:  tree{"t/year=2018/month=1/part-0": "old 1", "t/year=2018/month=12/part-0": "old 12", "t/year=2018/month=2/part-0": "old 2"},
		run:  []partDir{{"t/year=2018/month=1", tree{"part-0": "new 1"}}, {"t/year=2018/month=12", tree{"part-0": "new 12", "part-1": "new 12b"}}},
	},
	{
		name: "the last partition of a table removed",
		old:  tree{"t/year=2018/month=1/part-0": "old 1", "other/part-0": "old other"},
		run:  []partDir{{"t/year=2018/month=1", nil}},
	},
	{
		name: "whole tables beside partitions",
		old:  tree{"t/year=2018/month=1/part-0": "old 1", "users/part-0": "old users", "_rejected/r.jsonl": "old rejects"},
		run:  []partDir{{"users", tree{"part-0": "new users"}}, {"_rejected", nil}, {"t/year=2018/month=2", tree{"part-0": "new 2"}}},
	},
}

// wantOld and wantNew are what a reader must see with the old run published, and with the new
// one published over it.
func (c partCase) wantOld() tree {
	w := maps.Clone(c.old)
	w[ManifestFile], w[SuccessFile] = string(manifestOf("old")), ""
	return w
}

func (c partCase) wantNew() tree {
	w := tree{ManifestFile: string(manifestOf("new")), SuccessFile: ""}
	for n, b := range c.old {
		if c.owner(n) == "" {
			w[n] = b
		}
	}
	for _, d := range c.run {
		for n, b := range d.files {
			w[join(d.name, n)] = b
		}
	}
	return w
}

// owner returns the folder of the run that holds name, "" if none.
func (c partCase) owner(name string) string {
	for _, d := range c.run {
		if under(name, d.name) {
			return d.name
		}
	}
	return ""
}

// untouched are the published objects that the run does not own.
func (c partCase) untouched() []string {
	var out []string
	for n := range c.old {
		if c.owner(n) == "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// publishOld publishes c.old as a full run "old" of its top-level folders, and stages the
// incremental run "new".
func (c partCase) publishOld(t *testing.T, st storage.Store) []Dir {
	t.Helper()
	ctx := context.Background()
	var dirs []Dir
	for n, b := range c.old {
		top, _, _ := strings.Cut(n, "/")
		i := slices.IndexFunc(dirs, func(d Dir) bool { return d.Name == top })
		if i < 0 {
			i = len(dirs)
			dirs = append(dirs, Dir{Name: top})
		}
		if err := storage.WriteFile(ctx, st, Staging("old")+"/"+n, []byte(b)); err != nil {
			t.Fatal(err)
		}
		dirs[i].Files++
		dirs[i].Bytes += int64(len(b))
	}
	if _, err := Publish(ctx, st, "old", dirs, manifestOf("old")); err != nil {
		t.Fatal(err)
	}
	if got := published(t, st); !maps.Equal(got, c.wantOld()) {
		t.Fatalf("after the full run: %v", got)
	}
	var run []Dir
	for _, d := range c.run {
		dir := Dir{Name: d.name}
		for n, b := range d.files {
			if err := storage.WriteFile(ctx, st, Staging("new")+"/"+join(d.name, n), []byte(b)); err != nil {
				t.Fatal(err)
			}
			dir.Files++
			dir.Bytes += int64(len(b))
		}
		run = append(run, dir)
	}
	return run
}

// kinds are the stores a partition publish is checked on: a real folder, and the memory store
// as a disk and as an object store (no Move: replaceByCopy). root is the local folder, if any.
var kinds = []struct {
	name string
	open func(t *testing.T) (st storage.Store, root string)
}{
	{"local", func(t *testing.T) (storage.Store, string) {
		l, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l, l.Root()
	}},
	{"rename store", func(*testing.T) (storage.Store, string) { return storage.NewMemory(storage.MemoryOptions{}), "" }},
	{"object store", func(*testing.T) (storage.Store, string) {
		return storage.NewMemory(storage.MemoryOptions{ObjectStore: true}), ""
	}},
}

// emptyFolders returns the folders below root that hold nothing, which a full run never leaves.
func emptyFolders(t *testing.T, root string) []string {
	t.Helper()
	if root == "" {
		return nil
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() || p == root {
			return err
		}
		if ents, err := os.ReadDir(p); err != nil || len(ents) == 0 {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// touching returns the names that the logged mutating calls of f act on: created, removed (with
// all below), moved from or to, copied to.
func touching(f *storagetest.Faulty) []string {
	var out []string
	for _, e := range f.Log() {
		op, names, _ := strings.Cut(strings.TrimSuffix(e, " (failed)"), " ")
		switch op {
		case "create", "close", "remove":
			out = append(out, names)
		case "move", "copy":
			out = append(out, strings.Fields(names)...)
		}
	}
	return out
}

// TestPublishPartitions publishes incremental runs that own partitions, not whole tables: the
// output must be exactly the old tables with the run's partitions replaced, added or removed,
// the partitions it does not own must not be written to at all (on S3 they are not copied
// again), and no folder may be left empty where a full run would have left none.
func TestPublishPartitions(t *testing.T) {
	for _, k := range kinds {
		for _, c := range partCases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				st, root := k.open(t)
				checkPartialPublish(t, st, root, c)
			})
		}
	}
}

// checkPartialPublish publishes c over its old lake in st (root: its local folder, if any),
// checks the outcome as TestPublishPartitions describes, and returns the store it published
// through, whose log holds the publish's calls. The objects the run does not own must keep their
// version (a memory store's write counter, a file's modification time), so that a copy of one
// over itself counts as a write, and on a disk be the same file.
func checkPartialPublish(t *testing.T, st storage.Store, root string, c partCase) *storagetest.Faulty {
	t.Helper()
	ctx := context.Background()
	dirs := c.publishOld(t, st)
	before := map[string]os.FileInfo{}
	versions := map[string]string{}
	for _, n := range c.untouched() {
		o, err := st.Stat(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		versions[n] = o.Version
		if root != "" {
			fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(n)))
			if err != nil {
				t.Fatal(err)
			}
			before[n] = fi
		}
	}
	f := storagetest.NewFaulty(st, 0) // counts and logs, never fails
	if committed, err := Publish(ctx, f, "new", dirs, manifestOf("new")); err != nil || !committed {
		t.Fatalf("publish: committed=%v err=%v", committed, err)
	}
	if got := published(t, st); !maps.Equal(got, c.wantNew()) {
		t.Errorf("published:\n got %v\nwant %v", got, c.wantNew())
	}
	for _, n := range c.untouched() {
		for _, x := range touching(f) {
			if under(n, x) || under(x, n) {
				t.Errorf("untouched %s was written through %q", n, x)
			}
		}
		if o, err := st.Stat(ctx, n); err != nil || o.Version != versions[n] {
			t.Errorf("untouched %s was rewritten: version %q, was %q (%v)", n, o.Version, versions[n], err)
		}
		if fi := before[n]; fi != nil {
			now, err := os.Lstat(filepath.Join(root, filepath.FromSlash(n)))
			if err != nil || !os.SameFile(fi, now) || !now.ModTime().Equal(fi.ModTime()) {
				t.Errorf("untouched %s is not the same file: %v", n, err)
			}
		}
	}
	if e := emptyFolders(t, root); len(e) > 0 {
		t.Errorf("empty folders left: %v", e)
	}
	if ok, _ := storage.Exists(ctx, st, StagingDir); ok {
		t.Error("staging left")
	}
	return f
}

// TestPublishPartitionsCrashMatrix is TestPublishCrashMatrix for a run that owns partitions:
// the Nth mutating call of the publish fails, for every N, then the recovery runs, itself failed
// at its Mth call for every M (then run again whole), as the next run would. Afterwards the
// output must be exactly the old lake or exactly the new one, as the commit marker says; the
// partitions the run does not own must be there, unchanged, at every point; and on a disk each
// partition is at every point whole, old or new or absent, never a mix.
func TestPublishPartitionsCrashMatrix(t *testing.T) {
	partialCrashMatrix(t, incremental)
}

// partialCrashMatrix runs the crash matrix of TestPublishPartitionsCrashMatrix for the run of c,
// on every kind of store.
func partialCrashMatrix(t *testing.T, c partCase) {
	ctx := context.Background()
	for _, k := range kinds {
		for _, mode := range []struct {
			name string
			opts []storagetest.FaultyOption
		}{{"fails", nil}, {"fails after its effect", []storagetest.FaultyOption{storagetest.FailAfterEffect()}}} {
			t.Run(k.name+"/"+mode.name, func(t *testing.T) {
				// check looks at the output after a failure, and after the recovery (final).
				check := func(t *testing.T, st storage.Store, root string, committed, final bool) {
					t.Helper()
					got := published(t, st)
					for _, n := range c.untouched() {
						if got[n] != c.old[n] {
							t.Fatalf("untouched %s holds %q, want %q", n, got[n], c.old[n])
						}
					}
					if !final {
						if root != "" || k.name == "rename store" {
							for _, d := range c.run {
								if s := partitionOf(got, c, d); s == "a mix" {
									t.Errorf("while interrupted, %s is a mix of the two runs", d.name)
								}
							}
						}
						return
					}
					switch {
					case maps.Equal(got, c.wantNew()):
						if !committed {
							t.Errorf("published although Publish said it did not commit")
						}
					case maps.Equal(got, c.wantOld()):
						if committed {
							t.Errorf("Publish said committed, yet recovery kept the old lake")
						}
					default:
						t.Fatalf("after recovery the output is neither run: %v", got)
					}
					if e := emptyFolders(t, root); len(e) > 0 {
						t.Errorf("empty folders left: %v", e)
					}
					if ok, _ := storage.Exists(ctx, st, StagingDir); ok {
						t.Errorf("staging left after recovery")
					}
				}
				// failPublish sets up the lake and publishes with its nth call failed.
				failPublish := func(t *testing.T, n int) (st storage.Store, root string, f *storagetest.Faulty, committed bool) {
					st, root = k.open(t)
					dirs := c.publishOld(t, st)
					f = storagetest.NewFaulty(st, n, mode.opts...)
					committed, err := Publish(ctx, f, "new", dirs, manifestOf("new"))
					if f.Injected() > 0 && !errors.Is(err, storagetest.ErrInjected) {
						t.Fatalf("n=%d: got %v, want the injected fault", n, err)
					}
					if f.Injected() == 0 && (err != nil || !committed) {
						t.Fatalf("n=%d: publish without a fault: committed=%v err=%v", n, committed, err)
					}
					return st, root, f, committed
				}
				points, firstCommitted := 0, false
				for n := 1; ; n++ {
					st, root, f, committed := failPublish(t, n)
					if f.Injected() == 0 {
						check(t, st, root, true, true)
						if n < 10 {
							t.Fatalf("only %d mutating calls: the matrix tested nothing", n)
						}
						t.Logf("%d publish crash points, %d in all", n-1, points)
						return
					}
					points++
					check(t, st, root, committed, false)
					if !committed {
						if err := Discard(ctx, st, "new"); err != nil {
							t.Fatal(err)
						}
					}
					// The recovery of this very state, failed at every call: the publish is run
					// again up to the same failure for each. On a disk, where each run costs a
					// few syncs of the file system, only for the first state past the marker.
					full := root == "" || (committed && !firstCommitted)
					firstCommitted = firstCommitted || committed
					if !full {
						if _, err := Recover(ctx, st); err != nil {
							t.Fatalf("n=%d: recover: %v", n, err)
						}
						check(t, st, root, committed, true)
						continue
					}
					for m := 1; ; m++ {
						if m > 1 {
							st, root, _, _ = failPublish(t, n)
							if !committed {
								if err := Discard(ctx, st, "new"); err != nil {
									t.Fatal(err)
								}
							}
						}
						rf := storagetest.NewFaulty(st, m, mode.opts...)
						_, err := Recover(ctx, rf)
						if rf.Injected() == 0 {
							if err != nil {
								t.Fatalf("n=%d: recover: %v", n, err)
							}
							check(t, st, root, committed, true)
							break
						}
						points++
						if !errors.Is(err, storagetest.ErrInjected) {
							t.Fatalf("n=%d m=%d: recover: got %v, want the injected fault", n, m, err)
						}
						check(t, st, root, committed, false)
						if _, err := Recover(ctx, st); err != nil {
							t.Fatalf("n=%d m=%d: second recovery: %v", n, m, err)
						}
						check(t, st, root, committed, true)
					}
				}
			})
		}
	}
}

// partitionOf tells whether the published objects of the run's folder d are the old run's, the
// new run's (absent, for a folder it removes), or a mix.
func partitionOf(got tree, c partCase, d partDir) string {
	have, was, will := tree{}, tree{}, tree{}
	for n, b := range got {
		if under(n, d.name) {
			have[n] = b
		}
	}
	for n, b := range c.old {
		if under(n, d.name) {
			was[n] = b
		}
	}
	for n, b := range d.files {
		will[join(d.name, n)] = b
	}
	switch {
	case len(have) == 0:
		return "absent"
	case maps.Equal(have, will):
		return "new"
	case maps.Equal(have, was):
		return "old"
	}
	return "a mix"
}

// TestPublishRejectsBadDirs: names that are not plain relative paths, that the commit uses
// itself, or of which one holds another (publishing songs would carry songs/year=2000 along)
// are refused before anything is written.
func TestPublishRejectsBadDirs(t *testing.T) {
	for _, c := range []struct {
		name  string
		dirs  []string
		quote string // in the error
	}{
		{"a folder and a partition of it", []string{"songs", "songs/year=2000"}, `"songs" and "songs/year=2000" overlap`},
		{"a partition and a deeper one", []string{"x", "songs/year=2000/artist_id=AR1", "songs/year=2000"}, "overlap"},
		{"twice the same", []string{"songs/year=2000", "songs/year=2000"}, "twice"},
		{"dot dot", []string{"songs/../users"}, `"songs/../users"`},
		{"dot", []string{"songs/./year=2000"}, `"songs/./year=2000"`},
		{"an empty segment", []string{"songs//year=2000"}, `"songs//year=2000"`},
		{"a leading slash", []string{"/songs"}, `"/songs"`},
		{"a trailing slash", []string{"songs/"}, `"songs/"`},
		{"empty", []string{""}, "empty name"},
		{"the staging", []string{"_staging/x"}, "_staging"},
		{"bookkeeping", []string{"_old/songs"}, "_old"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := storagetest.NewFaulty(storage.NewMemory(storage.MemoryOptions{}), 0)
			var dirs []Dir
			for _, n := range c.dirs {
				dirs = append(dirs, Dir{Name: n})
			}
			committed, err := Publish(context.Background(), f, "new", dirs, manifestOf("new"))
			if err == nil || committed || !strings.Contains(err.Error(), c.quote) {
				t.Fatalf("got committed=%v err=%v, want an error with %s", committed, err, c.quote)
			}
			if f.Calls() > 0 {
				t.Errorf("wrote before refusing: %v", f.Log())
			}
		})
	}
}

// TestVerifyStagingBySegment: a staged object counts for the folder it is in, not for a sibling
// whose name its own starts with (month=1 and month=12), and not for a folder of the run it is
// not in.
func TestVerifyStagingBySegment(t *testing.T) {
	ctx := context.Background()
	st := storage.NewMemory(storage.MemoryOptions{ObjectStore: true})
	stg := Staging("new")
	writeFiles(t, st, stg, map[string]string{
		"t/year=2018/month=1/part-0":  "a",
		"t/year=2018/month=12/part-0": "bb",
		"t/year=2018/month=12/part-1": "ccc",
		"t/year=2018/month=2/part-0":  "dddd", // staged, but not in the run's folders
		ManifestFile:                  "{}",
	})
	for _, c := range []struct {
		dirs []Dir
		ok   bool
	}{
		{[]Dir{{Name: "t/year=2018/month=1", Files: 1, Bytes: 1}}, true},
		{[]Dir{{Name: "t/year=2018/month=12", Files: 2, Bytes: 5}}, true},
		{[]Dir{{Name: "t/year=2018/month=1", Files: 1, Bytes: 1}, {Name: "t/year=2018/month=12", Files: 2, Bytes: 5}, {Name: "t/year=2018/month=3"}}, true},
		{[]Dir{{Name: "t/year=2018/month=1", Files: 3, Bytes: 6}}, false}, // month=12's files are not month=1's
		{[]Dir{{Name: "t/year=2018/month=3"}, {Name: "t/year=2018/month=1"}}, false},
	} {
		err := verifyStaging(ctx, st, stg, c.dirs)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrStagingChanged)) {
			t.Errorf("%+v: got %v, want ok=%v", c.dirs, err, c.ok)
		}
	}
}

// TestRecoverOldMarker: a marker written before partitions existed (top-level folders, no
// contents) is still rolled forward.
func TestRecoverOldMarker(t *testing.T) {
	ctx := context.Background()
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			st := storage.NewMemory(fl.opts)
			for n, b := range map[string]string{
				"users/part-0":                       "old users",
				"_rejected/r.jsonl":                  "old rejects",
				Staging("new") + "/users/part-1":     "new users",
				Staging("new") + "/" + ManifestFile:  "{}",
				Staging("new") + "/" + markerFile:    `{"run_id":"new","dirs":["users","_rejected"],"staged":["users"]}`,
				Staging("new") + "/" + "_stats.json": "{}",
			} {
				if err := storage.WriteFile(ctx, st, n, []byte(b)); err != nil {
					t.Fatal(err)
				}
			}
			rec, err := Recover(ctx, st)
			if err != nil || !slices.Equal(rec.RolledForward, []string{"new"}) {
				t.Fatalf("recover: %+v %v", rec, err)
			}
			if got, want := published(t, st), map[string]string{"users/part-1": "new users", ManifestFile: "{}", SuccessFile: ""}; !maps.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// writeFiles writes each name (below dir) with its content.
func writeFiles(t *testing.T, st storage.Store, dir string, files map[string]string) {
	t.Helper()
	for n, b := range files {
		if err := storage.WriteFile(context.Background(), st, dir+"/"+n, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
}
