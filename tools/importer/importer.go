// Package importer loads FHIR data into a server or a storage engine: files
// and folders of Bundles, single resources and NDJSON, plain or compressed
// (.gz, .bz2), in parallel, resumably.
//
// Order: files whose name starts with "0-" (the shared organisations and
// practitioners of Synthea and of dccfhir generate) go first, one at a time
// in name order, since the rest refer to them; everything else follows,
// read and written by Options.Workers goroutines each.
//
// Resumption and duplicates: each unit of work (a file, or a range of
// NDJSON lines) is recorded in a journal file, fsynced, once every entry of
// it succeeded; a re-run skips what the journal holds. A unit that was
// interrupted is sent again: a transaction Bundle is atomic, so it was
// either wholly stored or not at all. The remaining risk is a unit the
// server stored but whose answer never reached the journal (a crash or a
// lost connection at that moment). Sending it again must not duplicate it,
// so every write is made idempotent: a POST entry without ifNoneExist is
// rewritten into a conditional create on the resource's first identifier
// (system|value), and resources that carry an id are PUT under that id. Only
// a POSTed resource with no identifier at all can still be duplicated (the
// summary counts them).
package importer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune an import.
type Options struct {
	// Workers is the number of units written at once, and of files read
	// (decompressed, parsed) at once (default 4).
	Workers int
	// Journal is the journal file ("" for <first path>.import-journal).
	Journal string
	// NoDedup sends POST entries as they are (faster, not safe to re-run).
	NoDedup bool
	// BatchSize is the number of NDJSON lines per batch Bundle (default 500).
	BatchSize int
	// Retries is how often a unit is sent again after a transport error or
	// a 5xx/429/409 answer (default 3); safe since writes are idempotent.
	Retries int
	// Progress receives the progress display (nil: none); TTY draws a bar,
	// else a line every Interval (default 10 s).
	Progress io.Writer
	TTY      bool
	Interval time.Duration
}

// Summary is what an import did.
type Summary struct {
	Units, Skipped int
	// Created and Existing count entries per resource type: 201, and 200
	// (a conditional create that found the resource, or an update).
	Created, Existing map[string]int
	Failed            map[string]int
	Failures          []UnitFailure
	// NoIdentifier counts POSTed resources that could not be made
	// conditional.
	NoIdentifier int
	Elapsed      time.Duration
}

// UnitFailure is a unit, or an entry of it, that was refused.
type UnitFailure struct {
	Unit    string
	Entry   int // -1 for the whole unit
	Status  int
	Outcome string
}

// Resources is the number of entries written (created or found).
func (s *Summary) Resources() int {
	n := 0
	for _, v := range s.Created {
		n += v
	}
	for _, v := range s.Existing {
		n += v
	}
	return n
}

// unit is one request's worth of work.
type unit struct {
	key    string // journal key
	weight int64  // bytes of input it stands for (progress)
	kind   int
	body   []byte // bundle to post, or resource
	types  []string
	typ    string
	id     string
	cond   string
}

const (
	kindBundle = iota
	kindPut
	kindCreate
)

// Run imports paths into sink.
func Run(ctx context.Context, sink Sink, paths []string, o Options) (*Summary, error) {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if len(paths) == 0 {
		return nil, errors.New("nothing to import")
	}
	files, total, err := listFiles(paths)
	if err != nil {
		return nil, err
	}
	jpath := o.Journal
	if jpath == "" {
		jpath = strings.TrimRight(paths[0], string(os.PathSeparator)) + ".import-journal"
	}
	j, err := openJournal(jpath)
	if err != nil {
		return nil, err
	}
	defer j.close()

	im := &run{sink: sink, o: o, j: j, sum: &Summary{Created: map[string]int{}, Existing: map[string]int{}, Failed: map[string]int{}}, total: total}
	start := time.Now()
	stopProgress := im.progress(start)
	var first, rest []string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "0-") {
			first = append(first, f)
		} else {
			rest = append(rest, f)
		}
	}
	// shared resources first, one file at a time
	for _, f := range first {
		if err := im.file(ctx, f, func(u *unit) error { return im.do(ctx, u) }); err != nil {
			stopProgress()
			return im.finish(start), err
		}
	}
	// then everything else: o.Workers readers feed o.Workers senders
	err = im.pool(ctx, rest)
	stopProgress()
	return im.finish(start), err
}

type run struct {
	sink  Sink
	o     Options
	j     *journal
	mu    sync.Mutex
	sum   *Summary
	total int64
	done  atomic.Int64
	res   atomic.Int64
}

func (im *run) finish(start time.Time) *Summary {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.sum.Elapsed = time.Since(start)
	return im.sum
}

func (im *run) skip(weight int64) {
	im.mu.Lock()
	im.sum.Skipped++
	im.mu.Unlock()
	im.done.Add(weight)
}

func (im *run) addNoID(n int) {
	if n == 0 {
		return
	}
	im.mu.Lock()
	im.sum.NoIdentifier += n
	im.mu.Unlock()
}

func (im *run) fail(key string, entry, status int, outcome string) {
	im.mu.Lock()
	im.sum.Failures = append(im.sum.Failures, UnitFailure{Unit: key, Entry: entry, Status: status, Outcome: outcome})
	im.mu.Unlock()
}
