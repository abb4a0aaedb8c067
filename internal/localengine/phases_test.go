package localengine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sparkify/lake/internal/report"
)

// TestManifestTimesTheWholeRun: the manifest's phases cover the run from its start to the end of
// the publish, in order, and the published _manifest.json says so too (it is written again after
// the publish, which the first one could not time).
func TestManifestTimesTheWholeRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		inc    bool
		phases []string
	}{
		{"full", false, []string{"list", "read songs", "read events", "transform", "stage", "publish"}},
		{"incremental", true, []string{"list", "read state", "read", "fold", "stage", "publish"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Every reading of the clock is a second later than the one before: each phase lasts
			// a whole number of seconds, and the sum is exact.
			var mu sync.Mutex
			now := time.Now().Truncate(time.Second)
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(time.Second)
				return now
			}
			out := t.TempDir()
			m, err := runLocal(t, "testdata/songs", "testdata/logs", out, func(o *Options) {
				o.Now = clock
				o.Incremental = tc.inc
			})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(out, "_manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var published report.Manifest
			if err := json.Unmarshal(data, &published); err != nil {
				t.Fatal(err)
			}
			for _, got := range []*report.Manifest{m, &published} {
				var names []string
				var sum float64
				for _, p := range got.Phases {
					names = append(names, p.Name)
					sum += p.Seconds
					if p.Seconds < 1 {
						t.Errorf("phase %s took %v s: the clock was not read at its start and end", p.Name, p.Seconds)
					}
				}
				if !slices.Equal(names, tc.phases) {
					t.Errorf("phases %q, want %q", names, tc.phases)
				}
				if got.Seconds != sum || !got.FinishedAt.Equal(got.StartedAt.Add(time.Duration(sum)*time.Second)) {
					t.Errorf("elapsed %v s, finished %v after %v; the phases sum to %v s", got.Seconds, got.FinishedAt, got.StartedAt, sum)
				}
			}
			if published.Seconds != m.Seconds {
				t.Errorf("published manifest: %v s, the run's: %v s", published.Seconds, m.Seconds)
			}
		})
	}
}
