package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
