package fhir

import (
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// subsetted is the meta.tag a server adds when it returns part of a resource.
const subsetted = `{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"Resource content was modified or removed"}`

// Summarize applies _summary (true, text, data, false) and _elements to a
// stored resource, keeping the mandatory elements (resourceType, id, meta)
// and tagging the result SUBSETTED. It works member by member on the raw
// bytes: kept members are copied untouched.
func Summarize(typ string, js []byte, summary string, elements []string) ([]byte, error) {
	if (summary == "" || summary == "false") && len(elements) == 0 {
		return js, nil
	}
	ms, err := members(js, true) // stored bytes: kept readable even if written before the checks
	if err != nil {
		return nil, err
	}
	var keep func(k string) bool
	switch {
	case summary == "text":
		keep = func(k string) bool { return k == "text" }
	case summary == "data":
		keep = func(k string) bool { return k != "text" }
	case summary == "true":
		t := model.Lookup(typ)
		keep = func(k string) bool {
			if t == nil {
				return false
			}
			e := t.Element(strings.TrimPrefix(k, "_"))
			return e != nil && e.Summary
		}
	default:
		set := map[string]bool{}
		for _, e := range elements {
			// _elements names top-level elements; Type.element is accepted too.
			e = strings.TrimPrefix(strings.TrimSpace(e), typ+".")
			if i := strings.IndexByte(e, '.'); i >= 0 {
				e = e[:i]
			}
			set[e] = true
		}
		keep = func(k string) bool {
			k = strings.TrimPrefix(k, "_")
			if set[k] {
				return true
			}
			// a choice element asked for by its base name (value → valueQuantity)
			for e := range set {
				if len(k) > len(e) && strings.HasPrefix(k, e) && k[len(e)] >= 'A' && k[len(e)] <= 'Z' {
					return true
				}
			}
			return false
		}
	}
	out := make([]Member, 0, len(ms))
	var meta []byte
	for _, m := range ms {
		switch m.Key {
		case "resourceType", "id":
			out = append(out, m)
		case "meta":
			meta = m.Value
			out = append(out, m)
		default:
			if keep(m.Key) {
				out = append(out, m)
			}
		}
	}
	// tag SUBSETTED in meta
	tagged, err := tagSubsetted(meta)
	if err != nil {
		return nil, err
	}
	found := false
	for i := range out {
		if out[i].Key == "meta" {
			out[i].Value, found = tagged, true
		}
	}
	if !found {
		at := 0
		for at < len(out) && (out[at].Key == "resourceType" || out[at].Key == "id") {
			at++
		}
		out = append(out[:at], append([]Member{{"meta", tagged}}, out[at:]...)...)
	}
	return Object(out), nil
}

func tagSubsetted(meta []byte) ([]byte, error) {
	if meta == nil {
		meta = []byte("{}")
	}
	ms, err := members(meta, true)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		if m.Key == "tag" {
			v := m.Value
			if len(v) > 2 {
				ms[i].Value = append(append(append([]byte{}, v[:len(v)-1]...), ','), append([]byte(subsetted), ']')...)
			} else {
				ms[i].Value = []byte("[" + subsetted + "]")
			}
			return Object(ms), nil
		}
	}
	return Object(append(ms, Member{"tag", []byte("[" + subsetted + "]")})), nil
}
