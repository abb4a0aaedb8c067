package commit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sparkify/lake/internal/storage"
	"github.com/sparkify/lake/internal/storage/storagetest"
)

// Units that are single objects: an incremental run that rewrites one day of a month partition
// publishes that day's file, and leaves the month's other files as they are. In partDir, a unit
// that is one object stages tree{"": body}; nil removes it.

const (
	m12 = "songplays/year=2018/month=12"
	m11 = "songplays/year=2018/month=11"
)

// filesAndFolders mixes units of both kinds: in month 12 one day's file is replaced, one added
// and one removed, beside a day (3) whose file name is a string prefix of the replaced one's and
// which is not the run's; month 11 is replaced whole and month 10 removed whole; the only file of
// 2017 is removed, so its month and year folders must go; a day of a year that did not exist is
// added; a whole table is replaced and one removed; and a state file is replaced on its own.
var filesAndFolders = partCase{
	name: "files and folders together",
	old: tree{
		m12 + "/part-2018-12-01-00000.snappy.parquet":                       "old 12-01",
		m12 + "/part-2018-12-3-00000.snappy.parquet":                        "old 12-3",
		m12 + "/part-2018-12-30-00000.snappy.parquet":                       "old 12-30",
		m11 + "/part-2018-11-01-00000.snappy.parquet":                       "old 11-01",
		m11 + "/part-2018-11-02-00000.snappy.parquet":                       "old 11-02",
		"songplays/year=2018/month=10/part-2018-10-01-00000.snappy.parquet": "old 10",
		"songplays/year=2018/month=1/part-2018-01-01-00000.snappy.parquet":  "old 1",
		"songplays/year=2017/month=9/part-2017-09-01-00000.snappy.parquet":  "old 2017-9",
		"users/part-00000.parquet":                                          "old users",
		"_rejected/r.jsonl":                                                 "old rejects",
		"_state/plays/year=2018/month=12/ids":                               "old ids 12",
		"_state/plays/year=2018/month=12/ids.crc":                           "old ids crc",
	},
	run: []partDir{
		{m12 + "/part-2018-12-30-00000.snappy.parquet", tree{"": "new 12-30"}},
		{m12 + "/part-2018-12-31-00000.snappy.parquet", tree{"": "new 12-31"}},
		{m12 + "/part-2018-12-01-00000.snappy.parquet", nil},
		{m11, tree{"part-2018-11-01-00000.snappy.parquet": "new 11-01"}},
		{"songplays/year=2018/month=10", nil},
		{"songplays/year=2017/month=9/part-2017-09-01-00000.snappy.parquet", nil},
		{"songplays/year=2019/month=1/part-2019-01-01-00000.snappy.parquet", tree{"": "new 2019-1"}},
		{"users", tree{"part-00000.parquet": "new users"}},
		{"_rejected", nil},
		{"_state/plays/year=2018/month=12/ids", tree{"": "new ids 12"}},
	},
}

// prefixSiblings are files whose names start with the name of the run's file, and one that the
// run's file name starts with: only the run's file is its, as month=12 is not month=1's.
var prefixSiblings = partCase{
	name: "string-prefix siblings replaced and removed",
	old: tree{
		"t/m=12/part-3":       "old 3",
		"t/m=12/part-30":      "old 30",
		"t/m=12/part-3.crc":   "old 3 crc",
		"t/m=12/part-3-00000": "old 3-00000",
		"t/m=12/part-4":       "old 4",
		"t/m=12/part-40":      "old 40",
		"t/m=12/part-4.crc":   "old 4 crc",
		"t/m=11/part-30":      "old 11-30",
		"t/m=11/part-3":       "old 11-3",
	},
	run: []partDir{
		{"t/m=12/part-3", tree{"": "new 3"}},
		{"t/m=12/part-4", nil},
		{"t/m=11/part-30", tree{"": "new 11-30"}},
	},
}

var fileCases = []partCase{
	{
		name: "one day's file replaced among its siblings",
		old: tree{
			m12 + "/part-2018-12-01-00000.snappy.parquet": "old 12-01",
			m12 + "/part-2018-12-3-00000.snappy.parquet":  "old 12-3",
			m12 + "/part-2018-12-30-00000.snappy.parquet": "old 12-30",
			m12 + "/part-2018-12-31-00000.snappy.parquet": "old 12-31",
			m11 + "/part-2018-11-30-00000.snappy.parquet": "old 11-30",
		},
		run: []partDir{{m12 + "/part-2018-12-30-00000.snappy.parquet", tree{"": "new 12-30, longer"}}},
	},
	{
		name: "a day's file added beside the month's others",
		old: tree{
			m12 + "/part-2018-12-01-00000.snappy.parquet": "old 12-01",
			m12 + "/part-2018-12-3-00000.snappy.parquet":  "old 12-3",
		},
		run: []partDir{{m12 + "/part-2018-12-30-00000.snappy.parquet", tree{"": "new 12-30"}}},
	},
	{
		name: "a day's file of a month, a year and a table that do not exist yet",
		old:  tree{m12 + "/part-2018-12-01-00000.snappy.parquet": "old 12-01"},
		run: []partDir{
			{"songplays/year=2019/month=1/part-2019-01-01-00000.snappy.parquet", tree{"": "new 2019-1"}},
			{"songs/year=2019/month=1/part-2019-01-01-00000.snappy.parquet", tree{"": "new songs"}},
		},
	},
	{
		name: "one day's file removed, its siblings stay",
		old: tree{
			m12 + "/part-2018-12-3-00000.snappy.parquet":  "old 12-3",
			m12 + "/part-2018-12-30-00000.snappy.parquet": "old 12-30",
			m12 + "/part-2018-12-31-00000.snappy.parquet": "old 12-31",
		},
		run: []partDir{{m12 + "/part-2018-12-30-00000.snappy.parquet", nil}},
	},
	{
		name: "the last file of a year removed: its month and year folders go",
		old: tree{
			"songplays/year=2017/month=9/part-2017-09-01-00000.snappy.parquet": "old 2017-9",
			m12 + "/part-2018-12-30-00000.snappy.parquet":                      "old 12-30",
		},
		run: []partDir{{"songplays/year=2017/month=9/part-2017-09-01-00000.snappy.parquet", nil}},
	},
	{
		name: "the last file of a table removed: the table folder goes",
		old:  tree{"t/year=2018/month=1/part-0": "old t", "other/part-0": "old other"},
		run:  []partDir{{"t/year=2018/month=1/part-0", nil}},
	},
	{
		name: "every file of a month removed one by one",
		old: tree{
			m12 + "/part-2018-12-30-00000.snappy.parquet": "old 12-30",
			m12 + "/part-2018-12-31-00000.snappy.parquet": "old 12-31",
			m11 + "/part-2018-11-30-00000.snappy.parquet": "old 11-30",
		},
		run: []partDir{
			{m12 + "/part-2018-12-30-00000.snappy.parquet", nil},
			{m12 + "/part-2018-12-31-00000.snappy.parquet", nil},
		},
	},
	{
		name: "a file at the top of a table replaced and one removed",
		old:  tree{"users/part-00000.parquet": "old users 0", "users/part-00001.parquet": "old users 1", "users/part-00000.parquet.crc": "old crc"},
		run:  []partDir{{"users/part-00000.parquet", tree{"": "new users 0"}}, {"users/part-00001.parquet", nil}},
	},
	{
		name: "a file that is not there removed",
		old:  tree{m12 + "/part-2018-12-3-00000.snappy.parquet": "old 12-3"},
		run:  []partDir{{m12 + "/part-2018-12-30-00000.snappy.parquet", nil}},
	},
	prefixSiblings,
	filesAndFolders,
}

// TestPublishFiles publishes runs whose units are single objects, alone or beside folders: the
// output must be the old lake with exactly those objects replaced, added or removed; the other
// objects of their folders must not be written, copied or renamed; a folder left empty by a
// removed file goes, up to the root, as for a removed partition.
func TestPublishFiles(t *testing.T) {
	for _, k := range kinds {
		for _, c := range fileCases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				st, root := k.open(t)
				f := checkPartialPublish(t, st, root, c)
				// Outside the staging, the publish acts on the run's units, on the folders that
				// hold a unit it removed (to prune them when empty), and on its own files: no
				// other name, not even a sibling's.
				holdsRemoved := func(x string) bool {
					return slices.ContainsFunc(c.run, func(d partDir) bool { return d.files == nil && strings.HasPrefix(d.name, x+"/") })
				}
				for _, x := range touching(f) {
					if under(x, StagingDir) || x == ManifestFile || x == SuccessFile {
						continue
					}
					if c.owner(x) == "" && !holdsRemoved(x) {
						t.Errorf("the publish acted on %q, which is not the run's", x)
					}
				}
			})
		}
	}
}

// TestPublishFilesCrashMatrix fails a publish of file units (beside folder units) at every
// mutating call, then the recovery at every call, as TestPublishPartitionsCrashMatrix does: the
// lake is then wholly the old run or wholly the new one across all units, the files beside the
// run's are unchanged at every point, and on a disk each unit is old, new or absent, never a mix.
func TestPublishFilesCrashMatrix(t *testing.T) {
	for _, c := range []partCase{filesAndFolders, prefixSiblings} {
		t.Run(c.name, func(t *testing.T) { partialCrashMatrix(t, c) })
	}
}

// TestVerifyStagingFile: a unit that is one object counts that object only, not a sibling whose
// name starts with its own, nor one whose name its own starts with.
func TestVerifyStagingFile(t *testing.T) {
	ctx := context.Background()
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			st, _ := k.open(t)
			stg := Staging("new")
			writeFiles(t, st, stg, map[string]string{
				m12 + "/part-3":     "a",
				m12 + "/part-30":    "bb",
				m12 + "/part-3.crc": "ccc",
				m12 + "/part":       "dddd",
				ManifestFile:        "{}",
			})
			for _, c := range []struct {
				dirs []Dir
				ok   bool
			}{
				{[]Dir{{Name: m12 + "/part-3", Files: 1, Bytes: 1}}, true},
				{[]Dir{{Name: m12 + "/part-30", Files: 1, Bytes: 2}}, true},
				{[]Dir{{Name: m12 + "/part-3", Files: 1, Bytes: 1}, {Name: m12 + "/part-30", Files: 1, Bytes: 2}, {Name: m12 + "/part-31"}}, true},
				{[]Dir{{Name: m12, Files: 4, Bytes: 10}}, true},
				{[]Dir{{Name: m12 + "/part-3", Files: 3, Bytes: 6}}, false}, // part-30 and part-3.crc are not part-3's
				{[]Dir{{Name: m12 + "/part", Files: 4, Bytes: 10}}, false},  // nor is part-3 part's
				{[]Dir{{Name: m12 + "/part-3", Files: 1, Bytes: 2}}, false}, // a file of another size
				{[]Dir{{Name: m12 + "/part-30"}}, false},                    // a file staged for a removed unit
			} {
				err := verifyStaging(ctx, st, stg, c.dirs)
				if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrStagingChanged)) {
					t.Errorf("%+v: got %v, want ok=%v", c.dirs, err, c.ok)
				}
			}
		})
	}
}

// TestPublishRejectsFileInUnit: a file and the folder that holds it cannot both be units (the
// folder put in place would carry the file along); files whose names share a string prefix can.
func TestPublishRejectsFileInUnit(t *testing.T) {
	f := storagetest.NewFaulty(storage.NewMemory(storage.MemoryOptions{}), 0)
	dirs := []Dir{{Name: m12 + "/part-2018-12-30-00000.snappy.parquet"}, {Name: m12}}
	committed, err := Publish(context.Background(), f, "new", dirs, manifestOf("new"))
	if err == nil || committed || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("got committed=%v err=%v, want an overlap", committed, err)
	}
	if f.Calls() > 0 {
		t.Errorf("wrote before refusing: %v", f.Log())
	}
	if err := checkNames([]string{m12 + "/part-3", m12 + "/part-30", m12 + "/part-3.crc", "songplays/year=2018/month=1"}); err != nil {
		t.Errorf("siblings refused: %v", err)
	}
}
