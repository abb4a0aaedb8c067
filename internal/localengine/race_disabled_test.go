//go:build !race

package localengine

// raceEnabled tells whether the tests run with the race detector.
const raceEnabled = false
