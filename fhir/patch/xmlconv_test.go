package patch

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// This file is a small test-only FHIR XML to JSON converter, enough for the
// fhir-test-cases patch suite: value attributes for primitives (typed by the
// R4 model), arrays where the model says an element repeats, primitive
// extensions as "_name" siblings and xhtml div as a string.

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// xnode is one parsed XML element; xhtml holds a serialised div.
type xnode struct {
	name     string
	attrs    map[string]string
	children []*xnode
	xhtml    string
}

// parseXML reads the next element from d (after its start token).
func parseXML(d *xml.Decoder, start xml.StartElement) (*xnode, error) {
	n := &xnode{name: start.Name.Local, attrs: map[string]string{}}
	if start.Name.Space == xhtmlNS && start.Name.Local == "div" {
		var b strings.Builder
		if err := writeXHTML(d, start, &b, true); err != nil {
			return nil, err
		}
		n.xhtml = b.String()
		return n, nil
	}
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local != "xmlns" {
			n.attrs[a.Name.Local] = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := parseXML(d, t)
			if err != nil {
				return nil, err
			}
			n.children = append(n.children, c)
		case xml.EndElement:
			return n, nil
		}
	}
}

// writeXHTML serialises an xhtml element the way FHIR JSON carries it.
func writeXHTML(d *xml.Decoder, start xml.StartElement, b *strings.Builder, root bool) error {
	b.WriteString("<" + start.Name.Local)
	if root {
		b.WriteString(` xmlns="` + xhtmlNS + `"`)
	}
	for _, a := range start.Attr {
		if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
			continue
		}
		fmt.Fprintf(b, ` %s="%s"`, a.Name.Local, strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;").Replace(a.Value))
	}
	b.WriteString(">")
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := writeXHTML(d, t, b, false); err != nil {
				return err
			}
		case xml.CharData:
			b.WriteString(strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(string(t)))
		case xml.EndElement:
			b.WriteString("</" + t.Name.Local + ">")
			return nil
		}
	}
}

// xmlToResource converts a FHIR resource element to the generic JSON tree.
func xmlToResource(n *xnode) map[string]any {
	obj := map[string]any{"resourceType": n.name}
	fillObject(obj, n, n.name)
	return obj
}

func fillObject(obj map[string]any, n *xnode, typeName string) {
	if id, ok := n.attrs["id"]; ok {
		obj["id"] = id
	}
	if u, ok := n.attrs["url"]; ok {
		obj["url"] = u
	}
	t := model.Lookup(typeName)
	for _, c := range n.children {
		e := t.Element(c.name)
		repeats, childType := false, ""
		if e != nil {
			repeats = e.Repeats()
			if len(e.Types) == 1 {
				childType = e.Types[0]
			}
		}
		var v, ext any
		switch {
		case c.xhtml != "":
			v = c.xhtml
		case model.IsResource(childType) && len(c.children) == 1:
			v = xmlToResource(c.children[0])
		case model.IsPrimitive(childType) || (childType == "" && c.attrs["value"] != ""):
			if s, ok := c.attrs["value"]; ok {
				v = primitive(s, childType)
			}
			if len(c.children) > 0 || c.attrs["id"] != "" {
				m := map[string]any{}
				fillObject(m, &xnode{attrs: map[string]string{"id": c.attrs["id"]}, children: c.children}, "Element")
				if m["id"] == "" {
					delete(m, "id")
				}
				ext = m
			}
		default:
			m := map[string]any{}
			fillObject(m, c, childType)
			v = m
		}
		if repeats {
			a, _ := obj[c.name].([]any)
			insertAt(obj, c.name, len(a), v, ext)
			continue
		}
		if v != nil {
			obj[c.name] = v
		}
		if ext != nil {
			obj["_"+c.name] = ext
		}
	}
}

func primitive(s, typ string) any {
	switch typ {
	case "boolean":
		return s == "true"
	case "integer", "decimal", "positiveInt", "unsignedInt":
		return json.Number(s)
	}
	return s
}

// patchCase is one <case> of fhir-patch-tests.xml.
type patchCase struct {
	name, mode   string
	input, diff  map[string]any
	output       map[string]any
	errMsg       string
	hasErrorNode bool
}

func parsePatchCases(r io.Reader) ([]patchCase, error) {
	d := xml.NewDecoder(r)
	var root *xnode
	for root == nil {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root, err = parseXML(d, se); err != nil {
				return nil, err
			}
		}
	}
	var out []patchCase
	for _, c := range root.children {
		pc := patchCase{name: c.attrs["name"], mode: c.attrs["mode"]}
		for _, part := range c.children {
			var res map[string]any
			if len(part.children) == 1 {
				res = xmlToResource(part.children[0])
			}
			switch part.name {
			case "input":
				pc.input = res
			case "diff":
				pc.diff = res
			case "output":
				pc.output = res
			case "error":
				pc.hasErrorNode, pc.errMsg = true, part.attrs["msg"]
			}
		}
		out = append(out, pc)
	}
	return out, nil
}
