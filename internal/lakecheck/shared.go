package lakecheck

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedData returns the folder of the real sample data: $SPARKIFY_SHARED_DATA, else
// shared/data/udacity beside the checkout or beside a folder above it. When it is absent the test
// is skipped, or fails when SPARKIFY_REQUIRE_SHARED is set, as CI does, so that a missing dataset
// cannot pass for a green run.
func SharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SPARKIFY_SHARED_DATA")
	if dir == "" {
		// shared/data/udacity beside the checkout, or beside any folder above it.
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		for up := filepath.Clean(root); ; up = filepath.Dir(up) {
			dir = filepath.Join(filepath.Dir(up), "shared", "data", "udacity")
			if _, err := os.Stat(dir); err == nil || filepath.Dir(up) == up {
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "song_data")); err != nil {
		if os.Getenv("SPARKIFY_REQUIRE_SHARED") != "" {
			t.Fatalf("shared sample data not found at %s (SPARKIFY_REQUIRE_SHARED is set): %v", dir, err)
		}
		t.Skipf("shared sample data not found at %s; set SPARKIFY_SHARED_DATA to run this test", dir)
	}
	return dir
}
