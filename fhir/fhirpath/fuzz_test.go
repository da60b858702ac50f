package fhirpath

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds cover the grammar: paths, indexers, every operator family,
// literals of each type, lambdas, environment variables and the functions
// search extraction, invariants and FHIRPath Patch use. FuzzFHIRPath adds
// the expressions of the HL7 suite when ../shared/data has it.
var fuzzSeeds = []string{
	"Patient.name.given", "name.where(use = 'official').family.first()", "identifier[1].value", "telecom.where(system='phone').value",
	"Patient.name.given | Patient.contact.name.family", "name.given.count() > 1 and active", "birthDate < @2000-01-01 or deceased.exists()",
	"(1 + 2 * 3 - 4 / 5) div 2 mod 3", "'a' + 'b' & 'c'", "1.5 'mg' = 1500 'ug'", "@2020-01-01T10:00:00.123+02:00 + 1 day",
	"@T10:00 < @T11:00", "now() > today()", "%resource.id", "%context.name", "%ucum", "%`vs-administrative-gender`",
	"Observation.value.as(Quantity).value", "value is Quantity", "(value as Quantity).unit", "Observation.value.ofType(Quantity)",
	"Observation.subject.resolve() is Patient", "managingOrganization.resolve().name", "contained.ofType(Organization).name",
	"extension('http://example.org/ext').value", "name.given.extension.where(url = 'http://example.org/nick').value",
	"descendants().where($this is string).count()", "children().count()", "repeat(children()).count()", "select(name).given.distinct()",
	"name.all(given.exists())", "name.any(family.startsWith('Ch'))", "iif(active, 'yes', 'no')", "name.aggregate($this.given.count() + $total, 0)",
	"name.given.indexOf('e')", "birthDate.toString().substring(0, 4).toInteger() + 1", "'abc'.matches('^a.c$')", "'a,b'.split(',').last()",
	"'x'.replace('x', 'y').upper().lower().length()", "name.family.join(', ')", "telecom.value.combine(identifier.value).isDistinct()",
	"(1 | 2 | 3).where($this > $index).sum()", "{}.empty()", "name.exists() implies name.family.exists()", "true xor false",
	"name.given.subsetOf(name.given) and name.given.supersetOf({})", "1.toDecimal().round(2) ~ 1.00", "'1e2'.convertsToDecimal()",
	"Patient.name.skip(1).take(1).tail()", "code.coding.where(system = 'http://loinc.org').code", "component.where(code.text = 'a').value",
	"effective.ofType(Period).start", "trace('x', name).count()", "name.intersect(name).exclude(name)", "ext.value.memberOf('http://vs')",
	"name.single()", "Patient.deceased.as(boolean)", "-1.abs() + 2.sqrt().floor() + 3.5.ceiling() + 10.log(10) + 2.power(3) + 1.exp().ln()",
}

// FuzzFHIRPath compiles random expressions (at most 512 bytes, the size of
// a long invariant) and evaluates the accepted ones on two small resources:
// no panic, no hang (3 s). A compile or evaluation error is a fine answer:
// a FHIRPath Patch or a custom SearchParameter makes it a 4xx. See
// docs/fuzzing.md for how to run it.
func FuzzFHIRPath(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range suiteExpressions(f) {
		f.Add(s)
	}
	roots := []map[string]any{decode(f, []byte(testPatient)), decode(f, []byte(testObservation))}
	env := &Env{Now: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 512 {
			return
		}
		type outcome struct {
			err   error
			panic any
			stack []byte
		}
		done := make(chan outcome, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- outcome{panic: p, stack: debug.Stack()}
				}
			}()
			e, err := Compile(expr)
			if err != nil {
				done <- outcome{err: err}
				return
			}
			for _, root := range roots {
				if _, err := e.Evaluate(root, env); err != nil {
					done <- outcome{err: err}
					return
				}
			}
			done <- outcome{}
		}()
		select {
		case o := <-done:
			if o.panic != nil {
				t.Fatalf("%q: panic: %v\n%s", expr, o.panic, o.stack)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%q: no answer in 3 s", expr)
		}
	})
}

// suiteExpressions are the expressions of the HL7 FHIRPath suite, if present.
func suiteExpressions(tb testing.TB) []string {
	b, err := os.ReadFile(filepath.Join(testCasesDir(tb), "fhirpath", "tests-fhir-r4.xml"))
	if err != nil {
		tb.Logf("no HL7 FHIRPath suite: %v", err)
		return nil
	}
	var s suiteXML
	if err := xml.Unmarshal(b, &s); err != nil {
		tb.Fatal(fmt.Errorf("HL7 suite: %w", err))
	}
	var out []string
	for _, g := range s.Groups {
		for _, c := range g.Tests {
			out = append(out, c.Expression.Text)
		}
	}
	return out
}

// TestFuzzFindings: expressions FuzzFHIRPath found mishandled (their
// corpus entries are in testdata/fuzz/FuzzFHIRPath); each must compile or
// fail with an error, and evaluate without a panic.
func TestFuzzFindings(t *testing.T) {
	root := decode(t, []byte(testPatient))
	for _, expr := range []string{
		"``", // empty delimited identifier: an index out of range in the parser
	} {
		e, err := Compile(expr)
		if err != nil {
			continue
		}
		if _, err := e.Evaluate(root, nil); err != nil {
			t.Logf("%q: %v", expr, err)
		}
	}
}

// TestEvaluationBounds: expressions whose cost grows exponentially or
// quadratically, as a client can write in a FHIRPath Patch, end with an
// error (or a result) quickly instead of exhausting memory or a core.
func TestEvaluationBounds(t *testing.T) {
	small := decode(t, []byte(testPatient))
	// a Patient of 5,000 identifiers: some 15,000 descendants
	ids := make([]any, 5000)
	for i := range ids {
		ids[i] = map[string]any{"system": "urn:s", "value": fmt.Sprint(i)}
	}
	big := map[string]any{"resourceType": "Patient", "identifier": ids}
	long := "'" + strings.Repeat("x", 400) + "'"
	for _, tc := range []struct {
		root map[string]any
		expr string
	}{
		{small, "descendants().aggregate($total.combine($total).combine($this), {}).count()"},
		{small, "descendants().aggregate($total & $total & 'x', '').length()"},
		{small, "'a'.repeat($this + $this).count()"},
		{small, "'ab'.replace('', " + long + ").replace('', " + long + ").replace('', " + long + ").length()"},
		{small, "'ab'.replaceMatches('', " + long + ").replaceMatches('', " + long + ").replaceMatches('', " + long + ").length()"},
		{small, "'ab'.replace('', " + long + ").replace('', " + long + ").split('').count()"},
		{small, "2.power(9223372036854775807)"},
		{big, "descendants().select(descendants().select(descendants())).count()"},
		{big, "(descendants() | descendants()).count()"},
		{big, "descendants().distinct().count()"},
		{big, "descendants().where(%resource.descendants().exists()).count()"},
		{big, "identifier.value.subsetOf(identifier.value)"},
		{big, "descendants().ofType(string).join(" + long + ").length()"},
	} {
		begin := time.Now()
		e, err := Compile(tc.expr)
		if err != nil {
			t.Errorf("%.80s: %v", tc.expr, err)
			continue
		}
		res, err := e.Evaluate(tc.root, nil)
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("%.80s: took %v", tc.expr, d)
		}
		t.Logf("%.80s: %v %v in %v", tc.expr, len(res), err, time.Since(begin).Round(time.Millisecond))
	}
}
