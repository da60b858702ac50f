package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/fhir/search"
)

// resourceSeeds are small bodies of the shapes the write path meets: plain
// R4 resources, primitives with extensions, contained resources, choice
// elements, a Bundle; FuzzResource adds the DCC fixtures of testdata/dcc.
var resourceSeeds = []string{
	`{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male","birthDate":"1974-12-25"}`,
	`{"resourceType":"Patient","birthDate":"1974","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},"deceasedBoolean":false}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"Acme"}],"managingOrganization":{"reference":"#o"},"meta":{"profile":["http://example.org/p"],"tag":[{"system":"http://t","code":"a"}]}}`,
	`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p1"},"effectivePeriod":{"start":"2020-01-01","end":"2020-01-02"},"valueQuantity":{"value":185.50,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"},"component":[{"code":{"text":"a"},"valueString":"x"}]}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueInteger":-3,"referenceRange":[{"low":{"value":1e2}}]}`,
	`{"resourceType":"Condition","subject":{"reference":"Patient/1"},"onsetAge":{"value":40,"system":"http://unitsofmeasure.org","code":"a"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`,
	`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient"}}]}`,
	`{"resourceType":"SearchParameter","url":"http://x/sp","name":"x","status":"active","code":"x","base":["Patient"],"type":"token","expression":"Patient.gender","description":"x"}`,
	`{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"1","type":"group","item":[{"linkId":"1.1","type":"string"}]}]}`,
	`{"resourceType":"Patient","id":"a\u0062","extension":[{"url":"http://x","valueString":"\u00e9\n"}],"name":[{"text":""}]}`,
	`{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8="}`,
	`[]`, `{}`, `{"resourceType":1}`, `{"resourceType":"Patient"} x`,
}

var fuzzValidator = sync.OnceValues(func() (*Validator, error) {
	v, _, err := New(Options{})
	return v, err
})

// FuzzResource drives random bodies (up to 64 KiB) through what a create
// does before it writes (service.prepare): fhir.Decode, the resourceType
// check, the server's id and meta, full validation (base R4 and the DCC
// guide, as serve runs), fhir.Stamp, search index extraction, then the
// read side (fhir.Summarize). No panic, no hang (10 s), every refusal a
// client error (4xx) with an issue, and the stored bytes read back as the
// tree that was validated. See docs/fuzzing.md for how to run it.
func FuzzResource(f *testing.F) {
	for _, s := range resourceSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "dcc", "dcc-*.json"))
	sort.Strings(files)
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	v, err := fuzzValidator()
	if err != nil {
		f.Fatal(err)
	}
	reg := search.Default()
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 64<<10 {
			return
		}
		done := make(chan string, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
				}
			}()
			done <- writePath(v, reg, body)
		}()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatalf("%q: %s", clipBody(body), msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: no answer in 10 s", clipBody(body))
		}
	})
}

// writePath runs body through the write and read path; it returns what
// went wrong, "" when nothing did.
func writePath(v *Validator, reg *search.Registry, body []byte) string {
	res, ferr := fhir.Decode(body)
	if ferr != nil {
		return clientErr(ferr)
	}
	typ, _ := res["resourceType"].(string)
	if !fhir.KnownType(typ) {
		return "" // the service refuses it: 400 (or 404 for the URL's type)
	}
	const id, vid, lu = "fuzz1", "1", "2024-05-06T07:08:09.123456Z"
	res["id"] = id
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		if _, present := res["meta"]; present {
			return "" // the service answers 400: meta must be an object
		}
		meta = map[string]any{}
		res["meta"] = meta
	}
	meta["versionId"], meta["lastUpdated"] = vid, lu
	if _, err := v.Check(context.Background(), typ, res); err != nil {
		return clientErr(err)
	}
	stamped, err := fhir.Stamp(body, id, vid, lu)
	if err != nil {
		return "" // the service answers 400
	}
	back, ferr := fhir.Decode(stamped)
	if ferr != nil {
		return "stamped body does not decode: " + ferr.Error()
	}
	if !reflect.DeepEqual(back, res) {
		return "stamped body " + string(clipBody(stamped)) + " is not the validated resource"
	}
	if _, err := search.ExtractLocal(reg, typ, res, "http://example.org/fhir"); err != nil {
		return "" // the service answers 422 (cannot index)
	}
	for _, sum := range []string{"true", "text", "data"} {
		if _, err := fhir.Summarize(typ, stamped, sum, nil); err != nil {
			return "_summary=" + sum + " of a stored resource fails: " + err.Error()
		}
	}
	if _, err := fhir.Summarize(typ, stamped, "", []string{"name", "value", "id"}); err != nil {
		return "_elements of a stored resource fails: " + err.Error()
	}
	return ""
}

// clientErr is "" when err is a client error with an issue saying what.
func clientErr(err error) string {
	var fe *fhir.Error
	if !errors.As(err, &fe) || fe.Status < 400 || fe.Status > 499 {
		return "not a client error: " + err.Error()
	}
	if len(fe.Issues) == 0 || fe.Issues[0].Diagnostics == "" {
		return "a client error without an issue saying what"
	}
	return ""
}

func clipBody(b []byte) []byte {
	if len(b) > 2000 {
		return b[:2000]
	}
	return b
}

// FuzzResourceElement is FuzzResource aimed at the validator: it sets one
// element of a seed resource (path: dot-separated keys and array indexes,
// "name.0.given") to a random JSON value (or string, when value is not
// JSON), so the fuzzer spends its time on elements and values rather than
// on JSON syntax. Same checks as FuzzResource.
func FuzzResourceElement(f *testing.F) {
	for i, p := range []string{"birthDate", "name.0.given.1", "meta.profile.0", "contained.0.name", "valueQuantity.value", "component.0.valueString",
		"extension.0.url", "text.div", "entry.0.resource.resourceType", "item.0.item.0.type", "_birthDate.extension.0.valueDateTime", "identifier.0.period.start"} {
		f.Add(uint8(i), p, `"x"`)
		f.Add(uint8(i), p, `{"a":[1,{"b":null}]}`)
	}
	seeds := make([]map[string]any, 0, len(resourceSeeds))
	for _, s := range resourceSeeds {
		if res, err := fhir.Decode([]byte(s)); err == nil {
			if _, ok := res["resourceType"].(string); ok {
				seeds = append(seeds, res)
			}
		}
	}
	v, err := fuzzValidator()
	if err != nil {
		f.Fatal(err)
	}
	reg := search.Default()
	f.Fuzz(func(t *testing.T, seed uint8, path, value string) {
		if len(path) > 200 || len(value) > 4096 {
			return
		}
		b, _ := json.Marshal(seeds[int(seed)%len(seeds)])
		res, _ := fhir.Decode(b) // a fresh copy
		var val any = value
		if json.Valid([]byte(value)) {
			val, _ = fhir.Decode([]byte(`{"v":` + value + `}`))
			val = val.(map[string]any)["v"]
		}
		if !setPath(res, strings.Split(path, "."), val) {
			return
		}
		body, err := json.Marshal(res)
		if err != nil {
			return
		}
		done := make(chan string, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
				}
			}()
			done <- writePath(v, reg, body)
		}()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatalf("%s: %s", clipBody(body), msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer in 10 s", clipBody(body))
		}
	})
}

// setPath sets the element at path (keys, and indexes into arrays) of res
// to v, creating objects and arrays, and growing arrays by one, on the way.
func setPath(res map[string]any, path []string, v any) bool {
	out, ok := setIn(res, path, v)
	return ok && out != nil
}

func setIn(cur any, path []string, v any) (any, bool) {
	if len(path) == 0 {
		return v, true
	}
	k := path[0]
	if n, err := strconv.Atoi(k); err == nil {
		arr, _ := cur.([]any)
		if cur != nil && arr == nil || n < 0 || n > len(arr) {
			return nil, false
		}
		if n == len(arr) {
			arr = append(arr, nil)
		}
		x, ok := setIn(arr[n], path[1:], v)
		arr[n] = x
		return arr, ok
	}
	m, _ := cur.(map[string]any)
	if m == nil {
		if cur != nil {
			return nil, false
		}
		m = map[string]any{}
	}
	x, ok := setIn(m[k], path[1:], v)
	m[k] = x
	return m, ok
}
