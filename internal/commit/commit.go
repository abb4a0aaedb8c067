// Package commit makes a run's output visible all at once, or not at all.
//
// A run writes everything under _staging/<run-id>/ in the output store. Publishing then writes a
// commit marker — the commit point — and moves each staged unit into place, keeping the one it
// replaces under the staging folder until the end. A unit is mostly a folder: a whole table, or
// a partition of one (songplays/year=2018/month=12) when an incremental run replaces only some,
// the table's other partitions being left as they are. It may also be a single object, one file
// of a partition (songplays/year=2018/month=12/part-2018-12-30-00000.snappy.parquet): an
// incremental run that rewrites one day's file of a month partition publishes that file alone,
// and the month's other files, which are not the run's, are neither moved nor rewritten, nor on
// an object store copied again. A run that fails or is killed before the commit point leaves the
// previous tables untouched, and the next run discards its staging; one killed after it is
// rolled forward by the next run, which finishes the moves. Either way, once the output is
// recovered it holds exactly one run's units. On a local disk, which renames a folder or a file
// at once, a reader never sees a mix of two runs' files inside one unit (a partition of which a
// run publishes single files holds files of several runs: that is what such a run is for); on an
// object store, which cannot rename, a folder holds such a mix while its files are copied.
// _SUCCESS and _manifest.json are written last.
//
// One run at a time may write to an output: the caller holds the output's lock (package run).
// As a second line of defence, Publish checks that the staging holds exactly what the run wrote
// before it writes the commit marker, so a staging that something else removed or changed is
// never published.
package commit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/sparkify/lake/internal/storage"
)

// Names under the output root.
const (
	StagingDir   = "_staging"
	SuccessFile  = "_SUCCESS"
	ManifestFile = "_manifest.json"
	// ViewsFile, when a run stages one, is published beside the manifest: SQL that opens the lake
	// (see package run).
	ViewsFile   = "_views.sql"
	markerFile  = "_COMMIT"
	doneDir     = "_done"
	startedFile = doneDir + "/started" // the roll-forward has begun to move things
	oldDir      = "_old"
)

// Staging returns the staging folder of a run; the run writes its units below it.
func Staging(runID string) string { return StagingDir + "/" + runID }

// marker is the content of the commit marker: what to put in place.
type marker struct {
	RunID string `json:"run_id"`
	// Dirs are the units (folders, or single objects) the run owns under the output root: each
	// is replaced by the staged folder or object of that name, or removed when the run staged
	// none.
	Dirs []string `json:"dirs"`
	// Staged are the Dirs the run staged something for.
	Staged []string `json:"staged"`
	// Contents are what the run staged in each unit: a roll-forward that has not started checks
	// them, so that a staging that vanished (removed by another run after this one had lost its
	// lock) is discarded rather than published as empty tables.
	Contents []Dir `json:"contents,omitempty"`
}

// Dir is a unit a run owns under the output root, with what the run staged for it: every table,
// and _rejected even when the run rejected nothing, so that an old one is removed. An incremental
// run owns only the partitions it rewrites or drops, and names them by their path
// (songplays/year=2018/month=12); the rest of the table is not its, and stays as it is.
//
// A Dir may also be a single object rather than a folder: an incremental run that rewrites one
// day's file of a month partition
// (songplays/year=2018/month=12/part-2018-12-30-00000.snappy.parquet) owns that file only, not
// the month, whose other files are earlier runs' and must not be rewritten (on an object store,
// replacing the month would copy all of them again). Publish need not be told which kind a Dir
// is: whatever the staging holds under Name, one object or a folder, replaces whatever is
// published under it, and a file removed that was the last of its partition takes the folders it
// leaves empty with it, up to the output root, as a removed partition does.
type Dir struct {
	// Name is a slash-separated path below the output root: a folder, or one object. No Dir of a
	// run may be inside another: the folder put in place would take the inner one's files with
	// it. Names are compared by path segment, so files whose names merely start alike (part-3 and
	// part-30, or part-3.crc) are distinct units, as month=1 and month=12 are.
	Name  string
	Files int   // objects the run wrote below it, 1 for a single object; 0: Name is removed
	Bytes int64 // their total size
}

// reserved are the names the commit itself uses, at the output root or beside the staged
// units: a Dir under one of them would be overwritten, or removed with the bookkeeping.
var reserved = []string{StagingDir, SuccessFile, ManifestFile, ViewsFile, markerFile, doneDir, oldDir}

// checkNames refuses a set of unit names (folders or single objects) that the moves could not
// keep apart, before anything is written: an invalid path, a reserved name, or two names of which
// one is inside the other (a file and the partition that holds it).
func checkNames(names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" {
			return errors.New("commit: a folder to publish has an empty name")
		}
		for seg := range strings.SplitSeq(n, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return fmt.Errorf("commit: folder %q: want a relative slash-separated path without empty, . or .. parts", n)
			}
		}
		if top, _, _ := strings.Cut(n, "/"); slices.Contains(reserved, top) {
			return fmt.Errorf("commit: folder %q: %s is the commit's own", n, top)
		}
		if seen[n] {
			return fmt.Errorf("commit: folder %q is listed twice", n)
		}
		seen[n] = true
	}
	for _, n := range names {
		for p := parent(n); p != ""; p = parent(p) {
			if seen[p] {
				return fmt.Errorf("commit: folders %q and %q overlap: one run cannot publish a folder and a folder inside it", p, n)
			}
		}
	}
	return nil
}

// parent returns the folder that holds name, "" at the output root.
func parent(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// under reports whether name is dir or below it: a path-segment prefix, so that month=1 does not
// take in month=12.
func under(name, dir string) bool {
	return name == dir || strings.HasPrefix(name, dir+"/")
}

// ErrStagingChanged is returned when the staging does not hold what the run wrote.
var ErrStagingChanged = errors.New("the staging does not hold what the run wrote")

// Publish puts the staged units of runID in place; dirs lists every unit (folder, or single
// object) the run owns and manifest is written to _manifest.json. committed tells whether the commit marker was written:
// from then on the run counts as published even if an error stops the moves (the next run, or
// sparkify recover, finishes them), so the caller must not discard the staging.
//
// Once the marker is written, the moves are not stopped by ctx's cancellation: they take
// milliseconds on a local disk, and finishing them is what keeps a reader's mix of two runs as
// short as it can be.
func Publish(ctx context.Context, st storage.Store, runID string, dirs []Dir, manifest []byte) (committed bool, err error) {
	stg := Staging(runID)
	names := make([]string, len(dirs))
	for i, d := range dirs {
		names[i] = d.Name
	}
	if err := checkNames(names); err != nil {
		return false, err
	}
	if err := verifyStaging(ctx, st, stg, dirs); err != nil {
		return false, err
	}
	if err := storage.WriteFile(ctx, st, stg+"/"+ManifestFile, manifest); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	// Everything staged must be on disk before the marker says it is there.
	if sync := st.Features().Sync; sync != nil {
		if err := sync(ctx); err != nil {
			return false, fmt.Errorf("commit: sync %s: %w", st.Location(stg), err)
		}
	}
	mk := marker{RunID: runID, Contents: dirs}
	for _, d := range dirs {
		mk.Dirs = append(mk.Dirs, d.Name)
		if d.Files > 0 {
			mk.Staged = append(mk.Staged, d.Name)
		}
	}
	m, err := json.Marshal(mk)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := storage.WriteFile(ctx, st, stg+"/"+markerFile, m); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	if sync := st.Features().Sync; sync != nil {
		if err := sync(ctx); err != nil {
			return true, fmt.Errorf("commit: sync %s: %w (the run is committed: the next run on this output finishes publishing it)", st.Location(stg), err)
		}
	}
	// The staging was checked just before the marker: the roll-forward need not list it again.
	if err := rollForward(ctx, st, runID, true); err != nil {
		return true, fmt.Errorf("%w (the run is committed: the next run on this output, or sparkify recover, finishes publishing it)", err)
	}
	return true, nil
}

// verifyStaging checks that the staging holds, for each unit, as many objects and bytes as the
// run wrote there (a unit that is one object holds that object: one, of its size): another process that removed or added staged files (a second run's recovery,
// a user) makes the run fail instead of publishing tables with files missing.
func verifyStaging(ctx context.Context, st storage.Store, stg string, dirs []Dir) error {
	type tally struct {
		files int
		bytes int64
	}
	got := map[string]*tally{}
	for _, d := range dirs {
		got[d.Name] = &tally{}
	}
	err := st.List(ctx, stg, func(o storage.Object) error {
		// The object counts for the Dir that is it or holds it, whatever its depth; Dirs do not
		// overlap, so at most one does. Objects outside every Dir (the manifest, a run's own files) are
		// not published, and not counted.
		for p := strings.TrimPrefix(o.Name, stg+"/"); p != ""; p = parent(p) {
			if t := got[p]; t != nil {
				t.files++
				t.bytes += o.Size
				break
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, d := range dirs {
		if t := got[d.Name]; t.files != d.Files || t.bytes != d.Bytes {
			return fmt.Errorf("commit: %w: %s holds %d files (%d bytes) where the run wrote %d (%d bytes); was another run started on this output? Nothing was published",
				ErrStagingChanged, st.Location(stg+"/"+d.Name), t.files, t.bytes, d.Files, d.Bytes)
		}
	}
	return nil
}

// Discard removes a run's staging folder: the run will not be published.
func Discard(ctx context.Context, st storage.Store, runID string) error {
	if err := st.RemoveAll(ctx, Staging(runID)); err != nil {
		return err
	}
	return removeIfEmpty(ctx, st, StagingDir)
}

// rollForward finishes publishing a run whose commit marker is written. Every step can be
// repeated, so a roll-forward interrupted at any point can be run again. checked says the caller
// has just verified the staging against what the run wrote (Publish does, before its marker);
// otherwise it is verified here before the first move.
func rollForward(ctx context.Context, st storage.Store, runID string, checked bool) error {
	stg := Staging(runID)
	raw, err := storage.ReadFile(ctx, st, stg+"/"+markerFile)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	var m marker
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("commit: %s: %w", st.Location(stg+"/"+markerFile), err)
	}
	// Publish checked the names before writing them; a marker edited since is not acted upon.
	if err := checkNames(m.Dirs); err != nil {
		return fmt.Errorf("%w (in %s)", err, st.Location(stg+"/"+markerFile))
	}
	// Before the first move, the staging must hold what the marker says; once moves have begun
	// (the started marker exists, durably), staged folders go away as they are put in place.
	if started, err := storage.Exists(ctx, st, stg+"/"+startedFile); err != nil {
		return fmt.Errorf("commit: %w", err)
	} else if !started {
		if !checked && m.Contents != nil {
			if err := verifyStaging(ctx, st, stg, m.Contents); err != nil {
				if derr := Discard(ctx, st, runID); derr != nil {
					return fmt.Errorf("%w; and removing it: %w", err, derr)
				}
				return err
			}
		}
		if err := storage.WriteFile(ctx, st, stg+"/"+startedFile, nil); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if sync := st.Features().Sync; sync != nil {
			if err := sync(ctx); err != nil {
				return fmt.Errorf("commit: sync %s: %w", st.Location(stg), err)
			}
		}
	}
	// The old _SUCCESS goes first: from here until the end, the output is not a finished run.
	if err := st.RemoveAll(ctx, SuccessFile); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	staged := make(map[string]bool, len(m.Staged))
	for _, d := range m.Staged {
		staged[d] = true
	}
	if st.Features().Move != nil {
		if err := replaceByRename(ctx, st, stg, m.Dirs, staged); err != nil {
			return err
		}
	} else {
		// An incremental run may own hundreds of small partitions, each a handful of requests
		// that wait on the network: replace a few at once. They do not overlap, and each
		// replacement can be repeated, so their order does not matter.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(dirsAtOnce)
		for _, d := range m.Dirs {
			g.Go(func() error {
				if err := replaceByCopy(gctx, st, stg, d, staged[d]); err != nil {
					return fmt.Errorf("commit %s: %w", d, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	manifest, err := storage.ReadFile(ctx, st, stg+"/"+ManifestFile)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := storage.WriteFile(ctx, st, ManifestFile, manifest); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if views, err := storage.ReadFile(ctx, st, stg+"/"+ViewsFile); err == nil {
		if err := storage.WriteFile(ctx, st, ViewsFile, views); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("commit: %w", err)
	}
	if err := storage.WriteFile(ctx, st, SuccessFile, nil); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := st.RemoveAll(ctx, stg); err != nil {
		return fmt.Errorf("commit: clean %s: %w", st.Location(stg), err)
	}
	return removeIfEmpty(ctx, st, StagingDir)
}

// replaceByRename is for stores that rename a folder or a file at once (a local disk).
// Everything that lists or writes is done first; then, unit after unit, the published folder or
// file is renamed aside to _old/ and the staged one into place, and nothing else happens between
// those renames: that is the whole window in which a reader can see some units new and some old
// (and a unit absent). A partition whose table folder is not there yet, or a file whose partition
// is not, gets it from the rename (Move makes the parents of its target). A file's siblings are
// not touched: only the file is renamed. Last, the folders that removing a partition or the last
// file of one left empty go, so that an incremental run leaves the tree a full run would; one
// Sync then makes all of it durable.
//
// It keeps no progress markers: the file system is the state. A staged unit that is gone was
// moved in full (a rename is atomic), and a unit the run removes that is still there was not
// moved aside, so a roll-forward interrupted anywhere, even by a crash that lost renames not yet
// synced, resumes from what it finds. The empty folders are looked for on every attempt, not
// only after a move, for the same reason.
func replaceByRename(ctx context.Context, st storage.Store, stg string, dirs []string, staged map[string]bool) error {
	move := st.Features().Move
	type step struct {
		dir          string
		aside, place bool
	}
	var plan []step
	for _, d := range dirs {
		pending := !staged[d]
		if staged[d] {
			ok, err := storage.Exists(ctx, st, stg+"/"+d)
			if err != nil {
				return fmt.Errorf("commit %s: %w", d, err)
			}
			pending = ok // gone: put in place by an earlier attempt
		}
		if !pending {
			continue
		}
		published, err := storage.Exists(ctx, st, d)
		if err != nil {
			return fmt.Errorf("commit %s: %w", d, err)
		}
		plan = append(plan, step{dir: d, aside: published, place: staged[d]})
	}
	// What an earlier attempt moved aside is not needed: its folders are being replaced.
	if err := st.RemoveAll(ctx, stg+"/"+oldDir); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, p := range plan {
		if p.aside {
			if err := move(ctx, p.dir, stg+"/"+oldDir+"/"+p.dir); err != nil {
				return fmt.Errorf("commit %s: %w", p.dir, err)
			}
		}
		if p.place {
			if err := move(ctx, stg+"/"+p.dir, p.dir); err != nil {
				return fmt.Errorf("commit %s: %w", p.dir, err)
			}
		}
	}
	if err := removeEmptyFolders(ctx, st, dirs, staged); err != nil {
		return err
	}
	if sync := st.Features().Sync; sync != nil {
		if err := sync(ctx); err != nil {
			return fmt.Errorf("commit: sync %s: %w", st.Location(""), err)
		}
	}
	return nil
}

// removeEmptyFolders removes each unit the run removes, if an empty folder is left of it, and
// then its parents as long as they hold nothing, up to the output root: a partition moved aside
// may have been the only one of its year, or of its table, and a file moved aside the only one of
// its partition. A placed unit is not empty (a placed file is an object in its parents), so its
// parents are not either. "Empty" is what List sees: an entry it passes with Skip set (a
// symlink, a fifo) keeps its folder.
func removeEmptyFolders(ctx context.Context, st storage.Store, dirs []string, staged map[string]bool) error {
	seen := map[string]bool{} // folders looked at already, and so their parents too
	for _, d := range dirs {
		if staged[d] {
			continue
		}
		for p := d; p != "" && !seen[p]; p = parent(p) {
			seen[p] = true
			ok, err := storage.Exists(ctx, st, p)
			if err != nil {
				return fmt.Errorf("commit %s: %w", d, err)
			}
			if ok {
				break
			}
			if err := st.RemoveAll(ctx, p); err != nil {
				return fmt.Errorf("commit %s: %w", d, err)
			}
		}
	}
	return nil
}

// dirsAtOnce is how many units replaceByCopy replaces side by side; each also runs its copies
// and removals side by side.
const dirsAtOnce = 4

// replaceByCopy is for object stores, which cannot rename: the staged objects are copied over
// the published ones (server-side where the store can), except those the published object
// already equals byte for byte (Features.ContentVersion), then the published objects that the run
// did not write are deleted. The folder is never empty; while the copies run, it holds a mix of
// the two runs' files, which is the most an object store without transactions allows. An object
// store has no folders, so none is left empty.
//
// A unit d that is one object is copied and listed as that object alone: Store.List of a name
// that is an object lists that object, and lists by path segment, so CopyPrefix copies the staged
// object to exactly d, the listing of stale objects finds d only, and neither the other files of
// its partition nor a sibling whose name merely starts with d's (part-30 beside part-3) is
// copied or removed.
func replaceByCopy(ctx context.Context, st storage.Store, stg, d string, staged bool) error {
	placedDone := stg + "/" + doneDir + "/" + d + "/placed"
	src := stg + "/" + d
	if ok, err := storage.Exists(ctx, st, placedDone); err != nil {
		return err
	} else if !ok {
		// What is published under d, listed once: to copy only the objects whose bytes differ
		// (a daily full run rewrites most of a dimension table as it was), and to find those
		// the run did not write. List lists by path segment (Store.List), so under only guards
		// against a store that breaks that: a sibling partition, month=12 beside month=1, or a
		// sibling file, part-30 beside part-3, is not the run's to touch.
		have := map[string]storage.Object{}
		if err := st.List(ctx, d, func(o storage.Object) error {
			if under(o.Name, d) {
				have[o.Name] = o
			}
			return nil
		}); err != nil {
			return err
		}
		keep := map[string]bool{}
		if staged {
			placed, err := storage.CopyPrefixChanged(ctx, st, src, d, have)
			if err != nil {
				return err
			}
			for _, n := range placed {
				keep[n] = true
			}
		}
		var stale []string
		for n := range have {
			if !keep[n] {
				stale = append(stale, n)
			}
		}
		// Each removal is a few requests on an object store: run them side by side.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(storage.Concurrency(st, 4))
		for _, n := range stale {
			g.Go(func() error { return st.RemoveAll(gctx, n) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := storage.WriteFile(ctx, st, placedDone, nil); err != nil {
			return err
		}
	}
	return st.RemoveAll(ctx, src)
}

func removeIfEmpty(ctx context.Context, st storage.Store, prefix string) error {
	empty, err := storage.Exists(ctx, st, prefix)
	if err != nil || empty {
		return err
	}
	return st.RemoveAll(ctx, prefix)
}

// Recovered tells what Recover did.
type Recovered struct {
	RolledForward []string // runs that had passed their commit point and are now published
	Discarded     []string // runs that had not, whose staging was removed
}

// Recover deals with what earlier runs left under _staging/: it finishes publishing the runs that
// had passed their commit point and removes the staging of those that had not. It must run
// before a new run stages anything.
func Recover(ctx context.Context, st storage.Store) (Recovered, error) {
	var rec Recovered
	runs := map[string]bool{} // run id -> has a commit marker
	err := st.List(ctx, StagingDir, func(o storage.Object) error {
		rest := strings.TrimPrefix(o.Name, StagingDir+"/")
		id, name, _ := strings.Cut(rest, "/")
		runs[id] = runs[id] || name == markerFile
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rec, fmt.Errorf("recover: %w", err)
	}
	ids := make([]string, 0, len(runs))
	for id := range runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if runs[id] {
			err := rollForward(ctx, st, id, false)
			if errors.Is(err, ErrStagingChanged) {
				// Its staging was removed under it: it never published, and is gone now.
				rec.Discarded = append(rec.Discarded, id)
				continue
			}
			if err != nil {
				return rec, fmt.Errorf("recover run %s: %w", id, err)
			}
			rec.RolledForward = append(rec.RolledForward, id)
			continue
		}
		if err := Discard(ctx, st, id); err != nil {
			return rec, fmt.Errorf("recover: %w", err)
		}
		rec.Discarded = append(rec.Discarded, id)
	}
	if err := removeIfEmpty(ctx, st, StagingDir); err != nil {
		return rec, fmt.Errorf("recover: %w", err)
	}
	return rec, nil
}
