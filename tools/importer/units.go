package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

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

// fromJSON makes a unit of a JSON file: a batch or transaction Bundle as is
// (made idempotent), another Bundle as a batch of its resources, a single
// resource as a PUT or a conditional create.
//
// It reads the file with fhir.SplitBundle, the splitter the server uses
// too, which only finds where each member and entry ends, instead of
// json.Unmarshal, which validates and scans every byte of a multi-MB Bundle
// a second time just to fill a few fields. It splits leniently: a file
// that is not a JSON object, or is truncated, stays a failure of the file
// here, but a malformed entry is passed on for the server to answer for
// (as it does for a bad literal deep inside a resource).
func (im *run) fromJSON(key string, data []byte) (*unit, error) {
	b, err := fhir.SplitBundle(data, fhir.LenientSplit)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	switch {
	case b.ResourceType == "":
		return nil, errors.New("no resourceType")
	case b.ResourceType == "Bundle" && (b.Type == "batch" || b.Type == "transaction"):
		body, types, noID, err := idempotent(data, b.Entry, im.o.NoDedup)
		if err != nil {
			return nil, err
		}
		im.addNoID(noID)
		return &unit{key: key, kind: kindBundle, body: body, types: types}, nil
	case b.ResourceType == "Bundle" && b.Type != "document" && b.Type != "message":
		var lines [][]byte
		for i, e := range b.Entry {
			if e.Err != nil { // its resource is what is sent: it must be readable
				return nil, fmt.Errorf("not a Bundle: entry %d: %v", i, e.Err)
			}
			if len(e.Resource) > 0 {
				lines = append(lines, e.Resource)
			}
		}
		body, types, noID, err := batchOf(lines, im.o.NoDedup)
		if err != nil {
			return nil, err
		}
		im.addNoID(noID)
		return &unit{key: key, kind: kindBundle, body: body, types: types}, nil
	case b.ID != "":
		return &unit{key: key, kind: kindPut, typ: b.ResourceType, id: b.ID, body: data, types: []string{b.ResourceType}}, nil
	}
	cond := ""
	if !im.o.NoDedup {
		cond = identifierQuery(data)
		if cond == "" {
			im.addNoID(1)
		}
	}
	return &unit{key: key, kind: kindCreate, typ: b.ResourceType, body: data, cond: cond, types: []string{b.ResourceType}}, nil
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
