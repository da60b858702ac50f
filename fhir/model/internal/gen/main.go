// Command gen writes model_gen.go, the compact R4 type model read by package
// model, from the StructureDefinition snapshots of the official R4 package
// (Bundle-resources.json and Bundle-types.json). It runs from go generate so
// the model always matches the definitions the server claims to implement.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/dccfhir/dccfhir/internal/r4pkg"
)

type typeRef struct {
	Code          string   `json:"code"`
	TargetProfile []string `json:"targetProfile"`
	Extension     []struct {
		URL      string `json:"url"`
		ValueURL string `json:"valueUrl"`
	} `json:"extension"`
}

type elementDef struct {
	Path             string    `json:"path"`
	SliceName        string    `json:"sliceName"`
	Min              int       `json:"min"`
	Max              string    `json:"max"`
	Type             []typeRef `json:"type"`
	ContentReference string    `json:"contentReference"`
	IsSummary        bool      `json:"isSummary"`
	IsModifier       bool      `json:"isModifier"`
	Binding          *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
}

type structureDef struct {
	ResourceType   string `json:"resourceType"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	Snapshot       struct {
		Element []elementDef `json:"element"`
	} `json:"snapshot"`
}

const fhirTypeExt = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"

// typeCode maps an ElementDefinition.type to the FHIR type name, turning the
// FHIRPath System types used for id/url/value elements into FHIR primitives.
func typeCode(t typeRef) string {
	for _, e := range t.Extension {
		if e.URL == fhirTypeExt && e.ValueURL != "" {
			return e.ValueURL
		}
	}
	if s, ok := strings.CutPrefix(t.Code, "http://hl7.org/fhirpath/System."); ok {
		switch s {
		case "String":
			return "string"
		case "DateTime":
			return "dateTime"
		default:
			return strings.ToLower(s[:1]) + s[1:]
		}
	}
	return t.Code
}

func lastSeg(u string) string {
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		return u[i+1:]
	}
	return u
}

func main() {
	out := flag.String("out", ".", "output directory")
	flag.Parse()
	src, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "model_gen.go"), src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// generate returns the formatted content of model_gen.go.
func generate() ([]byte, error) {
	var sds []structureDef
	for _, f := range []string{"Bundle-types.json", "Bundle-resources.json"} {
		raw, err := r4pkg.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		for _, e := range b.Entry {
			if !bytes.Contains(e.Resource[:min(len(e.Resource), 64)], []byte(`"StructureDefinition"`)) {
				continue
			}
			var sd structureDef
			if err := json.Unmarshal(e.Resource, &sd); err != nil {
				return nil, err
			}
			if sd.ResourceType == "StructureDefinition" {
				sds = append(sds, sd)
			}
		}
	}
	var data strings.Builder
	var aliases []string
	var openTypes string
	ntypes, nelems := 0, 0
	for _, sd := range sds {
		switch sd.Kind {
		case "resource", "complex-type", "primitive-type":
		default:
			continue
		}
		if sd.Derivation == "constraint" {
			aliases = append(aliases, sd.Name+"="+sd.Type)
			continue
		}
		// Group the snapshot by owning path: the type itself and every
		// BackboneElement / Element inside it.
		type owner struct {
			name, base, kind string
			abstract         bool
			lines            []string
		}
		owners := map[string]*owner{}
		var order []string
		add := func(name, base, kind string, abstract bool) {
			if owners[name] == nil {
				owners[name] = &owner{name: name, base: base, kind: kind, abstract: abstract}
				order = append(order, name)
			}
		}
		add(sd.Name, lastSeg(sd.BaseDefinition), sd.Kind, sd.Abstract)
		for i, el := range sd.Snapshot.Element {
			if i == 0 || el.SliceName != "" {
				continue
			}
			path := el.Path
			if sd.Name != sd.Type { // never for specializations, but be safe
				path = sd.Name + strings.TrimPrefix(path, sd.Type)
			}
			dot := strings.LastIndexByte(path, '.')
			parent, name := path[:dot], path[dot+1:]
			var types []string
			if el.ContentReference != "" {
				types = []string{strings.TrimPrefix(el.ContentReference, "#")}
			} else {
				for _, t := range el.Type {
					c := typeCode(t)
					if (c == "BackboneElement" || c == "Element") && len(el.Type) == 1 {
						add(path, c, "backbone", false)
						c = path
					}
					if len(t.TargetProfile) > 0 && (c == "Reference" || c == "canonical") {
						var tg []string
						for _, p := range t.TargetProfile {
							tg = append(tg, lastSeg(p))
						}
						c += "(" + strings.Join(tg, "|") + ")"
					}
					types = append(types, c)
				}
			}
			if sd.Kind == "resource" && parent == sd.Name && name == "id" {
				types = []string{"id"} // the snapshot says string; the specification's tables say id
			}
			if sd.Kind == "primitive-type" && name == "value" {
				continue
			}
			if owners[parent] == nil {
				return nil, fmt.Errorf("%s: element before its parent", path)
			}
			flags := ""
			if el.IsSummary {
				flags += "S"
			}
			if el.IsModifier {
				flags += "M"
			}
			strength, vs := "", ""
			if el.Binding != nil {
				strength = el.Binding.Strength
				if strength == "required" {
					vs = el.Binding.ValueSet
				}
			}
			ts := strings.Join(types, ",")
			if len(types) > 40 { // the open type list of Extension.value[x] and friends
				if openTypes != "" && openTypes != ts {
					return nil, fmt.Errorf("%s: second open type list differs", path)
				}
				openTypes, ts = ts, "*"
			}
			max := el.Max
			owners[parent].lines = append(owners[parent].lines, strings.Join([]string{"E", name, ts, fmt.Sprint(el.Min), max, flags, strength, vs}, "\t"))
		}
		for _, n := range order {
			o := owners[n]
			ab := "0"
			if o.abstract {
				ab = "1"
			}
			fmt.Fprintf(&data, "T\t%s\t%s\t%s\t%s\n", o.name, o.base, o.kind, ab)
			ntypes++
			for _, l := range o.lines {
				data.WriteString(l)
				data.WriteByte('\n')
				nelems++
			}
		}
	}
	if strings.Contains(data.String(), "`") {
		return nil, fmt.Errorf("backquote in model data")
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// Code generated by fhir/model/internal/gen from %s (Bundle-types.json and Bundle-resources.json snapshots); DO NOT EDIT.\n\n", r4pkg.Name)
	fmt.Fprintf(&buf, "package model\n\n// Source is the FHIR package the model was generated from.\nconst Source = %q\n\n", r4pkg.Name)
	fmt.Fprintf(&buf, "// aliases maps constraint profiles of the core types to the type they constrain.\nvar aliases = %#v\n\n", aliases)
	fmt.Fprintf(&buf, "// openTypes is the type list of open choice elements (written * below).\nconst openTypes = %q\n\n", openTypes)
	fmt.Fprintf(&buf, "// modelData holds %d types and %d elements, one per line:\n//\n//\tT name base kind abstract\n//\tE name types min max flags(S=summary,M=modifier) bindingStrength requiredValueSet\n", ntypes, nelems)
	buf.WriteString("const modelData = `" + data.String() + "`\n")
	return format.Source(buf.Bytes())
}
