package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Member is one top-level "key": value pair of a JSON object, the value kept
// as its raw bytes so untouched members are passed on verbatim.
type Member struct {
	Key   string
	Value []byte
}

// Members splits a JSON object into its members, in order, without decoding
// the values. It checks the structure only as far as it needs to find where
// each member ends, and fails on anything but whitespace after the object.
func Members(obj []byte) ([]Member, error) {
	s := scanner{b: obj}
	s.ws()
	if !s.eat('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []Member
	s.ws()
	if s.eat('}') {
		return out, s.end()
	}
	for {
		s.ws()
		ks := s.i
		if err := s.skipString(); err != nil {
			return nil, err
		}
		key, err := strconv.Unquote(string(s.b[ks:s.i]))
		if err != nil {
			var k string
			if json.Unmarshal(s.b[ks:s.i], &k) != nil {
				return nil, fmt.Errorf("bad key at %d", ks)
			}
			key = k
		}
		s.ws()
		if !s.eat(':') {
			return nil, fmt.Errorf("expected ':' at %d", s.i)
		}
		s.ws()
		vs := s.i
		if err := s.skipValue(); err != nil {
			return nil, err
		}
		out = append(out, Member{Key: key, Value: s.b[vs:s.i]})
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return out, s.end()
		}
		return nil, fmt.Errorf("expected ',' or '}' at %d", s.i)
	}
}

// Elements splits a JSON array into its elements, in order, without decoding
// them: each element is a sub-slice of arr (no copies), so walking a large
// array (a Bundle's entries) costs one pass of the scanner instead of a full
// json.Unmarshal. Like Members it checks the structure only as far as it
// needs to find where each element ends (a malformed scalar or string inside
// an element is not noticed), but it does fail on truncated input and on
// anything but whitespace after the closing bracket. null is not an array.
func Elements(arr []byte) ([][]byte, error) {
	s := scanner{b: arr}
	s.ws()
	if !s.eat('[') {
		return nil, errors.New("not a JSON array")
	}
	var out [][]byte
	s.ws()
	if s.eat(']') {
		return out, s.end()
	}
	for {
		s.ws()
		vs := s.i
		if err := s.skipValue(); err != nil {
			return nil, err
		}
		out = append(out, s.b[vs:s.i])
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return out, s.end()
		}
		if s.i >= len(s.b) {
			return nil, errors.New("unterminated array")
		}
		return nil, fmt.Errorf("expected ',' or ']' at %d", s.i)
	}
}

// end fails unless only whitespace is left.
func (s *scanner) end() error {
	s.ws()
	if s.i < len(s.b) {
		return fmt.Errorf("unexpected %q after the value at %d", s.b[s.i], s.i)
	}
	return nil
}

// Object writes members back as a compact JSON object.
func Object(ms []Member) []byte {
	n := 2
	for _, m := range ms {
		n += len(m.Key) + len(m.Value) + 4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '{')
	for i, m := range ms {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendQuote(buf, m.Key)
		buf = append(buf, ':')
		buf = append(buf, m.Value...)
	}
	return append(buf, '}')
}

// Stamp returns the compacted resource with the server-owned fields set: the
// top-level id and meta.versionId / meta.lastUpdated. Everything else stays
// byte for byte as the client sent it (apart from insignificant whitespace).
func Stamp(body []byte, id, versionID, lastUpdated string) ([]byte, error) {
	var c bytes.Buffer
	c.Grow(len(body))
	if err := json.Compact(&c, body); err != nil {
		return nil, err
	}
	ms, err := Members(c.Bytes())
	if err != nil {
		return nil, err
	}
	idv := strconv.AppendQuote(nil, id)
	out := make([]Member, 0, len(ms)+2)
	var haveID, haveMeta bool
	for _, m := range ms {
		switch m.Key {
		case "id":
			m.Value, haveID = idv, true
		case "meta":
			mv, err := stampMeta(m.Value, versionID, lastUpdated)
			if err != nil {
				return nil, err
			}
			m.Value, haveMeta = mv, true
		}
		out = append(out, m)
	}
	// Insert missing id and meta right after resourceType, where readers expect them.
	at := 0
	if len(out) > 0 && out[0].Key == "resourceType" {
		at = 1
	}
	var ins []Member
	if !haveID {
		ins = append(ins, Member{"id", idv})
	}
	if !haveMeta {
		mv, _ := stampMeta([]byte("{}"), versionID, lastUpdated)
		ins = append(ins, Member{"meta", mv})
	}
	if len(ins) > 0 {
		out = append(out[:at], append(ins, out[at:]...)...)
	}
	return Object(out), nil
}

func stampMeta(meta []byte, versionID, lastUpdated string) ([]byte, error) {
	ms, err := Members(meta)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	out := make([]Member, 0, len(ms)+2)
	out = append(out, Member{"versionId", strconv.AppendQuote(nil, versionID)}, Member{"lastUpdated", strconv.AppendQuote(nil, lastUpdated)})
	for _, m := range ms {
		if m.Key != "versionId" && m.Key != "lastUpdated" {
			out = append(out, m)
		}
	}
	return Object(out), nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) skipString() error {
	if !s.eat('"') {
		return fmt.Errorf("expected string at %d", s.i)
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return nil
		default:
			s.i++
		}
	}
	return errors.New("unterminated string")
}

func (s *scanner) skipValue() error {
	if s.i >= len(s.b) {
		return errors.New("unexpected end")
	}
	switch s.b[s.i] {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if err := s.skipString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errors.New("unterminated value")
	default:
		st := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.i == st {
					return fmt.Errorf("unexpected %q at %d", s.b[s.i], s.i)
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}

// Decode parses a resource body once into the generic tree the rest of the
// server reads (objects as map[string]any, numbers as json.Number so decimal
// precision survives). It fails unless the body is one JSON object.
func Decode(body []byte) (map[string]any, *Error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Errorf(400, "structure", "", "body is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, Errorf(400, "structure", "", "body has content after the JSON value")
	}
	if _, err := dec.Token(); err == nil {
		return nil, Errorf(400, "structure", "", "body has content after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(400, "structure", "", "body is not a JSON object")
	}
	return m, nil
}
