// Package commit makes a run's output visible all at once, or not at all.
//
// A run writes everything under _staging/<run-id>/ in the output store. Publishing then writes a
// commit marker — the commit point — and moves each staged folder into place, keeping the folder
// it replaces under the staging folder until the end. A run that fails or is killed before the
// commit point leaves the previous tables untouched, and the next run discards its staging; one
// killed after it is rolled forward by the next run, which finishes the moves. Either way readers
// never see a mix of two runs' files inside one table folder, and _SUCCESS and _manifest.json are
// written last.
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

// Staging returns the staging folder of a run; the run writes its folders below it.
func Staging(runID string) string { return StagingDir + "/" + runID }

// marker is the content of the commit marker: what to put in place.
type marker struct {
	RunID string `json:"run_id"`
	// Dirs are the folders the run owns under the output root: each is replaced by the staged
	// folder of that name, or removed when the run staged none.
	Dirs []string `json:"dirs"`
	// Staged are the Dirs the run staged a folder for.
	Staged []string `json:"staged"`
	// Contents are what the run staged in each folder: a roll-forward that has not started checks
	// them, so that a staging that vanished (removed by another run after this one had lost its
	// lock) is discarded rather than published as empty tables.
	Contents []Dir `json:"contents,omitempty"`
}

// Dir is a folder a run owns under the output root, with what the run staged in it: every table,
// and _rejected even when the run rejected nothing, so that an old one is removed.
type Dir struct {
	Name  string
	Files int   // objects the run wrote below it; 0: the published folder is removed
	Bytes int64 // their total size
}

// ErrStagingChanged is returned when the staging does not hold what the run wrote.
var ErrStagingChanged = errors.New("the staging does not hold what the run wrote")

// Publish puts the staged folders of runID in place; dirs lists every folder the run owns and
// manifest is written to _manifest.json. committed tells whether the commit marker was written:
// from then on the run counts as published even if an error stops the moves (the next run, or
// sparkify recover, finishes them), so the caller must not discard the staging.
//
// Once the marker is written, the moves are not stopped by ctx's cancellation: they take
// milliseconds on a local disk, and finishing them is what keeps a reader's mix of two runs as
// short as it can be.
func Publish(ctx context.Context, st storage.Store, runID string, dirs []Dir, manifest []byte) (committed bool, err error) {
	stg := Staging(runID)
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

// verifyStaging checks that the staging holds, in each folder, as many objects and bytes as the
// run wrote there: another process that removed or added staged files (a second run's recovery,
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
		rest := strings.TrimPrefix(o.Name, stg+"/")
		dir, _, _ := strings.Cut(rest, "/")
		if t := got[dir]; t != nil {
			t.files++
			t.bytes += o.Size
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
	if st.Features().Move != nil {
		if err := replaceByRename(ctx, st, stg, m); err != nil {
			return err
		}
	} else {
		for _, d := range m.Dirs {
			if err := replaceByCopy(ctx, st, stg, d, slices.Contains(m.Staged, d)); err != nil {
				return fmt.Errorf("commit %s: %w", d, err)
			}
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

// replaceByRename is for stores that rename a folder at once (a local disk). Everything that
// lists or writes is done first; then, table after table, the published folder is renamed aside
// to _old/ and the staged one into place, and nothing else happens between those renames: that
// is the whole window in which a reader can see some tables new and some old. The renames are
// made durable by one Sync after them.
//
// It keeps no progress markers: the file system is the state. A staged folder that is gone was
// moved in full (a rename is atomic), so a roll-forward interrupted anywhere, even by a crash
// that lost renames not yet synced, resumes from what it finds.
func replaceByRename(ctx context.Context, st storage.Store, stg string, m marker) error {
	move := st.Features().Move
	type step struct {
		dir          string
		aside, place bool
	}
	var plan []step
	for _, d := range m.Dirs {
		staged := slices.Contains(m.Staged, d)
		pending := !staged
		if staged {
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
		plan = append(plan, step{dir: d, aside: published, place: staged})
	}
	// What an earlier attempt moved aside is not needed: its tables are being replaced.
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
	if sync := st.Features().Sync; sync != nil {
		if err := sync(ctx); err != nil {
			return fmt.Errorf("commit: sync %s: %w", st.Location(""), err)
		}
	}
	return nil
}

// replaceByCopy is for object stores, which cannot rename: the staged objects are copied over
// the published ones (server-side where the store can), then the published objects that the run
// did not write are deleted. The table is never empty; while the copies run, it holds a mix of
// the two runs' files, which is the most an object store without transactions allows.
func replaceByCopy(ctx context.Context, st storage.Store, stg, d string, staged bool) error {
	placedDone := stg + "/" + doneDir + "/" + d + "/placed"
	src := stg + "/" + d
	if ok, err := storage.Exists(ctx, st, placedDone); err != nil {
		return err
	} else if !ok {
		keep := map[string]bool{}
		if staged {
			placed, err := storage.CopyPrefix(ctx, st, src, d)
			if err != nil {
				return err
			}
			for _, n := range placed {
				keep[n] = true
			}
		}
		var stale []string
		if err := st.List(ctx, d, func(o storage.Object) error {
			if !keep[o.Name] {
				stale = append(stale, o.Name)
			}
			return nil
		}); err != nil {
			return err
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
