package fhirpath

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// xmlToJSON converts a FHIR XML resource into the generic JSON tree, using
// the model for element types and cardinality. It is enough for the HL7
// FHIRPath suite inputs, not a general-purpose converter.
func xmlToJSON(b []byte) (map[string]any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return xmlResource(dec, se)
		}
	}
}

func xmlResource(dec *xml.Decoder, se xml.StartElement) (map[string]any, error) {
	obj := map[string]any{"resourceType": se.Name.Local}
	if err := xmlChildren(dec, obj, se.Name.Local); err != nil {
		return nil, err
	}
	return obj, nil
}

// xmlChildren reads child elements up to the parent's end into obj.
func xmlChildren(dec *xml.Decoder, obj map[string]any, typ string) error {
	t := model.Lookup(typ)
	if t == nil {
		return fmt.Errorf("unknown type %s", typ)
	}
	type prim struct{ vals, exts []any }
	prims := map[string]*prim{}
	var order []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch x := tok.(type) {
		case xml.EndElement:
			for _, name := range order {
				p := prims[name]
				e := t.Element(name)
				hasVal, hasExt := false, false
				for i := range p.vals {
					hasVal = hasVal || p.vals[i] != nil
					hasExt = hasExt || p.exts[i] != nil
				}
				if e.Repeats() {
					if hasVal {
						obj[name] = p.vals
					}
					if hasExt {
						obj["_"+name] = p.exts
					}
				} else {
					if hasVal {
						obj[name] = p.vals[0]
					}
					if hasExt {
						obj["_"+name] = p.exts[0]
					}
				}
			}
			return nil
		case xml.StartElement:
			name := x.Name.Local
			e := t.Element(name)
			if e == nil {
				if err := dec.Skip(); err != nil {
					return err
				}
				continue
			}
			ty := e.Types[0]
			var val any
			switch {
			case ty == "xhtml":
				var inner struct {
					XML string `xml:",innerxml"`
				}
				if err := dec.DecodeElement(&inner, &x); err != nil {
					return err
				}
				val = `<div xmlns="http://www.w3.org/1999/xhtml">` + inner.XML + `</div>`
			case ty == "Resource" || model.IsResource(ty):
				var res map[string]any
				for res == nil {
					tok, err := dec.Token()
					if err != nil {
						return err
					}
					if rs, ok := tok.(xml.StartElement); ok {
						if res, err = xmlResource(dec, rs); err != nil {
							return err
						}
					}
				}
				if err := dec.Skip(); err != nil && err != io.EOF {
					return err
				}
				val = res
			case model.IsPrimitive(ty):
				var v any
				ext := map[string]any{}
				for _, a := range x.Attr {
					switch a.Name.Local {
					case "value":
						v = primitiveJSON(ty, a.Value)
					case "id":
						ext["id"] = a.Value
					}
				}
				if err := xmlChildren(dec, ext, ty); err != nil {
					return err
				}
				p := prims[name]
				if p == nil {
					p = &prim{}
					prims[name] = p
					order = append(order, name)
				}
				p.vals = append(p.vals, v)
				if len(ext) == 0 {
					p.exts = append(p.exts, nil)
				} else {
					p.exts = append(p.exts, ext)
				}
				continue
			default:
				child := map[string]any{}
				for _, a := range x.Attr {
					if a.Name.Local == "id" || a.Name.Local == "url" {
						child[a.Name.Local] = a.Value
					}
				}
				if err := xmlChildren(dec, child, ty); err != nil {
					return err
				}
				val = child
			}
			if e.Repeats() {
				arr, _ := obj[name].([]any)
				obj[name] = append(arr, val)
			} else {
				obj[name] = val
			}
		}
	}
}

func primitiveJSON(ty, v string) any {
	switch ty {
	case "boolean":
		return v == "true"
	case "integer", "positiveInt", "unsignedInt", "decimal":
		return json.Number(v)
	}
	return v
}
