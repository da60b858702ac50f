package handlers_test

// The search acceptance table on the MongoDB engine. FerretDB (embedded by
// default) cannot use indexes for the array matches the engine sends, so
// every search scans: the table runs there on a small subset of Synthea-120
// (the three smallest patient Bundles, and of the two 0-*Information* batch
// Bundles the entries those reference), whose counts count.mjs computes
// into expected-small.json:
//
//	node testdata/search/count.mjs --subset small
//	go test ./handlers -run 'TestSearchTableMongoSmall' -v
//
// DCC_TEST_MONGODB_URI runs it on a real MongoDB instead. On the embedded
// FerretDB it takes about 210 s on a 2-core machine (load 108 s, table
// 100 s): FerretDB's SQLite backend pushes down only _id filters, so every
// conditional reference of a write and every search decodes the whole
// resources collection. It runs in parallel with TestSyntheaLoad.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// smallSubsetCmd regenerates expected-small.json.
const smallSubsetCmd = "node testdata/search/count.mjs --subset small"

// TestSearchTableMongoSmall loads the small subset of Synthea-120 on the
// MongoDB engine through POST /fhir, checks the resource counts per type
// against both the Bundles and expected-small.json, and runs every query of
// queries.json that the subset can answer against expected-small.json.
//
// Without multi-document transactions (FerretDB, a standalone MongoDB) the
// server refuses the patient transaction Bundles, so the test sends each as
// the equivalent batch (batchOfTransaction).
func TestSearchTableMongoSmall(t *testing.T) {
	// The two long loads (SQLite, FerretDB) overlap: each mostly keeps one
	// core busy. Neither changes shared state (the default registry is only read).
	t.Parallel()
	if testing.Short() {
		t.Skip("Synthea subset on MongoDB (-short)")
	}
	qs, exp := readSearchTableFile(t, "expected-small.json", smallSubsetCmd)
	if exp.Subset == nil || len(exp.Subset.Bundles) == 0 {
		t.Fatalf("expected-small.json names no Bundles: run %s", smallSubsetCmd)
	}
	set := loadSyntheaFiles(t, exp.Subset.Bundles)
	if len(set.bundles) != len(exp.Subset.Bundles) {
		t.Fatalf("%d Bundles read, expected-small.json names %d", len(set.bundles), len(exp.Subset.Bundles))
	}
	set = pruneShared(t, set, exp.Subset.Shared)
	// the two counts of the loaded resources must agree before the server is asked
	checkSameCounts(t, set.expected, exp.Resources)

	var mongo *engine
	for i := range engines {
		if engines[i].name == "mongodb" {
			mongo = &engines[i]
		}
	}
	if mongo == nil {
		t.Fatal("no mongodb engine in engines")
	}
	f := start(t, *mongo)

	mode := "as they are"
	if !f.st.Features().Transactions {
		mode = "transactions sent as batches"
		conv := &syntheaSet{expected: set.expected, resources: set.resources}
		for _, b := range set.bundles {
			body, changed, err := batchOfTransaction(b.body)
			if err != nil {
				t.Fatalf("%s: %v", b.name, err)
			}
			if changed {
				b.body = body
			}
			conv.bundles = append(conv.bundles, b)
		}
		set = conv
	}
	begin := time.Now()
	for _, b := range set.bundles { // one by one, to log each one's time
		at := time.Now()
		if err := postSynthea(http.DefaultClient, f.base, &syntheaSet{bundles: []syntheaBundle{b}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("posted %s in %v", b.name, time.Since(at).Round(time.Millisecond))
	}
	load := time.Since(begin)
	t.Logf("loaded %d Bundles (%s), %d entries in %v", len(set.bundles), mode, set.resources, load.Round(time.Millisecond))

	t.Run("counts", func(t *testing.T) { checkSyntheaCounts(t, f.on(t), set) })
	t.Run("SearchTable", func(t *testing.T) {
		begin := time.Now()
		runSearchTable(t, f.on(t), qs.Queries, exp.Queries)
		t.Logf("table in %v", time.Since(begin).Round(time.Millisecond))
	})
}

// pruneShared keeps, of the batch Bundles of set (the 0-*Information*
// ones), only the conditional creates named in shared ("Type?identifier=…",
// as count.mjs records them), and recounts the resources per type.
func pruneShared(t *testing.T, set *syntheaSet, shared []string) *syntheaSet {
	t.Helper()
	keep := map[string]bool{}
	for _, k := range shared {
		keep[k] = true
	}
	out := &syntheaSet{expected: map[string]int{}}
	distinct := map[string]bool{}
	for _, sb := range set.bundles {
		dec := json.NewDecoder(bytes.NewReader(sb.body))
		dec.UseNumber()
		var b map[string]any
		if err := dec.Decode(&b); err != nil {
			t.Fatalf("%s: %v", sb.name, err)
		}
		entries, _ := b["entry"].([]any)
		var kept []any
		for _, x := range entries {
			e, _ := x.(map[string]any)
			typ, _ := dig(e, "resource", "resourceType").(string)
			ine, _ := dig(e, "request", "ifNoneExist").(string)
			if b["type"] == "batch" && !keep[typ+"?"+ine] {
				continue
			}
			kept = append(kept, e)
			out.resources++
			if ine != "" {
				if distinct[typ+"?"+ine] {
					continue
				}
				distinct[typ+"?"+ine] = true
			}
			out.expected[typ]++
		}
		if b["type"] == "batch" {
			b["entry"] = kept
			body, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			sb.body = body
		}
		out.bundles = append(out.bundles, sb)
	}
	return out
}

// checkSameCounts fails unless the resource counts per type the Go side
// derived from the Bundles equal those count.mjs wrote.
func checkSameCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	types := map[string]bool{}
	for k := range got {
		types[k] = true
	}
	for k := range want {
		types[k] = true
	}
	names := make([]string, 0, len(types))
	for k := range types {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if got[k] != want[k] {
			t.Errorf("%s: %d in the Bundles, %d in expected-small.json: run %s", k, got[k], want[k], smallSubsetCmd)
		}
	}
}

// batchOfTransaction turns a transaction Bundle of creates into a batch
// Bundle with the same result, for a server without multi-document
// transactions. A batch does not resolve urn:uuid: references between its
// entries, so this does it client-side: each POST entry whose fullUrl is
// urn:uuid:X becomes PUT Type/X with id X (a create with a client id), and
// every reference "urn:uuid:X" becomes "Type/X". Conditional references
// (Practitioner?identifier=…) are left for the server to resolve. Numbers
// keep their literal form, so decimal precision is unchanged. It returns
// changed false, and body unchanged, for a Bundle that is not a
// transaction.
func batchOfTransaction(body []byte) (out []byte, changed bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var b map[string]any
	if err := dec.Decode(&b); err != nil {
		return nil, false, err
	}
	if b["type"] != "transaction" {
		return body, false, nil
	}
	entries, _ := b["entry"].([]any)
	ids := map[string]string{} // urn:uuid:X → Type/X
	for i, x := range entries {
		e, _ := x.(map[string]any)
		res, _ := e["resource"].(map[string]any)
		req, _ := e["request"].(map[string]any)
		full, _ := e["fullUrl"].(string)
		typ, _ := res["resourceType"].(string)
		if req == nil || req["method"] != "POST" || typ == "" || !strings.HasPrefix(full, "urn:uuid:") {
			return nil, false, fmt.Errorf("entry %d: want a POST of a resource with a urn:uuid: fullUrl", i)
		}
		if _, ok := req["ifNoneExist"]; ok {
			return nil, false, fmt.Errorf("entry %d: a conditional create cannot become a PUT", i)
		}
		id := strings.TrimPrefix(full, "urn:uuid:")
		if _, dup := ids[full]; dup {
			return nil, false, fmt.Errorf("entry %d: fullUrl %s twice", i, full)
		}
		ids[full] = typ + "/" + id
		res["id"] = id
		e["request"] = map[string]any{"method": "PUT", "url": typ + "/" + id}
		delete(e, "fullUrl")
	}
	var missing []string
	for _, x := range entries {
		rewriteUUIDRefs(x.(map[string]any)["resource"], ids, &missing)
	}
	if len(missing) > 0 {
		return nil, false, fmt.Errorf("references to no entry: %v", missing)
	}
	b["type"] = "batch"
	out, err = json.Marshal(b)
	return out, true, err
}

// rewriteUUIDRefs replaces, in v, every Reference.reference that is a key
// of ids by its value; a urn:uuid: reference not in ids is added to missing.
func rewriteUUIDRefs(v any, ids map[string]string, missing *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["reference"].(string); ok && strings.HasPrefix(ref, "urn:uuid:") {
			if to, ok := ids[ref]; ok {
				x["reference"] = to
			} else {
				*missing = append(*missing, ref)
			}
		}
		for _, y := range x {
			rewriteUUIDRefs(y, ids, missing)
		}
	case []any:
		for _, y := range x {
			rewriteUUIDRefs(y, ids, missing)
		}
	}
}
