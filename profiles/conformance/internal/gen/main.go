// Command gen writes r4base.json.gz, the compact copy of the R4 base
// definitions embedded in package conformance: every StructureDefinition of
// the official R4 package (resources, datatypes, core extensions and core
// profiles) with only the snapshot fields validation and snapshot generation
// read, and the ValueSets and CodeSystems reduced to their compose and codes.
// Embedding keeps the server self-contained (no package download at run
// time) for about half a megabyte.
//
// It runs from go generate (go generate ./profiles/conformance) and reads the
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
	"strings"

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
	var all []map[string]any
	for _, r := range p.Resources {
		switch r.Type {
		case "StructureDefinition":
			all = append(all, compactSD(r.JSON))
		case "ValueSet":
			all = append(all, compactVS(r.JSON))
		case "CodeSystem":
			all = append(all, compactCS(r.JSON))
		}
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(all); err != nil {
		log.Fatal(err)
	}
	zw.Close()
	if err := os.WriteFile(filepath.Join(*out, "r4base.json.gz"), buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%d resources, %d bytes", len(all), buf.Len())
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

func compactSD(sd map[string]any) map[string]any {
	out := pick(sd, "resourceType", "url", "version", "name", "type", "kind", "abstract", "baseDefinition", "derivation", "context")
	snap, _ := sd["snapshot"].(map[string]any)
	els, _ := snap["element"].([]any)
	var ce []any
	for _, x := range els {
		e := x.(map[string]any)
		c := pick(e, "id", "path", "sliceName", "slicing", "min", "max", "base", "contentReference", "maxLength")
		for k, v := range e {
			if strings.HasPrefix(k, "fixed") || strings.HasPrefix(k, "pattern") {
				c[k] = v
			}
		}
		if b, ok := e["binding"].(map[string]any); ok {
			c["binding"] = pick(b, "strength", "valueSet")
		}
		if ts, ok := e["type"].([]any); ok {
			var nt []any
			for _, t := range ts {
				nt = append(nt, pick(t.(map[string]any), "code", "profile", "targetProfile"))
			}
			c["type"] = nt
		}
		if cs, ok := e["constraint"].([]any); ok {
			var nc []any
			for _, k := range cs {
				nc = append(nc, pick(k.(map[string]any), "key", "severity", "human", "expression", "source"))
			}
			c["constraint"] = nc
		}
		if s, ok := c["slicing"].(map[string]any); ok {
			c["slicing"] = pick(s, "discriminator", "rules", "ordered")
		}
		ce = append(ce, c)
	}
	out["snapshot"] = map[string]any{"element": ce}
	return out
}

func compactVS(vs map[string]any) map[string]any {
	out := pick(vs, "resourceType", "url", "version")
	if c, ok := vs["compose"].(map[string]any); ok {
		nc := map[string]any{}
		for _, part := range []string{"include", "exclude"} {
			incs, _ := c[part].([]any)
			var ni []any
			for _, x := range incs {
				inc := x.(map[string]any)
				n := pick(inc, "system", "version", "filter", "valueSet")
				if cs, ok := inc["concept"].([]any); ok {
					var codes []any
					for _, k := range cs {
						codes = append(codes, pick(k.(map[string]any), "code"))
					}
					n["concept"] = codes
				}
				ni = append(ni, n)
			}
			if ni != nil {
				nc[part] = ni
			}
		}
		out["compose"] = nc
	}
	return out
}

func compactConcepts(cs []any) []any {
	var out []any
	for _, x := range cs {
		c := x.(map[string]any)
		n := pick(c, "code")
		if sub, ok := c["concept"].([]any); ok {
			n["concept"] = compactConcepts(sub)
		}
		out = append(out, n)
	}
	return out
}

func compactCS(cs map[string]any) map[string]any {
	out := pick(cs, "resourceType", "url", "version", "content", "caseSensitive", "hierarchyMeaning", "valueSet")
	if c, ok := cs["concept"].([]any); ok {
		out["concept"] = compactConcepts(c)
	}
	return out
}
