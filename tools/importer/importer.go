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
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
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

// listFiles expands folders (recursively, in name order) and returns the
// importable files with their total size.
func listFiles(paths []string) ([]string, int64, error) {
	var out []string
	var total int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			name := strings.TrimSuffix(strings.TrimSuffix(d.Name(), ".gz"), ".bz2")
			if !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".ndjson") && !strings.HasSuffix(name, ".jsonl") {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
			out = append(out, path)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	sort.SliceStable(out, func(i, k int) bool { return filepath.Base(out[i]) < filepath.Base(out[k]) })
	return out, total, nil
}

// countingReader counts the bytes read from the file on disk (progress).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func open(path string) (io.ReadCloser, *countingReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<16)}
	var r io.Reader = cr
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(cr)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	case strings.HasSuffix(path, ".bz2"):
		r = bzip2.NewReader(cr)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, cr, nil
}

// file turns one file into units and hands them to emit, skipping what the
// journal holds.
func (im *run) file(ctx context.Context, path string, emit func(*unit) error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".bz2")
	ndjson := strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".jsonl")
	if !ndjson && im.j.has(abs) {
		if fi, err := os.Stat(path); err == nil {
			im.skip(fi.Size())
		}
		return nil
	}
	rc, cr, err := open(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	if ndjson {
		return im.ndjson(ctx, abs, rc, cr, emit)
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	u, err := im.fromJSON(abs, data)
	if err != nil {
		im.fail(abs, -1, 0, err.Error())
		im.done.Add(cr.n)
		return nil
	}
	u.weight = cr.n
	return emit(u)
}

func (im *run) skip(weight int64) {
	im.mu.Lock()
	im.sum.Skipped++
	im.mu.Unlock()
	im.done.Add(weight)
}

// fromJSON makes a unit of a JSON file: a batch or transaction Bundle as is
// (made idempotent), another Bundle as a batch of its resources, a single
// resource as a PUT or a conditional create.
//
// It reads the file's head with fhir.Members, which only finds where each
// top-level member ends, instead of json.Unmarshal, which validates and
// scans every byte of a multi-MB Bundle a second time just to fill three
// fields. Members still fails on a truncated file or one that is not a JSON
// object, so those stay failures of the file here; what it lets through
// (say a bad literal deep inside a resource) the server refuses, which is a
// failure of the file too.
func (im *run) fromJSON(key string, data []byte) (*unit, error) {
	ms, err := fhir.Members(data)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	var resourceType, typ, id string
	var entry []byte
	for _, m := range ms { // the last of duplicate keys wins, as with json.Unmarshal
		var err error
		switch m.Key {
		case "resourceType":
			resourceType, err = jsonString(m.Value)
		case "type":
			typ, err = jsonString(m.Value)
		case "id":
			id, err = jsonString(m.Value)
		case "entry":
			entry = m.Value
		}
		if err != nil {
			return nil, fmt.Errorf("not JSON: %s: %v", m.Key, err)
		}
	}
	switch {
	case resourceType == "":
		return nil, errors.New("no resourceType")
	case resourceType == "Bundle" && (typ == "batch" || typ == "transaction"):
		body, types, noID, err := idempotent(data, entry, im.o.NoDedup)
		if err != nil {
			return nil, err
		}
		im.addNoID(noID)
		return &unit{key: key, kind: kindBundle, body: body, types: types}, nil
	case resourceType == "Bundle" && typ != "document" && typ != "message":
		entries, err := entries(entry)
		if err != nil {
			return nil, err
		}
		var lines [][]byte
		for _, e := range entries {
			res, err := member(e, "resource")
			if err != nil {
				return nil, err
			}
			if len(res) > 0 {
				lines = append(lines, res)
			}
		}
		body, types, noID, err := batchOf(lines, im.o.NoDedup)
		if err != nil {
			return nil, err
		}
		im.addNoID(noID)
		return &unit{key: key, kind: kindBundle, body: body, types: types}, nil
	case id != "":
		return &unit{key: key, kind: kindPut, typ: resourceType, id: id, body: data, types: []string{resourceType}}, nil
	}
	cond := ""
	if !im.o.NoDedup {
		cond = identifierQuery(data)
		if cond == "" {
			im.addNoID(1)
		}
	}
	return &unit{key: key, kind: kindCreate, typ: resourceType, body: data, cond: cond, types: []string{resourceType}}, nil
}

// jsonString decodes a raw JSON value that should be a string; null is "".
func jsonString(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	var s *string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// entries splits a Bundle's raw entry array (absent or null: none).
func entries(entry []byte) ([][]byte, error) {
	if len(entry) == 0 || string(entry) == "null" {
		return nil, nil
	}
	es, err := fhir.Elements(entry)
	if err != nil {
		return nil, fmt.Errorf("not a Bundle: entry: %v", err)
	}
	return es, nil
}

// member is the raw value of key in the JSON object obj (nil when absent or
// null).
func member(obj []byte, key string) ([]byte, error) {
	if string(obj) == "null" {
		return nil, nil
	}
	ms, err := fhir.Members(obj)
	if err != nil {
		return nil, fmt.Errorf("not a Bundle: entry: %v", err)
	}
	var v []byte
	for _, m := range ms {
		if m.Key == key {
			v = m.Value
		}
	}
	if string(v) == "null" {
		return nil, nil
	}
	return v, nil
}

func (im *run) addNoID(n int) {
	if n == 0 {
		return
	}
	im.mu.Lock()
	im.sum.NoIdentifier += n
	im.mu.Unlock()
}

// ndjson batches lines into batch Bundles; a unit's key is the file and its
// line range, so the same batches are found again on a re-run.
func (im *run) ndjson(ctx context.Context, abs string, rc io.Reader, cr *countingReader, emit func(*unit) error) error {
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var lines [][]byte
	line, from := 0, 1
	var last int64
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		key := fmt.Sprintf("%s#%d-%d", abs, from, line)
		w := cr.n - last
		last = cr.n
		batch := lines
		lines = nil
		from = line + 1
		if im.j.has(key) {
			im.skip(w)
			return nil
		}
		body, types, noID, err := batchOf(batch, im.o.NoDedup)
		if err != nil {
			im.fail(key, -1, 0, err.Error())
			im.done.Add(w)
			return nil
		}
		im.addNoID(noID)
		return emit(&unit{key: key, kind: kindBundle, body: body, types: types, weight: w})
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) > 0 {
			lines = append(lines, append([]byte(nil), b...))
		}
		if len(lines) >= im.o.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", abs, err)
	}
	return flush()
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

func (im *run) fail(key string, entry, status int, outcome string) {
	im.mu.Lock()
	im.sum.Failures = append(im.sum.Failures, UnitFailure{Unit: key, Entry: entry, Status: status, Outcome: outcome})
	im.mu.Unlock()
}

// idempotent rewrites a batch or transaction Bundle so that sending it twice
// stores nothing twice: POST entries without ifNoneExist get a conditional
// create on their first identifier. It returns the Bundle, the resource type
// of each entry and how many POSTs had no identifier to use. entry is the
// Bundle's raw entry member.
//
// It first walks the entries with fhir.Elements and fhir.Members, reading
// only each request's url, method and ifNoneExist: with noDedup, or when no
// entry needs a condition, the Bundle goes out as it came and is never
// decoded here (json.Unmarshal of a whole Bundle cost as much CPU as
// parsing it again on the server). Only a Bundle that must be rewritten is
// decoded and re-encoded.
func idempotent(data, entry []byte, noDedup bool) ([]byte, []string, int, error) {
	es, err := entries(entry)
	if err != nil {
		return nil, nil, 0, err
	}
	types := make([]string, len(es))
	noID := 0
	for i, e := range es {
		ems, err := fhir.Members(e)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("not a Bundle: entry %d: %v", i, err)
		}
		var req, res []byte
		for _, m := range ems {
			switch m.Key {
			case "request":
				req = m.Value
			case "resource":
				res = m.Value
			}
		}
		if len(req) == 0 || string(req) == "null" {
			continue
		}
		rms, err := fhir.Members(req)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("not a Bundle: entry %d request: %v", i, err)
		}
		var u, method, ine string
		for _, m := range rms {
			// a value that is not a string counts as absent, as before
			switch m.Key {
			case "url":
				u, _ = jsonString(m.Value)
			case "method":
				method, _ = jsonString(m.Value)
			case "ifNoneExist":
				ine, _ = jsonString(m.Value)
			}
		}
		t, _, _ := strings.Cut(strings.TrimPrefix(u, "/"), "/")
		types[i], _, _ = strings.Cut(t, "?")
		if noDedup || !strings.EqualFold(method, "POST") || ine != "" {
			continue
		}
		if identifierQuery(res) != "" {
			return rewrite(data)
		}
		noID++
	}
	return data, types, noID, nil
}

// rewrite is idempotent for a Bundle with at least one POST entry to make
// conditional: it decodes the Bundle, sets the entries' ifNoneExist and
// encodes it again.
func rewrite(data []byte) ([]byte, []string, int, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			FullURL  string          `json:"fullUrl,omitempty"`
			Resource json.RawMessage `json:"resource,omitempty"`
			Request  map[string]any  `json:"request,omitempty"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, 0, fmt.Errorf("not a Bundle: %v", err)
	}
	types := make([]string, len(b.Entry))
	changed, noID := false, 0
	for i, e := range b.Entry {
		u, _ := e.Request["url"].(string)
		t, _, _ := strings.Cut(strings.TrimPrefix(u, "/"), "/")
		types[i], _, _ = strings.Cut(t, "?")
		if e.Request == nil {
			continue
		}
		m, _ := e.Request["method"].(string)
		if ine, _ := e.Request["ifNoneExist"].(string); strings.EqualFold(m, "POST") && ine == "" {
			if q := identifierQuery(e.Resource); q != "" {
				e.Request["ifNoneExist"] = q
				changed = true
			} else {
				noID++
			}
		}
	}
	if !changed {
		return data, types, noID, nil
	}
	out, err := json.Marshal(b)
	return out, types, noID, err
}

// identifierQuery is "identifier=system|value" for a resource's first
// complete identifier (Identifier or list of them), or "".
func identifierQuery(res []byte) string {
	var r struct {
		Identifier json.RawMessage `json:"identifier"`
	}
	if json.Unmarshal(res, &r) != nil || len(r.Identifier) == 0 {
		return ""
	}
	type ident struct{ System, Value string }
	var list []ident
	if r.Identifier[0] == '[' {
		_ = json.Unmarshal(r.Identifier, &list)
	} else {
		var one ident
		if json.Unmarshal(r.Identifier, &one) == nil {
			list = []ident{one}
		}
	}
	for _, id := range list {
		if id.System != "" && id.Value != "" {
			return "identifier=" + url.QueryEscape(id.System+"|"+id.Value)
		}
	}
	return ""
}

// batchOf is a batch Bundle writing resources: PUT Type/id when they have
// an id, else a conditional create on their identifier.
func batchOf(resources [][]byte, noDedup bool) ([]byte, []string, int, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	types := make([]string, 0, len(resources))
	noID := 0
	for i, r := range resources {
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(r, &head); err != nil || head.ResourceType == "" {
			return nil, nil, 0, fmt.Errorf("resource %d is not a FHIR resource", i+1)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"resource":`)
		buf.Write(r)
		req := map[string]string{"method": "POST", "url": head.ResourceType}
		if head.ID != "" {
			req = map[string]string{"method": "PUT", "url": head.ResourceType + "/" + head.ID}
		} else if !noDedup {
			if q := identifierQuery(r); q != "" {
				req["ifNoneExist"] = q
			} else {
				noID++
			}
		}
		rb, _ := json.Marshal(req)
		buf.WriteString(`,"request":`)
		buf.Write(rb)
		buf.WriteByte('}')
		types = append(types, head.ResourceType)
	}
	buf.WriteString("]}")
	return buf.Bytes(), types, noID, nil
}

// journal records completed units, one key per line, each append fsynced
// so that what it says survives a crash.
type journal struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

func openJournal(path string) (*journal, error) {
	j := &journal{seen: map[string]bool{}}
	if data, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" {
				j.seen[l] = true
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	j.f = f
	return j, nil
}

func (j *journal) has(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seen[key]
}

func (j *journal) add(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seen[key] = true
	if _, err := j.f.WriteString(key + "\n"); err != nil {
		return err
	}
	return j.f.Sync()
}

func (j *journal) close() error { return j.f.Close() }
