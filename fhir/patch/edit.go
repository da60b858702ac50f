package patch

import "fmt"

// slot is the place of one element in the tree: member key of parent and,
// for an array member, its index (-1 otherwise). The primitive-extension
// sibling "_key" is kept in step with every edit.
type slot struct {
	parent map[string]any
	key    string
	index  int
}

// resolve walks steps from root and returns the slot of the last step; an
// empty path has no slot (it is the resource itself).
func resolve(root map[string]any, steps []Step) (slot, error) {
	if len(steps) == 0 {
		return slot{}, fmt.Errorf("the path selects the resource itself")
	}
	cur := root
	for i, s := range steps {
		if i == len(steps)-1 {
			return slot{cur, s.Key, s.Index}, nil
		}
		v, err := (slot{cur, s.Key, s.Index}).get()
		if err != nil {
			return slot{}, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return slot{}, fmt.Errorf("%s is not an object", s.Key)
		}
		cur = m
	}
	panic("unreachable")
}

func (s slot) get() (any, error) {
	v, ok := s.parent[s.key]
	if !ok {
		return nil, fmt.Errorf("no element %s", s.key)
	}
	if s.index < 0 {
		return v, nil
	}
	a, ok := v.([]any)
	if !ok || s.index >= len(a) {
		return nil, fmt.Errorf("no element %s[%d]", s.key, s.index)
	}
	return a[s.index], nil
}

// set replaces the element (its value and its primitive extensions).
func (s slot) set(v, ext any) {
	if s.index < 0 {
		s.parent[s.key] = v
		if ext != nil {
			s.parent["_"+s.key] = ext
		} else {
			delete(s.parent, "_"+s.key)
		}
		return
	}
	a, ok := s.parent[s.key].([]any)
	if !ok || s.index >= len(a) {
		return
	}
	a[s.index] = v
	if sh, ok := s.parent["_"+s.key].([]any); ok && s.index < len(sh) {
		sh[s.index] = ext
		if isEmpty(sh) {
			delete(s.parent, "_"+s.key)
		}
	} else if ext != nil {
		sh := make([]any, len(a))
		copy(sh, s.parent["_"+s.key].([]any))
		sh[s.index] = ext
		s.parent["_"+s.key] = sh
	}
}

// remove deletes the element, dropping the member once its array is empty.
func (s slot) remove() (v, ext any) {
	if s.index < 0 {
		v, ext = s.parent[s.key], s.parent["_"+s.key]
		delete(s.parent, s.key)
		delete(s.parent, "_"+s.key)
		return v, ext
	}
	a, ok := s.parent[s.key].([]any)
	if !ok || s.index >= len(a) {
		return nil, nil
	}
	v = a[s.index]
	a = append(a[:s.index:s.index], a[s.index+1:]...)
	if len(a) == 0 {
		delete(s.parent, s.key)
	} else {
		s.parent[s.key] = a
	}
	if sh, ok := s.parent["_"+s.key].([]any); ok {
		if s.index < len(sh) {
			ext = sh[s.index]
			sh = append(sh[:s.index:s.index], sh[s.index+1:]...)
		}
		if isEmpty(sh) {
			delete(s.parent, "_"+s.key)
		} else {
			s.parent["_"+s.key] = sh
		}
	}
	return v, ext
}

// insertAt puts v (with primitive extensions ext) at position i of the array
// member key of parent, creating the array if needed.
func insertAt(parent map[string]any, key string, i int, v, ext any) {
	a, _ := parent[key].([]any)
	n := len(a)
	out := make([]any, 0, n+1)
	parent[key] = append(append(append(out, a[:i]...), v), a[i:]...)
	sh, has := parent["_"+key].([]any)
	if !has && ext == nil {
		return
	}
	for len(sh) < n {
		sh = append(sh, nil)
	}
	nsh := make([]any, 0, n+1)
	nsh = append(append(append(nsh, sh[:i]...), ext), sh[i:]...)
	if isEmpty(nsh) {
		delete(parent, "_"+key)
	} else {
		parent["_"+key] = nsh
	}
}

// prune removes the objects and arrays along steps that an edit left empty,
// deepest first, since FHIR JSON allows neither.
func prune(root map[string]any, steps []Step) {
	for k := len(steps); k >= 1; k-- {
		s, err := resolve(root, steps[:k])
		if err != nil {
			continue
		}
		v, err := s.get()
		if err != nil || !isEmpty(v) {
			continue
		}
		s.remove()
	}
}
