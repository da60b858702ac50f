package conformance

import (
	"fmt"
	"strings"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// ensureSnapshot generates sd's snapshot from its differential and its base
// definition's snapshot when the package shipped none (our DCC profiles are
// authored as differentials). Called with s.mu held.
func (s *Set) ensureSnapshot(sd *StructureDefinition, depth int) error {
	if len(sd.Snapshot) > 0 {
		return nil
	}
	if depth > 20 {
		return fmt.Errorf("conformance: %s: baseDefinition chain too deep", sd.URL)
	}
	if len(sd.Differential) == 0 {
		return fmt.Errorf("conformance: %s has neither snapshot nor differential", sd.URL)
	}
	parent := s.sdLocked(sd.BaseDefinition)
	if parent == nil {
		return fmt.Errorf("conformance: %s: base definition %s is not loaded", sd.URL, sd.BaseDefinition)
	}
	if err := s.ensureSnapshot(parent, depth+1); err != nil {
		return err
	}
	snap, err := s.generate(sd, parent, depth)
	if err != nil {
		return err
	}
	sd.Snapshot = snap
	return nil
}

// generate merges sd.Differential onto a copy of parent's snapshot: each
// differential element overlays the element with the same id (path plus
// slice names); a new slice is copied from the sliced element and inserted
// after the last of its siblings; constraining inside a datatype that the
// base does not expand pulls in that type's definition (or the type's
// profile, which is how an extension slice gets its value[x] and nested
// extensions).
func (s *Set) generate(sd, parent *StructureDefinition, depth int) ([]map[string]any, error) {
	snap := make([]map[string]any, len(parent.Snapshot))
	for i, e := range parent.Snapshot {
		snap[i] = cloneMap(e)
		ensureID(snap[i])
	}
	// A profile on a profile keeps paths; a new type name is impossible in a
	// constraint, but logical roots may differ: rebase onto sd.Type.
	if len(snap) > 0 && sd.Type != "" {
		old := str(snap[0]["path"])
		if old != sd.Type && sd.Derivation == "specialization" {
			for _, e := range snap {
				e["path"] = sd.Type + strings.TrimPrefix(str(e["path"]), old)
				e["id"] = sd.Type + strings.TrimPrefix(str(e["id"]), old)
			}
		}
	}
	index := func(id string) int {
		for i, e := range snap {
			if str(e["id"]) == id {
				return i
			}
		}
		return -1
	}
	for _, d := range sd.Differential {
		id := str(d["id"])
		if id == "" {
			id = str(d["path"])
			if sn := str(d["sliceName"]); sn != "" {
				id += ":" + sn
			}
		}
		i := index(id)
		if i < 0 {
			// A choice element named by type (valueQuantity) is value[x].
			if alt := choiceID(id, index); alt != "" {
				id = alt
				i = index(id)
			}
		}
		if i < 0 {
			var err error
			i, err = s.materialize(&snap, id, index, depth)
			if err != nil {
				return nil, fmt.Errorf("conformance: %s: %w", sd.URL, err)
			}
		}
		merge(snap[i], d, sd.URL)
		snap[i]["id"] = id
	}
	return snap, nil
}

// choiceID maps "X.valueQuantity" to "X.value[x]" when that exists.
func choiceID(id string, index func(string) int) string {
	dot := strings.LastIndexByte(id, '.')
	if dot < 0 {
		return ""
	}
	last := id[dot+1:]
	for j := 1; j < len(last); j++ {
		if last[j] >= 'A' && last[j] <= 'Z' {
			cand := id[:dot+1] + last[:j] + "[x]"
			if index(cand) >= 0 {
				return cand
			}
		}
	}
	return ""
}

// materialize creates the element id in snap (a new slice, or the children
// of a datatype the base does not expand) and returns its index.
func (s *Set) materialize(snap *[]map[string]any, id string, index func(string) int, depth int) (int, error) {
	parentID, last := splitID(id)
	name, slice, isSlice := strings.Cut(last, ":")
	if isSlice {
		// New slice: copy the sliced element (and its subtree) under a new id.
		unsliced := parentID
		if unsliced != "" {
			unsliced += "."
		}
		unsliced += name
		j := index(unsliced)
		if j < 0 {
			if _, err := s.materialize(snap, unsliced, index, depth); err != nil {
				return 0, err
			}
			j = index(unsliced)
		}
		end := subtreeEnd(*snap, j)
		// Skip the sliced element's existing slices too.
		for end < len(*snap) && strings.HasPrefix(str((*snap)[end]["id"]), unsliced+":") {
			end = subtreeEnd(*snap, end)
		}
		var copies []map[string]any
		for k := j; k < subtreeEnd(*snap, j); k++ {
			c := cloneMap((*snap)[k])
			cid := str(c["id"])
			c["id"] = id + strings.TrimPrefix(cid, unsliced)
			if k == j {
				c["sliceName"] = slice
				delete(c, "slicing")
			}
			copies = append(copies, c)
		}
		*snap = insertAt(*snap, end, copies)
		return end, nil
	}
	// A child of an element not expanded: expand the parent's type.
	if parentID == "" {
		return 0, fmt.Errorf("no element %s in the base", id)
	}
	p := index(parentID)
	if p < 0 {
		var err error
		if p, err = s.materialize(snap, parentID, index, depth); err != nil {
			return 0, err
		}
	}
	if subtreeEnd(*snap, p) > p+1 {
		return 0, fmt.Errorf("no element %s in the base", id)
	}
	pe := (*snap)[p]
	types, _ := pe["type"].([]any)
	if len(types) != 1 {
		return 0, fmt.Errorf("cannot expand %s: it has %d types", parentID, len(types))
	}
	t, _ := types[0].(map[string]any)
	code := str(t["code"])
	src := "http://hl7.org/fhir/StructureDefinition/" + code
	if profs, _ := t["profile"].([]any); len(profs) == 1 {
		src = str(profs[0])
	}
	tsd := s.sdLocked(src)
	if tsd == nil {
		return 0, fmt.Errorf("cannot expand %s: %s is not loaded", parentID, src)
	}
	if err := s.ensureSnapshot(tsd, depth+1); err != nil {
		return 0, err
	}
	if len(tsd.Snapshot) == 0 {
		return 0, fmt.Errorf("cannot expand %s: %s has no snapshot", parentID, src)
	}
	rootPath := str(tsd.Snapshot[0]["path"])
	rootID := str(tsd.Snapshot[0]["id"])
	if rootID == "" {
		rootID = rootPath
	}
	ppath := str(pe["path"])
	var kids []map[string]any
	for _, e := range tsd.Snapshot[1:] {
		c := cloneMap(e)
		ensureID(c)
		c["id"] = parentID + strings.TrimPrefix(str(c["id"]), rootID)
		c["path"] = ppath + strings.TrimPrefix(str(c["path"]), rootPath)
		kids = append(kids, c)
	}
	*snap = insertAt(*snap, p+1, kids)
	if i := index(id); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("no element %s in %s", id, src)
}

// splitID cuts an element id at its last segment ("A.b:s.c" → "A.b:s", "c").
func splitID(id string) (string, string) {
	depth := 0
	for i := len(id) - 1; i >= 0; i-- {
		switch id[i] {
		case ')':
			depth++
		case '(':
			depth--
		case '.':
			if depth == 0 {
				return id[:i], id[i+1:]
			}
		}
	}
	return "", id
}

// subtreeEnd is the index after element i and its descendants (by id).
func subtreeEnd(snap []map[string]any, i int) int {
	pre := str(snap[i]["id"])
	j := i + 1
	for j < len(snap) {
		id := str(snap[j]["id"])
		if !strings.HasPrefix(id, pre) || len(id) == len(pre) || (id[len(pre)] != '.' && id[len(pre)] != ':') {
			break
		}
		if id[len(pre)] == ':' {
			// A slice of the element itself is a sibling, not a descendant.
			break
		}
		j++
	}
	return j
}

func insertAt(s []map[string]any, at int, items []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(s)+len(items))
	out = append(out, s[:at]...)
	out = append(out, items...)
	return append(out, s[at:]...)
}

// merge overlays a differential element on a snapshot element. Constraints
// are added to the inherited ones (stamped with their source); fixed and
// pattern values replace any inherited one.
func merge(dst, diff map[string]any, source string) {
	for k, v := range diff {
		switch {
		case k == "id" || k == "path":
		case k == "constraint":
			old, _ := dst["constraint"].([]any)
			add, _ := v.([]any)
			out := append([]any(nil), old...)
			for _, c := range add {
				cm, ok := c.(map[string]any)
				if !ok {
					continue
				}
				cm = cloneMap(cm)
				if cm["source"] == nil {
					cm["source"] = source
				}
				out = append(out, cm)
			}
			dst["constraint"] = out
		case strings.HasPrefix(k, "fixed") || strings.HasPrefix(k, "pattern"):
			for old := range dst {
				if strings.HasPrefix(old, "fixed") || strings.HasPrefix(old, "pattern") {
					delete(dst, old)
				}
			}
			dst[k] = cloneAny(v)
		default:
			dst[k] = cloneAny(v)
		}
	}
}

// ensureID gives an element without id (old definitions) one from its path.
func ensureID(e map[string]any) {
	if str(e["id"]) != "" {
		return
	}
	id := str(e["path"])
	if sn := str(e["sliceName"]); sn != "" {
		id += ":" + sn
	}
	e["id"] = id
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

func cloneAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneAny(e)
		}
		return out
	default:
		return v
	}
}

// isBaseType reports whether url names a core R4 type or resource definition.
func isBaseType(url string) bool {
	u, _, _ := strings.Cut(url, "|")
	name, ok := strings.CutPrefix(u, "http://hl7.org/fhir/StructureDefinition/")
	return ok && model.Lookup(name) != nil
}
