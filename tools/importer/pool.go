package importer

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// pool reads, decompresses and parses files on o.Workers reader goroutines
// and sends the units they make on o.Workers sender goroutines. Reading is
// parallel because it is a real cost (bzip2 above all: about 8 s of CPU for
// 120 Synthea patients) that a single reader goroutine turned into a serial
// stage: whenever the senders were faster than it they waited on it.
// Memory stays bounded: a reader holds one file at a time and the channel
// between readers and senders holds o.Workers units.
//
// Errors: the first sender error (a journal write, a cancelled context)
// cancels everything. A reader error (a file that cannot be opened or
// decompressed) stops the reading, but the units already made are still
// sent, as a single reader did before. Malformed JSON is not an error: it
// is a failure of that file in the summary.
func (im *run) pool(ctx context.Context, files []string) error {
	workers := im.o.Workers
	units := make(chan *unit, workers)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rctx, stopReading := context.WithCancel(wctx)
	defer stopReading()
	var werr, rerr firstErr

	var senders sync.WaitGroup
	for w := 0; w < workers; w++ {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for u := range units {
				if err := im.do(wctx, u); err != nil {
					werr.set(err)
					cancel()
				}
			}
		}()
	}

	emit := func(u *unit) error {
		select {
		case units <- u:
			return nil
		case <-rctx.Done():
			return rctx.Err()
		}
	}
	// Files are taken in name order; each one is read by one reader, so an
	// NDJSON file's batches still reach the channel in line order.
	var next atomic.Int64
	var readers sync.WaitGroup
	for r := 0; r < workers; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for rctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(files)) {
					return
				}
				if err := im.file(rctx, files[i], emit); err != nil {
					rerr.set(err) // before stopReading, so it wins over the others' context.Canceled
					stopReading()
					return
				}
			}
		}()
	}
	readers.Wait()
	close(units)
	senders.Wait()
	if err := werr.get(); err != nil {
		return err
	}
	if err := rerr.get(); err != nil {
		return err
	}
	return ctx.Err()
}

// firstErr keeps the first error set. (An atomic.Value would panic when a
// later error has another concrete type, e.g. context.Canceled after a
// journal write error.)
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// do sends a unit, with retries, and journals it when every entry succeeded.
func (im *run) do(ctx context.Context, u *unit) error {
	var entries []Entry
	var err error
	for attempt := 0; ; attempt++ {
		if err = ctx.Err(); err != nil {
			return err
		}
		entries, err = im.send(ctx, u)
		if err == nil || attempt >= im.o.Retries || !retryable(err) {
			break
		}
		select {
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer im.done.Add(u.weight)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var f *Failure
		if errors.As(err, &f) {
			im.fail(u.key, -1, f.Status, string(f.Outcome))
			return nil
		}
		im.fail(u.key, -1, 0, err.Error())
		return nil
	}
	ok := true
	im.mu.Lock()
	for i, e := range entries {
		typ := e.Type
		if i < len(u.types) && u.types[i] != "" {
			typ = u.types[i]
		}
		switch {
		case e.Status == 201:
			im.sum.Created[typ]++
		case e.Status >= 200 && e.Status < 300:
			im.sum.Existing[typ]++
		default:
			ok = false
			im.sum.Failed[typ]++
			im.sum.Failures = append(im.sum.Failures, UnitFailure{Unit: u.key, Entry: i, Status: e.Status, Outcome: string(e.Outcome)})
		}
	}
	im.sum.Units++
	im.mu.Unlock()
	im.res.Add(int64(len(entries)))
	if ok {
		return im.j.add(u.key)
	}
	return nil
}

func retryable(err error) bool {
	var f *Failure
	if errors.As(err, &f) {
		return f.Status >= 500 || f.Status == 429 || f.Status == 409
	}
	return !errors.Is(err, context.Canceled)
}

func (im *run) send(ctx context.Context, u *unit) ([]Entry, error) {
	switch u.kind {
	case kindPut:
		e, err := im.sink.Put(ctx, u.typ, u.id, u.body)
		return []Entry{e}, err
	case kindCreate:
		e, err := im.sink.Create(ctx, u.typ, u.body, u.cond)
		return []Entry{e}, err
	}
	return im.sink.Bundle(ctx, u.body)
}
