package terminology

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// r4text is what package conformance's compact copy of the R4 code systems
// and value sets leaves out (names, displays, designations, concept
// properties); internal/gen writes it from the official R4 package.
//
//go:embed r4text.json.gz
var r4textGz []byte

type r4csText struct {
	Name, Title, Status string
	Property            []any
	Concept             map[string]map[string]any
}

type r4vsText struct {
	Name, Title, Status string
	// Display is system → code → the display written in compose.
	Display map[string]map[string]string
}

var r4text struct {
	once        sync.Once
	CodeSystems map[string]*r4csText `json:"codeSystems"`
	ValueSets   map[string]*r4vsText `json:"valueSets"`
}

func loadR4Text() {
	r4text.once.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(r4textGz))
		if err != nil {
			panic("terminology: embedded r4text: " + err.Error()) // built into the binary: cannot happen
		}
		dec := json.NewDecoder(zr)
		dec.UseNumber()
		if err := dec.Decode(&r4text); err != nil {
			panic("terminology: embedded r4text: " + err.Error())
		}
	})
}

// concept is one code of a code system with what the operations report
// about it. Hierarchy links come from nesting and from the parent, child and
// subsumedBy properties, so a polyhierarchy (v3 codes with several parents)
// is kept.
type concept struct {
	Code, Display, Definition string
	Designations              []any
	// Properties are the raw CodeSystem.concept.property entries.
	Properties         []any
	Parents, Children  []*concept
	Abstract, Inactive bool
}

// codeSystem is a loaded CodeSystem indexed for lookups and filters.
type codeSystem struct {
	URL, Version, Name, Title string
	Content, HierarchyMeaning string
	CaseSensitive             bool
	PropDefs                  []any
	List                      []*concept // document order, depth first
	byCode                    map[string]*concept
	byFold                    map[string]*concept
}

// find returns the concept for code, ignoring case where the code system
// says codes are not case-sensitive.
func (cs *codeSystem) find(code string) *concept {
	if c := cs.byCode[code]; c != nil {
		return c
	}
	if !cs.CaseSensitive {
		return cs.byFold[strings.ToLower(code)]
	}
	return nil
}

// complete reports whether the code system holds all its codes, which is
// what expanding it whole or by filter needs.
func (cs *codeSystem) complete() bool {
	return cs.Content == "complete" || cs.Content == ""
}

// indexCache maps a CodeSystem resource (by the identity of its shared,
// read-only map) to its index, so a code system is indexed once however many
// requests use it. The raw map is kept in the entry, which both pins its
// address and lets a lookup confirm the match.
var indexCache struct {
	sync.Mutex
	m map[uintptr]cachedIndex
}

type cachedIndex struct {
	raw map[string]any
	cs  *codeSystem
}

// maxCachedIndexes bounds the cache for processes that build many Sets
// (tests, reloads): past it the cache restarts empty.
const maxCachedIndexes = 4096

func indexOf(raw map[string]any) *codeSystem {
	key := reflect.ValueOf(raw).Pointer()
	indexCache.Lock()
	if e, ok := indexCache.m[key]; ok && reflect.ValueOf(e.raw).Pointer() == key {
		indexCache.Unlock()
		return e.cs
	}
	indexCache.Unlock()
	cs := buildIndex(raw)
	indexCache.Lock()
	if indexCache.m == nil || len(indexCache.m) >= maxCachedIndexes {
		indexCache.m = map[uintptr]cachedIndex{}
	}
	indexCache.m[key] = cachedIndex{raw, cs}
	indexCache.Unlock()
	return cs
}

func buildIndex(raw map[string]any) *codeSystem {
	cs := &codeSystem{
		URL:              str(raw["url"]),
		Version:          str(raw["version"]),
		Name:             str(raw["name"]),
		Title:            str(raw["title"]),
		Content:          str(raw["content"]),
		HierarchyMeaning: str(raw["hierarchyMeaning"]),
		byCode:           map[string]*concept{},
		byFold:           map[string]*concept{},
	}
	cs.PropDefs, _ = raw["property"].([]any)
	// Absent caseSensitive is "unknown"; comparing exactly is the safe side.
	if b, ok := raw["caseSensitive"].(bool); !ok || b {
		cs.CaseSensitive = true
	}
	// The compact R4 base copy has no name: that is the sign to lay the
	// embedded texts over it.
	var text *r4csText
	if _, named := raw["name"]; !named {
		loadR4Text()
		if text = r4text.CodeSystems[cs.URL]; text != nil {
			cs.Name, cs.Title = text.Name, text.Title
			if cs.PropDefs == nil {
				cs.PropDefs = text.Property
			}
		}
	}
	var walk func(list []any, parent *concept)
	walk = func(list []any, parent *concept) {
		for _, x := range list {
			m, _ := x.(map[string]any)
			code := str(m["code"])
			if code == "" {
				continue
			}
			c := cs.byCode[code]
			if c == nil {
				c = &concept{Code: code, Display: str(m["display"]), Definition: str(m["definition"])}
				c.Designations, _ = m["designation"].([]any)
				c.Properties, _ = m["property"].([]any)
				if t := text; t != nil && c.Display == "" {
					if o := t.Concept[code]; o != nil {
						c.Display = str(o["display"])
						c.Designations, _ = o["designation"].([]any)
						c.Properties, _ = o["property"].([]any)
					}
				}
				cs.byCode[code] = c
				if _, dup := cs.byFold[strings.ToLower(code)]; !dup {
					cs.byFold[strings.ToLower(code)] = c
				}
				cs.List = append(cs.List, c)
			}
			if parent != nil {
				link(parent, c)
			}
			sub, _ := m["concept"].([]any)
			walk(sub, c)
		}
	}
	list, _ := raw["concept"].([]any)
	walk(list, nil)
	for _, c := range cs.List {
		for _, p := range c.Properties {
			pm, _ := p.(map[string]any)
			switch str(pm["code"]) {
			case "parent", "subsumedBy":
				if o := cs.byCode[str(pm["valueCode"])]; o != nil {
					link(o, c)
				}
			case "child":
				if o := cs.byCode[str(pm["valueCode"])]; o != nil {
					link(c, o)
				}
			case "notSelectable", "abstract":
				if b, _ := pm["valueBoolean"].(bool); b {
					c.Abstract = true
				}
			case "inactive":
				if b, _ := pm["valueBoolean"].(bool); b {
					c.Inactive = true
				}
			case "status":
				switch str(pm["valueCode"]) {
				case "retired", "inactive":
					c.Inactive = true
				}
			}
		}
	}
	return cs
}

func link(parent, child *concept) {
	if parent == child {
		return
	}
	for _, k := range parent.Children {
		if k == child {
			return
		}
	}
	parent.Children = append(parent.Children, child)
	child.Parents = append(child.Parents, parent)
}

// descendants calls fn for every concept below c (each once, whatever the
// number of paths to it).
func descendants(c *concept, fn func(*concept)) {
	seen := map[*concept]bool{c: true}
	var walk func(*concept)
	walk = func(x *concept) {
		for _, k := range x.Children {
			if !seen[k] {
				seen[k] = true
				fn(k)
				walk(k)
			}
		}
	}
	walk(c)
}

// ancestors calls fn for every concept above c, each once.
func ancestors(c *concept, fn func(*concept)) {
	seen := map[*concept]bool{c: true}
	var walk func(*concept)
	walk = func(x *concept) {
		for _, p := range x.Parents {
			if !seen[p] {
				seen[p] = true
				fn(p)
				walk(p)
			}
		}
	}
	walk(c)
}

func str(v any) string { s, _ := v.(string); return s }
