package importer

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// progress draws a bar with rate and ETA on a terminal, or writes a plain
// line every Interval otherwise (logs, CI); it returns the function that
// stops it.
func (im *run) progress(start time.Time) func() {
	w := im.o.Progress
	if w == nil {
		return func() {}
	}
	every := im.o.Interval
	if im.o.TTY {
		every = 200 * time.Millisecond
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				im.draw(w, start, true)
				return
			case <-t.C:
				im.draw(w, start, false)
			}
		}
	}()
	return func() { close(stop); <-done }
}

func (im *run) draw(w io.Writer, start time.Time, final bool) {
	el := time.Since(start)
	done, res := im.done.Load(), im.res.Load()
	frac := 0.0
	if im.total > 0 {
		frac = min(float64(done)/float64(im.total), 1)
	}
	rate := float64(res) / max(el.Seconds(), 1e-3)
	eta := "?"
	if frac > 0 && frac < 1 {
		eta = (time.Duration(el.Seconds()*(1-frac)/frac) * time.Second).Round(time.Second).String()
	} else if frac >= 1 {
		eta = "0s"
	}
	if im.o.TTY {
		const width = 30
		n := int(frac * width)
		fmt.Fprintf(w, "\r[%s%s] %5.1f%%  %d resources  %.0f/s  ETA %s   ", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, res, rate, eta)
		if final {
			fmt.Fprintln(w)
		}
		return
	}
	fmt.Fprintf(w, "import: %.1f%% %d resources %.0f/s elapsed %s ETA %s\n", frac*100, res, rate, el.Round(time.Second), eta)
}

// Print writes the summary: counts per type, the failures with their
// OperationOutcome, the rate.
func (s *Summary) Print(w io.Writer) {
	types := map[string]bool{}
	for _, m := range []map[string]int{s.Created, s.Existing, s.Failed} {
		for t := range m {
			types[t] = true
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%-24s %10s %10s %8s\n", "type", "created", "existing", "failed")
	for _, t := range names {
		fmt.Fprintf(w, "%-24s %10d %10d %8d\n", t, s.Created[t], s.Existing[t], s.Failed[t])
	}
	n := s.Resources()
	fmt.Fprintf(w, "%d units (%d skipped, already in the journal), %d resources in %s: %.0f resources/s\n",
		s.Units, s.Skipped, n, s.Elapsed.Round(time.Millisecond), float64(n)/max(s.Elapsed.Seconds(), 1e-3))
	if s.NoIdentifier > 0 {
		fmt.Fprintf(w, "%d POSTed resources had no identifier: a re-run may duplicate them\n", s.NoIdentifier)
	}
	if len(s.Failures) > 0 {
		fmt.Fprintf(w, "%d failures:\n", len(s.Failures))
		for i, f := range s.Failures {
			if i == 50 {
				fmt.Fprintf(w, "  … %d more\n", len(s.Failures)-50)
				break
			}
			where := f.Unit
			if f.Entry >= 0 {
				where += fmt.Sprintf(" entry %d", f.Entry)
			}
			fmt.Fprintf(w, "  %s: status %d: %s\n", where, f.Status, clip([]byte(f.Outcome), 1000))
		}
	}
}
