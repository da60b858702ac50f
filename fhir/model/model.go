package model

import (
	"strconv"
	"strings"
)

// Kind says what sort of type a Type is, because primitives, datatypes,
// resources and backbone elements are serialised and navigated differently.
type Kind uint8

// The kinds of types in the model.
const (
	KindPrimitive Kind = iota + 1 // a primitive datatype such as string or dateTime
	KindComplex                   // a complex datatype such as HumanName
	KindResource                  // a resource type, abstract ones included
	KindBackbone                  // a nested BackboneElement (or Element) addressed by path, e.g. Patient.contact
)

// Type is one resource, datatype or backbone element with its elements in
// snapshot (and so JSON serialisation) order, inherited ones included.
type Type struct {
	// Name is the type name, or the element path for backbones ("Patient.contact").
	Name string
	// Base is the type this one specialises ("DomainResource", "BackboneElement", "" for Element/Resource).
	Base     string
	Kind     Kind
	Abstract bool
	Elements []Element
	byName   map[string]*Element
	// ancestors lists the type itself and every base up to the root.
	ancestors []string
}

// Element is one element definition of a Type.
type Element struct {
	// Name is the element name as defined, "value[x]" for choice elements.
	Name string
	// Path is the full element path, e.g. "Observation.value[x]".
	Path string
	// Types lists the allowed type names; backbones and contentReferences
	// are named by the path of the backbone type ("Questionnaire.item").
	// The slice is shared between elements: treat it as read-only.
	Types []string
	// Targets lists, per entry of Types, the target resource types of a
	// Reference or canonical (nil when unconstrained or not a reference).
	Targets [][]string
	Min     int
	// Max is the maximum cardinality, -1 for "*".
	Max      int
	Summary  bool
	Modifier bool
	// Binding is the binding strength ("required", "extensible", ...), if any.
	Binding string
	// ValueSet is the bound value set for required bindings.
	ValueSet string
	// Choice is set for choice elements (value[x]).
	Choice bool
}

// Repeats reports whether the element is a list (max > 1) and so a JSON array.
func (e *Element) Repeats() bool { return e.Max < 0 || e.Max > 1 }

// JSONName is the JSON property name of the element holding a value of type
// typ: the element name, or for a choice the name with the type appended
// (value[x] + Quantity = valueQuantity).
func (e *Element) JSONName(typ string) string {
	if !e.Choice {
		return e.Name
	}
	return strings.TrimSuffix(e.Name, "[x]") + strings.ToUpper(typ[:1]) + typ[1:]
}

// BaseName is the element name without a choice suffix ("value" for value[x]).
func (e *Element) BaseName() string { return strings.TrimSuffix(e.Name, "[x]") }

// Element returns the element called name: a plain name ("birthDate"), a
// choice base name ("value", giving the choice element with all its types)
// or a typed choice name ("valueQuantity", giving the choice element
// narrowed to that one type). It returns nil when t has no such element.
func (t *Type) Element(name string) *Element {
	if t == nil {
		return nil
	}
	return t.byName[name]
}

var (
	types    = map[string]*Type{}
	aliasMap = map[string]string{}
)

// Lookup returns the type called name ("Patient", "HumanName", "string"),
// a backbone by path ("Patient.contact", "Questionnaire.item.item" via its
// contentReference), or a core constraint profile by name ("SimpleQuantity"
// gives Quantity). A "FHIR." prefix is accepted. It returns nil if unknown.
func Lookup(name string) *Type {
	if t := types[name]; t != nil {
		return t
	}
	name = strings.TrimPrefix(name, "FHIR.")
	if t := types[name]; t != nil {
		return t
	}
	if a, ok := aliasMap[name]; ok {
		return types[a]
	}
	// A path through backbones: walk the elements.
	dot := strings.IndexByte(name, '.')
	if dot < 0 {
		return nil
	}
	t := types[name[:dot]]
	for rest := name[dot+1:]; t != nil && rest != ""; {
		seg := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		e := t.Element(seg)
		if e == nil || len(e.Types) != 1 {
			return nil
		}
		t = types[e.Types[0]]
	}
	return t
}

// IsResource reports whether name is a resource type (abstract Resource and
// DomainResource included).
func IsResource(name string) bool {
	t := Lookup(name)
	return t != nil && t.Kind == KindResource
}

// IsPrimitive reports whether name is a FHIR primitive type.
func IsPrimitive(name string) bool {
	t := types[name]
	return t != nil && t.Kind == KindPrimitive
}

// IsA reports whether type name is base or derives from it ("Age" is a
// "Quantity", "Patient" is a "DomainResource", "code" is a "string").
func IsA(name, base string) bool {
	if name == base {
		return true
	}
	t := types[name]
	if t == nil {
		if t = types[strings.TrimPrefix(name, "FHIR.")]; t == nil {
			return false
		}
	}
	for _, a := range t.ancestors {
		if a == base {
			return true
		}
	}
	if b := strings.TrimPrefix(base, "FHIR."); b != base {
		return IsA(t.Name, b)
	}
	if a, ok := aliasMap[base]; ok {
		return IsA(t.Name, a)
	}
	return false
}

// Names lists every type in the model, backbones included, in generated order.
func Names() []string { return names }

var names []string

func init() { parse(modelData) }

// parse builds the maps from the generated text once at start-up.
func parse(data string) {
	open := strings.Split(openTypes, ",")
	typeLists := map[string][]string{}
	for _, a := range aliases {
		k, v, _ := strings.Cut(a, "=")
		aliasMap[k] = v
	}
	var cur *Type
	finish := func() {
		if cur == nil {
			return
		}
		cur.byName = make(map[string]*Element, len(cur.Elements)*2)
		for i := range cur.Elements {
			e := &cur.Elements[i]
			e.Path = cur.Name + "." + e.Name
			if !e.Choice {
				cur.byName[e.Name] = e
				continue
			}
			cur.byName[e.BaseName()] = e
			for j, ty := range e.Types {
				v := *e
				v.Types = e.Types[j : j+1 : j+1]
				if e.Targets != nil {
					v.Targets = e.Targets[j : j+1 : j+1]
				}
				cur.byName[e.JSONName(ty)] = &v
			}
		}
		types[cur.Name] = cur
		names = append(names, cur.Name)
	}
	for len(data) > 0 {
		line := data
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = ""
		}
		var f [8]string
		for i, rest := 0, line; i < len(f); i++ {
			f[i], rest, _ = strings.Cut(rest, "\t")
		}
		switch f[0] {
		case "T":
			finish()
			cur = &Type{Name: f[1], Base: f[2], Abstract: f[4] == "1"}
			// Size the element list: count the E lines up to the next T.
			n := 0
			for rest := data; strings.HasPrefix(rest, "E\t"); n++ {
				i := strings.IndexByte(rest, '\n')
				if i < 0 {
					n++
					break
				}
				rest = rest[i+1:]
			}
			cur.Elements = make([]Element, 0, n)
			switch f[3] {
			case "primitive-type":
				cur.Kind = KindPrimitive
			case "complex-type":
				cur.Kind = KindComplex
			case "resource":
				cur.Kind = KindResource
			default:
				cur.Kind = KindBackbone
			}
		case "E":
			e := Element{Name: f[1], Summary: strings.Contains(f[5], "S"), Modifier: strings.Contains(f[5], "M"), Binding: f[6], ValueSet: f[7]}
			e.Choice = strings.HasSuffix(e.Name, "[x]")
			if f[2] == "*" {
				e.Types = open
			} else if ts, ok := typeLists[f[2]]; ok {
				e.Types = ts // shared, read-only
			} else if f[2] != "" {
				var targets [][]string
				hasTargets := false
				for _, ty := range strings.Split(f[2], ",") {
					var tg []string
					if i := strings.IndexByte(ty, '('); i >= 0 {
						tg = strings.Split(ty[i+1:len(ty)-1], "|")
						ty, hasTargets = ty[:i], true
					}
					e.Types = append(e.Types, ty)
					targets = append(targets, tg)
				}
				if hasTargets {
					e.Targets = targets
				} else {
					typeLists[f[2]] = e.Types
				}
			}
			e.Min, _ = strconv.Atoi(f[3])
			if f[4] == "*" {
				e.Max = -1
			} else {
				e.Max, _ = strconv.Atoi(f[4])
			}
			cur.Elements = append(cur.Elements, e)
		}
	}
	finish()
	for _, t := range types {
		for n := t.Name; n != ""; {
			t.ancestors = append(t.ancestors, n)
			b := types[n]
			if b == nil {
				break
			}
			n = b.Base
		}
	}
}
