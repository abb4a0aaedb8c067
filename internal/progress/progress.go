// Package progress draws a run for a person: a live progress line while it works, on an
// interactive terminal only, and a summary table at the end. It is the only package that prints
// run state; it reads report values and never changes them.
package progress

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sparkify/lake/internal/report"
	"github.com/sparkify/lake/internal/source"
	"github.com/sparkify/lake/internal/table"
)

// Bar redraws one status line from a report.Progress until stopped.
type Bar struct {
	w     io.Writer
	p     *report.Progress
	start time.Time
	stop  chan struct{}
	done  sync.WaitGroup
}

// Start draws p on w every interval until Stop. Draw only on a terminal: the line is redrawn
// with a carriage return, which is noise in a log file.
func Start(w io.Writer, p *report.Progress, interval time.Duration) *Bar {
	b := &Bar{w: w, p: p, start: time.Now(), stop: make(chan struct{})}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				fmt.Fprint(b.w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(b.w, "\r\033[K"+Line(b.p, time.Since(b.start)))
			}
		}
	}()
	return b
}

// Stop erases the line and returns when the drawing goroutine has ended.
func (b *Bar) Stop() {
	close(b.stop)
	b.done.Wait()
}

// Line renders the state of a run after elapsed time.
func Line(p *report.Progress, elapsed time.Duration) string {
	files, filesTotal := p.FilesDone.Load(), p.FilesTotal.Load()
	bytes, bytesTotal := p.BytesDone.Load(), p.BytesTotal.Load()
	const width = 24
	filled := 0
	if bytesTotal > 0 {
		filled = int(width * bytes / bytesTotal)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(bytes) / s / 1e6
	}
	return fmt.Sprintf("%-9s [%s%s] %d/%d files  %s/%s  %.1f MB/s  %s",
		p.Phase(), strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		files, filesTotal, Bytes(bytes), Bytes(bytesTotal), rate, elapsed.Round(100*time.Millisecond))
}

// Bytes formats a size for people.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Count formats an integer with thousands separators.
func Count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + Count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Summary writes the end-of-run report.
func Summary(w io.Writer, m *report.Manifest) {
	mbps := 0.0
	if m.Seconds > 0 {
		mbps = float64(m.InputBytes()) / m.Seconds / 1e6
	}
	if inc := m.Incremental; inc != nil && !inc.Full && inc.NewFiles["songs"]+inc.NewFiles["events"] == 0 {
		fmt.Fprintf(w, "incremental: no new input file (%s song files and %s log files loaded before): nothing to do; the lake at %s is as it was\n",
			Count(int64(inc.LoadedBefore["songs"])), Count(int64(inc.LoadedBefore["events"])), m.Output)
		return
	}
	fmt.Fprintf(w, "run %s published to %s in %.2fs (%.1f MB/s of input)\n", m.RunID, m.Output, m.Seconds, mbps)
	if inc := m.Incremental; inc != nil {
		incrementalSummary(w, inc)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "input\tfiles\tsize\trecords read\trejected\tkept\tduplicates\t")
	for _, name := range []string{"songs", "events"} {
		in := m.Inputs[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, Count(int64(in.Files)), Bytes(in.Bytes),
			Count(in.Read), Count(in.Rejected), Count(in.Kept), Count(in.Duplicates))
	}
	tw.Flush()
	for _, name := range []string{"songs", "events"} {
		in := m.Inputs[name]
		reasons := make([]string, 0, len(in.RejectedBy))
		for r := range in.RejectedBy {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(w, "  %s rejected for %s: %s\n", name, r, Count(in.RejectedBy[r]))
		}
	}
	for _, name := range []string{"songs", "events"} {
		if s := source.SkippedText(m.Inputs[name].Skipped); s != "" {
			fmt.Fprintf(w, "  %s: %s\n", name, s)
		}
	}
	for _, name := range []string{"songs", "events"} {
		rep := m.Inputs[name].Repaired
		fields := slices.Sorted(maps.Keys(rep))
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = f + " " + Count(rep[f])
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %s: text repaired (double-encoded UTF-8): %s\n", name, strings.Join(parts, ", "))
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\tfiles\tpartitions\tsize\t")
	for _, name := range table.All {
		t := m.Tables[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, Count(t.Rows), Count(int64(t.Files)), Count(int64(t.Partitions)), Bytes(t.Bytes))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nsong plays matched to the catalog: %s of %s (%.2f%%)\n", Count(m.Matched), Count(m.Plays), 100*m.MatchRate)
	if m.Plays > 0 && m.MatchRate < 0.1 {
		fmt.Fprintln(w, "  (the catalog lacks most played songs: song_id and artist_id are NULL on the others; songplays.song_title and artist_name hold what was played)")
	}
	if m.Spilled {
		fmt.Fprintf(w, "plays streamed through the spill folder (more than 256 MiB of events, or over --memory-limit %s): the tables are the same\n", Bytes(m.MemoryLimit))
	}
	if len(m.Requests) > 0 {
		// Largest first: what the run costs where requests are billed.
		ops := slices.SortedFunc(maps.Keys(m.Requests), func(a, b string) int {
			return cmp.Or(cmp.Compare(m.Requests[b], m.Requests[a]), strings.Compare(a, b))
		})
		parts := make([]string, len(ops))
		for i, op := range ops {
			parts[i] = Count(m.Requests[op]) + " " + op
		}
		fmt.Fprintf(w, "S3 requests: %s\n", strings.Join(parts, ", "))
	}
	if m.Retries > 0 {
		fmt.Fprintf(w, "storage requests retried: %s\n", Count(m.Retries))
	}
	if m.Rejected.Rows > 0 {
		fmt.Fprintf(w, "rejected records: %s, in %s/_rejected/\n", Count(m.Rejected.Rows), m.Output)
	}
	fmt.Fprintf(w, "\nthe tables as DuckDB views: duckdb -init %s/_views.sql (other tools: sparkify ddl --dialect athena|spark|trino)\n", strings.TrimRight(m.Output, "/"))
}

// unitName shows what an incremental run wrote, as report.Incremental names it: a partition
// folder, "all" for an unpartitioned table, or a day's files as their glob.
func unitName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 && !strings.Contains(p[i:], "=") {
		return p[:i] + "/part-" + p[i+1:] + "-*"
	}
	return cmp.Or(p, "all")
}

// incrementalSummary tells what an incremental run loaded and which partitions it wrote again.
func incrementalSummary(w io.Writer, inc *report.Incremental) {
	if inc.Full {
		fmt.Fprintf(w, "incremental: full load of %s song files and %s log files (%s)\n",
			Count(int64(inc.NewFiles["songs"])), Count(int64(inc.NewFiles["events"])), inc.Why)
		return
	}
	fmt.Fprintf(w, "incremental: %s new song files and %s new log files loaded; %s and %s loaded before were skipped\n",
		Count(int64(inc.NewFiles["songs"])), Count(int64(inc.NewFiles["events"])),
		Count(int64(inc.LoadedBefore["songs"])), Count(int64(inc.LoadedBefore["events"])))
	for _, name := range table.All {
		var parts []string
		for _, p := range inc.Rewritten[name] {
			parts = append(parts, unitName(p))
		}
		for _, p := range inc.Removed[name] {
			parts = append(parts, unitName(p)+" (removed)")
		}
		switch {
		case len(parts) == 0:
			fmt.Fprintf(w, "  %s: unchanged\n", name)
		case len(parts) > 4:
			fmt.Fprintf(w, "  %s: %s partitions rewritten (%s, ...)\n", name, Count(int64(len(parts))), strings.Join(parts[:3], ", "))
		default:
			fmt.Fprintf(w, "  %s: rewritten %s\n", name, strings.Join(parts, ", "))
		}
	}
}
