// Package gen generates Sparkify datasets: a song catalog and an event log in exactly the format of
// the real data (see SPEC.md), at any size, from a seed.
//
// What it does:
//
//   - Writes song_data/<A>/<B>/<C>/<TRACKID>.json (Python json.dumps style, no trailing newline)
//     and log_data/YYYY/MM/YYYY-MM-DD-events.json (pandas style: 18 keys in alphabetical order,
//     '/' escaped, userAgent in literal quotes when it has a comma, registration like
//     1540919166796.0), through a caller-supplied create function.
//   - Makes the data realistic where the pipeline can go wrong: skewed popularity, titles shared
//     by several artists, unknown years and locations, null coordinates, non-ASCII names (always
//     \u-escaped, emoji as surrogate pairs), double-encoded names that match only once repaired, sessions that
//     start logged out, level changes, plays whose length is a little off the catalog duration,
//     days that cross month and year ends, sessions that run past midnight.
//   - In Dirty mode, injects known numbers of bad records, one defect each, and duplicate plays.
//   - Reports in Counts what it wrote, so that tests know the expected figures of the tables.
//
// What it refuses to do:
//
//   - Copy anything from the real data set: every value is drawn from its own vocabularies.
//   - Depend on anything but Options: the same Options give the same bytes on every run and every
//     CPU. There is no map iteration in the output path and no floating-point arithmetic whose
//     rounding could differ between architectures (quantities are integers, in 1e-5 units where
//     the format has decimals).
//   - Write anything but its two folders, or read anything at all.
//
// It is built for speed (well over a million events per second on one core): lines are rendered
// by appending pre-rendered pieces into one reused buffer, with no encoding/json and almost no
// allocation per line.
package gen
