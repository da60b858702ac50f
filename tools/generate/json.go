package generate

import (
	"strconv"
	"unicode/utf8"
)

// O is a JSON object that keeps its members in insertion order. Generated
// resources are built from it rather than from maps so that the output is
// byte-for-byte stable for a seed and reads like the hand-written examples
// (resourceType first), which Go maps would not give.
type O []kv

type kv struct {
	k string
	v any
}

// obj builds an O from alternating keys and values; a nil value, an empty
// string, an empty O or an empty slice drops the member, so optional elements
// can be written inline.
func obj(pairs ...any) O {
	o := make(O, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		o = o.set(pairs[i].(string), pairs[i+1])
	}
	return o
}

func (o O) set(k string, v any) O {
	switch x := v.(type) {
	case nil:
		return o
	case string:
		if x == "" {
			return o
		}
	case O:
		if len(x) == 0 {
			return o
		}
	case []any:
		if len(x) == 0 {
			return o
		}
	}
	return append(o, kv{k, v})
}

// arr is a JSON array.
func arr(vs ...any) []any { return vs }

// Ref is a reference to another generated resource. How it is written
// depends on the output: urn:uuid: inside a transaction Bundle, a
// conditional reference (Type?identifier=…) to a shared resource that lives
// in another Bundle, Type/id in NDJSON.
type Ref struct {
	Type, ID string
	// Cond is the search that finds a shared resource ("identifier=sys|val");
	// empty for resources of the same patient Bundle.
	Cond    string
	Display string
}

// refMode says how a Ref is rendered.
type refMode int

const (
	refBundle refMode = iota // urn:uuid: for local, Type?Cond for shared
	refIDs                   // Type/id
)

// appendJSON writes v as compact JSON without HTML escaping (the narrative
// divs keep their '<').
func appendJSON(b []byte, v any, mode refMode) []byte {
	switch x := v.(type) {
	case O:
		b = append(b, '{')
		for i, m := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.k)
			b = append(b, ':')
			b = appendJSON(b, m.v, mode)
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, mode)
		}
		return append(b, ']')
	case Ref:
		r := obj("reference", x.render(mode), "display", x.Display)
		return appendJSON(b, r, mode)
	case string:
		return appendString(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case rawJSON:
		return append(b, x...)
	}
	panic("generate: cannot encode " + strconv.Quote(typeName(v)))
}

// rawJSON is already-encoded JSON.
type rawJSON []byte

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return "value"
}

func (r Ref) render(mode refMode) string {
	if mode == refBundle {
		if r.Cond != "" {
			return r.Type + "?" + r.Cond
		}
		return "urn:uuid:" + r.ID
	}
	return r.Type + "/" + r.ID
}

func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b = append(b, s[i:i+size]...)
		i += size
	}
	return append(b, '"')
}
