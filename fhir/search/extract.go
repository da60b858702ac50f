package search

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"sync"

	"github.com/dccfhir/dccfhir/fhir/model"
	"github.com/dccfhir/dccfhir/fhir/search/query"
)

// Extract computes the search index of resource res of type typ: every
// supported parameter of typ is evaluated and its values turned into
// entries per the R4 rules (a CodeableConcept gives a token per coding, a
// HumanName a string per part, a Period a date range, ...). Duplicate
// entries of a parameter are dropped. An error means an expression failed
// on this resource; it does not happen for the R4 table on valid resources.
func Extract(reg *Registry, typ string, res map[string]any) (*query.Index, error) {
	return ExtractLocal(reg, typ, res, "")
}

// ExtractLocal is Extract for a server whose own FHIR base is base:
// absolute references to it (http://host/fhir/Patient/1) are indexed as the
// local references they denote, for searches and compartments alike.
func ExtractLocal(reg *Registry, typ string, res map[string]any, base string) (*query.Index, error) {
	x := extractors.Get().(*extractor)
	defer extractors.Put(x)
	x.root = res
	idx := &query.Index{}
	root := node{v: res, t: typ}
	for _, p := range reg.Params(typ) {
		if p.eval == nil {
			continue
		}
		var err error
		x.buf, err = p.eval.eval(root, res, true, x.buf[:0])
		if err != nil {
			return nil, fmt.Errorf("search parameter %s: %w", p.Code, err)
		}
		if len(x.buf) == 0 {
			continue
		}
		if p.Type == query.TypeComposite {
			if err := x.composite(idx, p); err != nil {
				return nil, err
			}
			continue
		}
		mark := marksOf(idx)
		for _, n := range x.buf {
			addNode(idx, p.Code, p.Type, n, res)
		}
		dedup(idx, mark)
	}
	localizeRefs(idx, base)
	if err := addCompartments(idx, reg, typ, res, base); err != nil {
		return nil, err
	}
	return idx, nil
}

// extractor holds reusable buffers across extractions.
type extractor struct {
	root map[string]any
	buf  []node
	cbuf []node
}

var extractors = sync.Pool{New: func() any { return &extractor{} }}

func (x *extractor) composite(idx *query.Index, p *Param) error {
	focus := append([]node(nil), x.buf...)
	for _, f := range focus {
		e := query.CompositeEntry{Param: p.Code, Parts: make([]query.Index, len(p.comps))}
		complete := true
		for i, c := range p.comps {
			var err error
			x.cbuf, err = c.eval(f, x.root, false, x.cbuf[:0])
			if err != nil {
				return fmt.Errorf("search parameter %s component %s: %w", p.Code, p.Components[i].Code, err)
			}
			for _, n := range x.cbuf {
				addNode(&e.Parts[i], p.Components[i].Code, p.Components[i].Type, n, x.root)
			}
			if e.Parts[i].Empty() {
				complete = false
				break
			}
		}
		if complete {
			idx.Composites = append(idx.Composites, e)
		}
	}
	return nil
}

// addNode turns one selected value into entries of param code.
func addNode(idx *query.Index, code string, pt query.ParamType, n node, root map[string]any) {
	switch pt {
	case query.TypeString:
		addString(idx, code, n)
	case query.TypeToken:
		addToken(idx, code, n)
	case query.TypeReference:
		addRef(idx, code, n, root)
	case query.TypeDate:
		if lo, hi, ok := dateOf(n); ok {
			idx.Dates = append(idx.Dates, query.DateEntry{Param: code, Low: lo, High: hi})
		}
	case query.TypeNumber:
		if s, ok := numText(n.v); ok {
			if v, lo, hi, err := query.NumberRange(s); err == nil {
				idx.Numbers = append(idx.Numbers, query.NumberEntry{Param: code, Value: v, Low: lo, High: hi})
			}
		}
	case query.TypeQuantity:
		addQuantity(idx, code, n)
	case query.TypeURI:
		if s, ok := n.v.(string); ok && s != "" {
			idx.URIs = append(idx.URIs, query.URIEntry{Param: code, Value: s})
		}
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func addStr(idx *query.Index, code, s string) {
	if s = strings.TrimSpace(s); s != "" {
		idx.Strings = append(idx.Strings, query.StringEntry{Param: code, Norm: query.NormString(s), Exact: s})
	}
}

func addString(idx *query.Index, code string, n node) {
	switch v := n.v.(type) {
	case string:
		addStr(idx, code, v)
	case map[string]any:
		switch n.t {
		case "HumanName":
			addStr(idx, code, str(v, "text"))
			addStr(idx, code, str(v, "family"))
			for _, k := range [...]string{"given", "prefix", "suffix"} {
				for _, s := range strList(v[k]) {
					addStr(idx, code, s)
				}
			}
		case "Address":
			addStr(idx, code, str(v, "text"))
			for _, s := range strList(v["line"]) {
				addStr(idx, code, s)
			}
			for _, k := range [...]string{"city", "district", "state", "postalCode", "country"} {
				addStr(idx, code, str(v, k))
			}
		default:
			// Other complex types: their human-readable text, if any.
			addStr(idx, code, str(v, "text"))
			addStr(idx, code, str(v, "display"))
		}
	}
}

func strList(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func addToken(idx *query.Index, code string, n node) {
	switch v := n.v.(type) {
	case string:
		if v != "" {
			idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, System: n.sys, Code: v})
		}
	case bool:
		idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, Code: strconv.FormatBool(v)})
	case json.Number:
		idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, Code: v.String()})
	case map[string]any:
		switch n.t {
		case "CodeableConcept":
			addConcept(idx, code, v)
		case "Coding":
			addCoding(idx, code, v, "")
		case "Identifier":
			e := query.TokenEntry{Param: code, System: str(v, "system"), Code: str(v, "value")}
			if t, ok := v["type"].(map[string]any); ok {
				e.Text = query.NormString(str(t, "text"))
				if cs, _ := t["coding"].([]any); len(cs) > 0 {
					if c, ok := cs[0].(map[string]any); ok {
						e.TypeSystem, e.TypeCode = str(c, "system"), str(c, "code")
						if e.Text == "" {
							e.Text = query.NormString(str(c, "display"))
						}
					}
				}
			}
			if e.Code != "" || e.System != "" {
				idx.Tokens = append(idx.Tokens, e)
			}
		case "ContactPoint":
			if val := str(v, "value"); val != "" {
				idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, System: str(v, "system"), Code: val})
			}
		case "Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity":
			if c := str(v, "code"); c != "" {
				idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, System: str(v, "system"), Code: c, Text: query.NormString(str(v, "unit"))})
			}
		case "Reference":
			if id, ok := v["identifier"].(map[string]any); ok {
				addToken(idx, code, node{v: id, t: "Identifier"})
			}
		}
	}
}

// addConcept adds a token per coding, with the coding's display (or the
// concept's text) as Text, and a text-only token when the concept has text
// but no coding carries it.
func addConcept(idx *query.Index, code string, cc map[string]any) {
	text := str(cc, "text")
	cs, _ := cc["coding"].([]any)
	textUsed := text == ""
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			d := str(m, "display")
			if d == "" || d == text {
				d, textUsed = text, true
			}
			addCoding(idx, code, m, d)
		}
	}
	if !textUsed {
		idx.Tokens = append(idx.Tokens, query.TokenEntry{Param: code, Text: query.NormString(text)})
	}
}

func addCoding(idx *query.Index, code string, c map[string]any, display string) {
	if display == "" {
		display = str(c, "display")
	}
	e := query.TokenEntry{Param: code, System: str(c, "system"), Code: str(c, "code"), Text: query.NormString(display)}
	if e.Code != "" || e.System != "" || e.Text != "" {
		idx.Tokens = append(idx.Tokens, e)
	}
}

func addRef(idx *query.Index, code string, n node, root map[string]any) {
	switch v := n.v.(type) {
	case string: // canonical, uri, url
		if v == "" {
			return
		}
		if n.t == "canonical" {
			u, ver := splitCanonical(v)
			idx.Refs = append(idx.Refs, query.RefEntry{Param: code, URL: u, Version: ver})
			return
		}
		idx.Refs = append(idx.Refs, refEntry(code, v, root))
	case map[string]any:
		if n.t != "Reference" {
			// A resource (e.g. Bundle.entry.resource): a reference to itself.
			if rt := str(v, "resourceType"); rt != "" && str(v, "id") != "" {
				idx.Refs = append(idx.Refs, query.RefEntry{Param: code, Type: rt, ID: str(v, "id")})
			}
			return
		}
		var e query.RefEntry
		if ref := str(v, "reference"); ref != "" {
			e = refEntry(code, ref, root)
		} else {
			e.Param = code
			if t := refTargetType(v, root); t != "" {
				e.Type = t
			}
		}
		if id, ok := v["identifier"].(map[string]any); ok {
			if sys, val := str(id, "system"), str(id, "value"); sys != "" || val != "" {
				e.Identifier = sys + "|" + val
			}
		}
		if e.ID != "" || e.URL != "" || e.Identifier != "" {
			idx.Refs = append(idx.Refs, e)
		}
	}
}

// refEntry parses a literal reference: Type/id[/_history/v] gives Type and
// ID; "#id" a contained resource (URL "#id", Type from the contained
// resource); anything else (absolute URL, urn:uuid:) is kept as URL, with
// Type too when the URL ends in Type/id.
func refEntry(code, ref string, root map[string]any) query.RefEntry {
	e := query.RefEntry{Param: code}
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		e.URL = ref
		if c := containedByID(root, id); c != nil {
			e.Type = str(c, "resourceType")
		}
		return e
	}
	t, id, base := splitRef(ref)
	if t != "" && base == "" {
		e.Type, e.ID = t, id
		return e
	}
	// An absolute reference may be to another server: keep the URL, and
	// the Type so type restrictions still apply, but no ID to match on.
	e.URL, e.Type = ref, t
	return e
}

// dateOf is the range of a date, dateTime, instant, Period or Timing.
func dateOf(n node) (lo, hi int64, ok bool) {
	switch v := n.v.(type) {
	case string:
		if n.t == "time" {
			return 0, 0, false
		}
		lo, hi, err := query.DateRange(v)
		return lo, hi, err == nil
	case map[string]any:
		switch n.t {
		case "Period":
			return periodOf(v)
		case "Timing":
			lo, hi = query.MaxTime, query.MinTime
			for _, e := range strList(v["event"]) {
				if l, h, err := query.DateRange(e); err == nil {
					lo, hi = min(lo, l), max(hi, h)
				}
			}
			if r, ok := v["repeat"].(map[string]any); ok {
				if bp, ok := r["boundsPeriod"].(map[string]any); ok {
					if l, h, ok := periodOf(bp); ok {
						lo, hi = min(lo, l), max(hi, h)
					}
				}
			}
			return lo, hi, lo <= hi
		}
	}
	return 0, 0, false
}

// periodOf is a Period's range; a missing start or end is open (MinTime/MaxTime).
func periodOf(p map[string]any) (lo, hi int64, ok bool) {
	lo, hi = query.MinTime, query.MaxTime
	s, e := str(p, "start"), str(p, "end")
	if s == "" && e == "" {
		return 0, 0, false
	}
	if s != "" {
		l, _, err := query.DateRange(s)
		if err != nil {
			return 0, 0, false
		}
		lo = l
	}
	if e != "" {
		_, h, err := query.DateRange(e)
		if err != nil {
			return 0, 0, false
		}
		hi = h
	}
	return lo, hi, true
}

// numText is the decimal text of a number value (json.Number, or a
// computed int64/float64).
func numText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return x.String(), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func addQuantity(idx *query.Index, code string, n node) {
	m, ok := n.v.(map[string]any)
	if !ok {
		if s, ok := numText(n.v); ok { // a bare number
			if v, lo, hi, err := query.NumberRange(s); err == nil {
				idx.Quantities = append(idx.Quantities, query.QuantityEntry{Param: code, Value: v, Low: lo, High: hi})
			}
		}
		return
	}
	switch {
	case n.t == "Range":
		lo, _ := m["low"].(map[string]any)
		hi, _ := m["high"].(map[string]any)
		e := query.QuantityEntry{Param: code, Low: math.Inf(-1), High: math.Inf(1)}
		found := false
		for i, q := range [2]map[string]any{lo, hi} {
			if q == nil {
				continue
			}
			s, ok := numText(q["value"])
			if !ok {
				continue
			}
			v, l, h, err := query.NumberRange(s)
			if err != nil {
				continue
			}
			if i == 0 {
				e.Low, e.Value = l, v
			} else {
				e.High = h
				if !found {
					e.Value = v
				}
			}
			if !found {
				e.System, e.Code, e.Unit = str(q, "system"), str(q, "code"), str(q, "unit")
			}
			found = true
		}
		if found {
			idx.Quantities = append(idx.Quantities, e)
		}
	case n.t == "Money":
		if s, ok := numText(m["value"]); ok {
			if v, l, h, err := query.NumberRange(s); err == nil {
				cur := str(m, "currency")
				idx.Quantities = append(idx.Quantities, query.QuantityEntry{Param: code, System: "urn:iso:std:iso:4217", Code: cur, Unit: cur, Value: v, Low: l, High: h})
			}
		}
	case model.IsA(n.t, "Quantity"):
		if s, ok := numText(m["value"]); ok {
			if v, l, h, err := query.NumberRange(s); err == nil {
				idx.Quantities = append(idx.Quantities, query.QuantityEntry{Param: code, System: str(m, "system"), Code: str(m, "code"), Unit: str(m, "unit"), Value: v, Low: l, High: h})
			}
		}
	}
}

// indexMarks are the slice lengths before a parameter's entries were added.
type indexMarks [7]int

func marksOf(idx *query.Index) indexMarks {
	return indexMarks{len(idx.Strings), len(idx.Tokens), len(idx.Refs), len(idx.Dates), len(idx.Numbers), len(idx.Quantities), len(idx.URIs)}
}

// dedup drops repeated entries added since m (a union may select a value
// twice, e.g. Observation combo-code).
func dedup(idx *query.Index, m indexMarks) {
	idx.Strings = dedupFrom(idx.Strings, m[0])
	idx.Tokens = dedupFrom(idx.Tokens, m[1])
	idx.Refs = dedupFrom(idx.Refs, m[2])
	idx.Dates = dedupFrom(idx.Dates, m[3])
	idx.Numbers = dedupFrom(idx.Numbers, m[4])
	idx.Quantities = dedupFrom(idx.Quantities, m[5])
	idx.URIs = dedupFrom(idx.URIs, m[6])
}

func dedupFrom[E comparable](s []E, from int) []E {
	n := len(s) - from
	if n < 2 {
		return s
	}
	if n <= 32 {
		out := s[:from]
		for i := from; i < len(s); i++ {
			dup := false
			for j := from; j < len(out); j++ {
				if out[j] == s[i] {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, s[i])
			}
		}
		return out
	}
	seen := make(map[E]struct{}, n)
	out := s[:from]
	for i := from; i < len(s); i++ {
		if _, ok := seen[s[i]]; !ok {
			seen[s[i]] = struct{}{}
			out = append(out, s[i])
		}
	}
	return out
}

func localizeRefs(idx *query.Index, base string) {
	if base == "" {
		return
	}
	prefix := strings.TrimRight(base, "/") + "/"
	for i := range idx.Refs {
		r := &idx.Refs[i]
		if r.ID != "" || !strings.HasPrefix(r.URL, prefix) {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(r.URL, prefix), "/")
		if len(parts) >= 2 && fhir.KnownType(parts[0]) && fhir.ValidID(parts[1]) {
			r.Type, r.ID, r.URL = parts[0], parts[1], ""
		}
	}
}
