package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/tools/generate"
)

// fastAndFull runs idempotent (on the split entries) and rewrite (the full
// json.Unmarshal it replaces) on a Bundle: with noDedup the walk must give
// the full decode's types and leave the Bundle untouched; without it both
// must give the same Bundle, types and count of POSTs without identifier.
func fastAndFull(t *testing.T, name string, data []byte) {
	t.Helper()
	b, err := fhir.SplitBundle(data, fhir.LenientSplit)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	entry := b.Entry
	wantBody, wantTypes, wantNoID, err := rewrite(data)
	if err != nil {
		t.Fatalf("%s: rewrite: %v", name, err)
	}
	body, types, noID, err := idempotent(data, entry, true)
	if err != nil || !bytes.Equal(body, data) || noID != 0 || !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("%s, no dedup: changed %v, %d without identifier, %v\ntypes %v\n want %v", name, !bytes.Equal(body, data), noID, err, types, wantTypes)
	}
	body, types, noID, err = idempotent(data, entry, false)
	if err != nil || !bytes.Equal(body, wantBody) || noID != wantNoID || !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("%s, dedup: same body %v, %d without identifier (want %d), %v\ntypes %v\n want %v", name, bytes.Equal(body, wantBody), noID, wantNoID, err, types, wantTypes)
	}
}

// TestIdempotentWalk checks the cheap entry walk against the full decode on
// generated Bundles and on hand-written corner cases.
func TestIdempotentWalk(t *testing.T) {
	g, err := generate.New(generate.Config{Patients: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.WriteDir(context.Background(), dir, generate.WriteOptions{Format: generate.FormatBundle}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 5 {
		t.Fatalf("%d files generated", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fastAndFull(t, filepath.Base(f), data)
	}
	for name, b := range map[string]string{
		"no entry":   `{"resourceType":"Bundle","type":"batch"}`,
		"null entry": `{"resourceType":"Bundle","type":"batch","entry":null}`,
		"mixed": `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient","identifier":[{"system":"s","value":"v"}]},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=s|v"}},
			{"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"/Patient/p"}},
			{"resource":{"resourceType":"Observation"},"request":{"method":"post","url":"Observation"}},
			{"request":{"method":"DELETE","url":"Condition?code=x"}},
			{"resource":{"resourceType":"Patient"}},
			{"resource":{"resourceType":"Patient"},"request":null},
			{"request":{"method":"POST","url":7}}]}`,
		"needs a condition": `{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Observation"}},
			{"resource":{"resourceType":"Patient","identifier":{"system":"s","value":"v"}},"request":{"method":"POST","url":"Patient"}}]}`,
		"escaped url": `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Pat\u0069ent"}}]}`,
	} {
		fastAndFull(t, name, []byte(b))
	}
}

// TestMalformed: files that are not JSON, truncated, or malformed deeper
// down are failures of that file in the summary (not an error of the
// import, not a panic, not accepted), with or without dedup; the good file
// next to them is imported.
func TestMalformed(t *testing.T) {
	g, err := generate.New(generate.Config{Patients: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	gen := t.TempDir()
	if err := g.WriteDir(context.Background(), gen, generate.WriteOptions{Format: generate.FormatBundle}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(gen, "[^0]*.json"))
	if len(files) == 0 {
		t.Fatal("no patient bundle generated")
	}
	bundle, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"not-json.json":        "this is not JSON\n",
		"array.json":           `[{"resourceType":"Patient"}]`,
		"empty.json":           "",
		"truncated.json":       string(bundle[:len(bundle)/2]),
		"truncated-end.json":   strings.TrimRight(string(bundle), " \n}"),
		"bad-literal.json":     `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","active":tru},"request":{"method":"POST","url":"Patient"}}]}`,
		"entry-object.json":    `{"resourceType":"Bundle","type":"transaction","entry":{"resource":{"resourceType":"Patient"}}}`,
		"entry-not-obj.json":   `{"resourceType":"Bundle","type":"transaction","entry":[1]}`,
		"no-type.json":         `{"id":"x","gender":"male"}`,
		"type-number.json":     `{"resourceType":7,"id":"x"}`,
		"collection-bad.json":  `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},]}`,
		"after-the-value.json": `{"resourceType":"Patient","id":"after"} {"x":1}`,
	}
	good := `{"resourceType":"Patient","id":"good","gender":"female"}`
	for _, noDedup := range []bool{false, true} {
		dir := t.TempDir()
		for name, body := range bad {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "good.json"), []byte(good), 0o644); err != nil {
			t.Fatal(err)
		}
		_, svc := server(t, nil)
		sum, err := Run(context.Background(), ServiceSink{svc}, []string{dir}, Options{Workers: 3, NoDedup: noDedup, Journal: filepath.Join(t.TempDir(), "j")})
		if err != nil {
			t.Fatalf("no dedup %v: %v", noDedup, err)
		}
		failed := map[string]bool{}
		for _, f := range sum.Failures {
			failed[filepath.Base(f.Unit)] = true
		}
		var missing []string
		for name := range bad {
			if !failed[name] {
				missing = append(missing, name)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 || failed["good.json"] || sum.Resources() != 1 {
			t.Errorf("no dedup %v: not failed: %v; %d resources written; failures %+v", noDedup, missing, sum.Resources(), sum.Failures)
		}
	}
}

// TestReaderError: a file that cannot be decompressed stops the import with
// an error naming it, whatever the other readers and senders are doing.
func TestReaderError(t *testing.T) {
	dir := region(t, 6, generate.FormatBundle)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	io.WriteString(zw, strings.Repeat(`{"resourceType":"Patient"}`, 1000))
	zw.Close()
	broken := zb.Bytes()[:zb.Len()/2]
	if err := os.WriteFile(filepath.Join(dir, "5-broken.json.gz"), broken, 0o644); err != nil {
		t.Fatal(err)
	}
	_, svc := server(t, nil)
	_, err := Run(context.Background(), ServiceSink{svc}, []string{dir}, Options{Workers: 2, Journal: filepath.Join(t.TempDir(), "j")})
	if err == nil || !strings.Contains(err.Error(), "5-broken.json.gz") {
		t.Fatalf("got %v", err)
	}
}
