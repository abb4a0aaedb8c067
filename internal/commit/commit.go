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
// One run at a time may write to an output: the package does not lock.
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
	markerFile   = "_COMMIT"
	doneDir      = "_done"
	oldDir       = "_old"
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
}

// Publish puts the staged folders of runID in place. dirs lists every folder the run owns under
// the output root (all tables, and _rejected even when this run rejected nothing, so that an old
// one is removed). manifest is written to _manifest.json.
func Publish(ctx context.Context, st storage.Store, runID string, dirs []string, manifest []byte) error {
	stg := Staging(runID)
	if err := storage.WriteFile(ctx, st, stg+"/"+ManifestFile, manifest); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	// Everything staged must be on disk before the marker says it is there.
	if s, ok := st.(storage.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("commit: sync %s: %w", st.Location(stg), err)
		}
	}
	mk := marker{RunID: runID, Dirs: dirs}
	for _, d := range dirs {
		ok, err := storage.Exists(ctx, st, stg+"/"+d)
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if ok {
			mk.Staged = append(mk.Staged, d)
		}
	}
	m, err := json.Marshal(mk)
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, st, stg+"/"+markerFile, m); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if s, ok := st.(storage.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return fmt.Errorf("commit: sync %s: %w", st.Location(stg), err)
		}
	}
	if err := rollForward(ctx, st, runID); err != nil {
		return fmt.Errorf("%w (the run is committed: the next run on this output finishes publishing it)", err)
	}
	return nil
}

// Discard removes a run's staging folder: the run will not be published.
func Discard(ctx context.Context, st storage.Store, runID string) error {
	return st.RemoveAll(ctx, Staging(runID))
}

// rollForward finishes publishing a run whose commit marker is written. Every step can be
// repeated, so a roll-forward interrupted at any point can be run again.
func rollForward(ctx context.Context, st storage.Store, runID string) error {
	stg := Staging(runID)
	raw, err := storage.ReadFile(ctx, st, stg+"/"+markerFile)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	var m marker
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("commit: %s: %w", st.Location(stg+"/"+markerFile), err)
	}
	// The old _SUCCESS goes first: from here until the end, the output is not a finished run.
	if err := st.RemoveAll(ctx, SuccessFile); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, d := range m.Dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := replace(ctx, st, stg, d, slices.Contains(m.Staged, d)); err != nil {
			return fmt.Errorf("commit %s: %w", d, err)
		}
	}
	manifest, err := storage.ReadFile(ctx, st, stg+"/"+ManifestFile)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := storage.WriteFile(ctx, st, ManifestFile, manifest); err != nil {
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

// replace puts the staged folder d in place of the published one. Each step leaves a marker when
// done, so that a replace interrupted anywhere resumes where it stopped.
func replace(ctx context.Context, st storage.Store, stg, d string, staged bool) error {
	if _, ok := st.(storage.Mover); ok {
		return replaceByRename(ctx, st, stg, d, staged)
	}
	return replaceByCopy(ctx, st, stg, d, staged)
}

// replaceByRename is for stores that rename a folder at once (a local disk): the published
// folder is moved aside to _old/, then the staged one into place, so the table is missing only
// between two renames.
func replaceByRename(ctx context.Context, st storage.Store, stg, d string, staged bool) error {
	asideDone := stg + "/" + doneDir + "/" + d + "/aside"
	placedDone := stg + "/" + doneDir + "/" + d + "/placed"
	if ok, err := storage.Exists(ctx, st, asideDone); err != nil {
		return err
	} else if !ok {
		hasDst, err := storage.Exists(ctx, st, d)
		if err != nil {
			return err
		}
		if hasDst {
			old := stg + "/" + oldDir + "/" + d
			if err := st.RemoveAll(ctx, old); err != nil {
				return err
			}
			if err := storage.Move(ctx, st, d, old); err != nil {
				return err
			}
		}
		if err := storage.WriteFile(ctx, st, asideDone, nil); err != nil {
			return err
		}
	}
	if !staged {
		return nil
	}
	if ok, err := storage.Exists(ctx, st, placedDone); err != nil || ok {
		return err
	}
	// A move removes its source last, so a source that is gone was moved in full.
	if ok, err := storage.Exists(ctx, st, stg+"/"+d); err != nil {
		return err
	} else if ok {
		if err := storage.Move(ctx, st, stg+"/"+d, d); err != nil {
			return err
		}
	}
	return storage.WriteFile(ctx, st, placedDone, nil)
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
			if err := rollForward(ctx, st, id); err != nil {
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
