// Command gen writes r4text.json.gz, the human-readable half of the R4 code
// systems and value sets that package conformance's embedded copy leaves
// out: names, titles, concept displays, designations and concept
// properties. Package terminology lays it over the compact definitions so
// that $lookup and $expand can answer "Male" for administrative-gender#male
// without the server carrying the whole 40 MB definitions package.
// Definitions (concept.definition) are left out: no R4 terminology operation
// returns them and they would triple the size.
//
// It runs from go generate (go generate ./profiles/terminology) and reads the
// package internal/r4pkg finds ($DCC_R4_PACKAGE, else the npm pack cache).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/dccfhir/dccfhir/internal/r4pkg"
	"github.com/dccfhir/dccfhir/profiles/packages"
)

func main() {
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	src, err := r4pkg.Path()
	if err != nil {
		log.Fatal(err)
	}
	p, err := packages.LoadFile(src)
	if err != nil {
		log.Fatal(err)
	}
	css, vss := map[string]any{}, map[string]any{}
	for _, r := range p.Resources {
		switch r.Type {
		case "CodeSystem":
			css[r.URL] = codeSystem(r.JSON)
		case "ValueSet":
			vss[r.URL] = valueSet(r.JSON)
		}
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err := json.NewEncoder(zw).Encode(map[string]any{"codeSystems": css, "valueSets": vss}); err != nil {
		log.Fatal(err)
	}
	zw.Close()
	if err := os.WriteFile(filepath.Join(*out, "r4text.json.gz"), buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d code systems, %d value sets, %d bytes", len(css), len(vss), buf.Len())
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func codeSystem(cs map[string]any) map[string]any {
	out := pick(cs, "name", "title", "status", "property")
	concepts := map[string]any{}
	var walk func([]any)
	walk = func(list []any) {
		for _, x := range list {
			c, _ := x.(map[string]any)
			code, _ := c["code"].(string)
			if n := pick(c, "display", "designation", "property"); code != "" && len(n) > 0 {
				concepts[code] = n
			}
			sub, _ := c["concept"].([]any)
			walk(sub)
		}
	}
	list, _ := cs["concept"].([]any)
	walk(list)
	out["concept"] = concepts
	return out
}

func valueSet(vs map[string]any) map[string]any {
	out := pick(vs, "name", "title", "status")
	compose, _ := vs["compose"].(map[string]any)
	displays := map[string]any{}
	incs, _ := compose["include"].([]any)
	for _, x := range incs {
		inc, _ := x.(map[string]any)
		sys, _ := inc["system"].(string)
		cs, _ := inc["concept"].([]any)
		for _, y := range cs {
			c, _ := y.(map[string]any)
			code, _ := c["code"].(string)
			d, _ := c["display"].(string)
			if sys == "" || code == "" || d == "" {
				continue
			}
			m, _ := displays[sys].(map[string]any)
			if m == nil {
				m = map[string]any{}
				displays[sys] = m
			}
			m[code] = d
		}
	}
	if len(displays) > 0 {
		out["display"] = displays
	}
	return out
}
