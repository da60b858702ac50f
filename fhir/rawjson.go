package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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
// Every string it passes, nested ones included, is checked as Decode checks
// it (UTF-8, escapes, no raw control characters), so a Bundle split with it
// is refused on a bad byte anywhere with the offset of that byte.
func Members(obj []byte) ([]Member, error) { return members(obj, false) }

// members is Members; lax skips strings without checking them, for stored
// resources (written before the checks existed) that must stay readable.
func members(obj []byte, lax bool) ([]Member, error) {
	s := scanner{b: obj, lax: lax}
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
// needs to find where each element ends (a malformed number or literal
// inside an element is not noticed; strings are held to RFC 8259, as
// Decode holds them), and it fails on truncated input and on anything but
// whitespace after the closing bracket. null is not an array.
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
	// lax skips strings the way the splitters always did, unchecked.
	lax bool
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
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return fmt.Errorf("expected string at %d", s.i)
	}
	if !s.lax {
		if _, err := s.scanString(); err != nil {
			return err
		}
		return nil
	}
	s.i++
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
// precision survives). It fails unless the body is one JSON object, and it
// holds the body to RFC 8259 while parsing, in the same pass: JSON text is
// UTF-8, so invalid UTF-8 in a string, or a \u escape that is no Unicode
// scalar value (a lone surrogate), is refused with its byte offset instead
// of being replaced by U+FFFD in the tree while the stored bytes keep it.
func Decode(body []byte) (map[string]any, *Error) {
	v, err := decode(body)
	if err != nil {
		return nil, Errorf(400, "structure", err.Expression(), "body is not valid JSON: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(400, "structure", "", "body is not a JSON object")
	}
	return m, nil
}

// DecodeStored parses a stored resource into the tree Decode gives, without
// Decode's checks: what is stored was accepted once, and versions stored
// before those checks existed (with invalid UTF-8 replaced by U+FFFD here)
// must still be readable, patchable and reindexable.
func DecodeStored(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("stored resource: %w", err)
	}
	return m, nil
}

// DecodeValue parses JSON text of any kind (a JSON Patch array, say) with
// the checks and the tree of Decode. Its error is a *SyntaxError.
func DecodeValue(data []byte) (any, error) {
	v, err := decode(data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func decode(data []byte) (any, *SyntaxError) {
	s := scanner{b: data}
	v, err := s.value(0)
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.i < len(s.b) {
		return nil, s.unexpected("after the JSON value")
	}
	return v, nil
}

// SyntaxError is why JSON text is not valid (RFC 8259) and where: Offset is
// the byte offset of the problem, the path the member and array indexes of
// the value it sits in, Root the resourceType of the top-level object when
// it was read before the problem.
type SyntaxError struct {
	Offset int
	Msg    string
	Root   string
	segs   []pathSeg // innermost first
}

type pathSeg struct {
	key   string
	index int // -1 for a member
}

func (e *SyntaxError) Error() string {
	msg := e.Msg + " at byte offset " + strconv.Itoa(e.Offset)
	if p := e.Path(); p != "" {
		msg += " (in " + p + ")"
	}
	return msg
}

// Path is the JSON location of the value holding the problem, e.g.
// name[0].family ("" at the top level).
func (e *SyntaxError) Path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		sg := e.segs[i]
		if sg.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(sg.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(sg.key)
	}
	return b.String()
}

// Expression is the location rooted at the resource type, as an
// OperationOutcome names it (Patient.name[0].family), or "" when the body
// is not known to be a resource.
func (e *SyntaxError) Expression() string {
	if e.Root == "" || !KnownType(e.Root) {
		return ""
	}
	if p := e.Path(); p != "" && p[0] != '[' {
		return e.Root + "." + p
	}
	return e.Root
}

func (s *scanner) fail(at int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at s.i (or the end of the input) in context.
func (s *scanner) unexpected(context string) *SyntaxError {
	if s.i >= len(s.b) {
		return s.fail(s.i, "unexpected end of JSON input")
	}
	return s.fail(s.i, "invalid character %s %s", quoteByte(s.b[s.i]), context)
}

func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// maxDepth bounds nesting, as encoding/json does, so that no body can
// exhaust the stack of the parser or of the walkers after it.
const maxDepth = 10000

// value parses the JSON value at s.i; depth counts the enclosing containers.
func (s *scanner) value(depth int) (any, *SyntaxError) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, s.fail(s.i, "unexpected end of JSON input")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return nil, s.unexpected("looking for the beginning of a value")
}

func (s *scanner) object(depth int) (any, *SyntaxError) {
	if depth > maxDepth {
		return nil, s.fail(s.i, "nesting deeper than %d levels", maxDepth)
	}
	s.i++
	m := make(map[string]any)
	err := s.members(m, depth)
	if err != nil {
		if depth == 1 && err.Root == "" {
			err.Root, _ = m["resourceType"].(string)
		}
		return nil, err
	}
	return m, nil
}

// members fills m with the members of the object whose '{' is behind s.i.
// A key written twice is refused: FHIR JSON allows no duplicate
// properties, and the tree (which would keep the last) and the stored
// bytes (which keep both) would disagree on what was validated.
func (s *scanner) members(m map[string]any, depth int) *SyntaxError {
	s.ws()
	if s.eat('}') {
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.unexpected("looking for the beginning of an object key string")
		}
		at := s.i
		k, err := s.str()
		if err != nil {
			return err
		}
		if _, dup := m[k]; dup {
			err := s.fail(at, "duplicate object key %q", k)
			err.segs = append(err.segs, pathSeg{key: k, index: -1})
			return err
		}
		s.ws()
		if !s.eat(':') {
			return s.unexpected("after an object key")
		}
		v, err := s.value(depth)
		if err != nil {
			err.segs = append(err.segs, pathSeg{key: k, index: -1})
			return err
		}
		m[k] = v
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return nil
		}
		return s.unexpected("after an object member")
	}
}

func (s *scanner) array(depth int) (any, *SyntaxError) {
	if depth > maxDepth {
		return nil, s.fail(s.i, "nesting deeper than %d levels", maxDepth)
	}
	s.i++
	arr := []any{}
	s.ws()
	if s.eat(']') {
		return arr, nil
	}
	for {
		v, err := s.value(depth)
		if err != nil {
			err.segs = append(err.segs, pathSeg{index: len(arr)})
			return nil, err
		}
		arr = append(arr, v)
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return arr, nil
		}
		return nil, s.unexpected("after an array element")
	}
}

func (s *scanner) literal(lit string) *SyntaxError {
	for j := 0; j < len(lit); j++ {
		if s.i+j >= len(s.b) {
			return s.fail(s.i+j, "unexpected end of JSON input")
		}
		if s.b[s.i+j] != lit[j] {
			s.i += j
			return s.unexpected("in literal " + lit)
		}
	}
	s.i += len(lit)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? as a json.Number.
func (s *scanner) number() (any, *SyntaxError) {
	b, i := s.b, s.i
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		s.i = i
		return nil, s.unexpected("in a number (a digit is expected)")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return nil, s.unexpected("after the decimal point of a number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return nil, s.unexpected("in the exponent of a number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return json.Number(b[start:i]), nil
}

// str reads the string at s.i.
func (s *scanner) str() (string, *SyntaxError) {
	start := s.i + 1
	esc, err := s.scanString()
	if err != nil {
		return "", err
	}
	raw := s.b[start : s.i-1]
	if !esc {
		return string(raw), nil
	}
	return unescape(raw), nil
}

// plain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash. The loop over them is the whole cost of
// checking an ASCII string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString moves s.i past the string whose opening quote is at s.i,
// checking what RFC 8259 asks of it: no raw control character (U+0000 to
// U+001F must be escaped), only the defined escapes, \u escapes that are
// Unicode scalar values (a surrogate only as a high-low pair), and, JSON
// text being UTF-8, valid UTF-8 (no stray byte, overlong form or encoded
// surrogate). Non-ASCII content is checked with one utf8.Valid over the
// string, so ASCII strings pay only the byte loop. esc reports escapes.
func (s *scanner) scanString() (esc bool, err *SyntaxError) {
	b := s.b
	start := s.i + 1
	// from is where the run of bytes not yet checked as UTF-8 begins; runs
	// end at ASCII bytes, which no UTF-8 sequence spans.
	from, nonASCII := start, false
	for i := start; i < len(b); {
		c := b[i]
		if plain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			nonASCII = true
			i++
			continue
		}
		if nonASCII {
			if !utf8.Valid(b[from:i]) {
				return esc, badUTF8(b, from)
			}
			from, nonASCII = i, false
		}
		switch {
		case c == '"':
			s.i = i + 1
			return esc, nil
		case c == '\\':
			esc = true
			n, err := s.escape(i)
			if err != nil {
				return esc, err
			}
			i += n
		default:
			return esc, s.fail(i, "control character %s in a string: it must be escaped", quoteByte(c))
		}
	}
	if nonASCII && !utf8.Valid(b[from:]) {
		return esc, badUTF8(b, from)
	}
	return esc, s.fail(start-1, "unterminated string")
}

// badUTF8 reports the first invalid UTF-8 sequence of b from start.
func badUTF8(b []byte, start int) *SyntaxError {
	i := start
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	end := min(i+4, len(b))
	return &SyntaxError{Offset: i, Msg: fmt.Sprintf("invalid UTF-8 (% x) in a string: JSON text must be UTF-8", b[i:end])}
}

// escape checks the escape whose backslash is at i and returns its length.
func (s *scanner) escape(i int) (int, *SyntaxError) {
	b := s.b
	if i+1 >= len(b) {
		return 0, s.fail(i, "unterminated string")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return 0, s.fail(i, "invalid \\u escape: four hexadecimal digits are expected")
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00:
			if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xdc00 && lo <= 0xdfff {
					return 12, nil
				}
			}
			return 0, s.fail(i, "\\u%04x is a high surrogate without a low surrogate after it: not a Unicode scalar value", r)
		case utf16.IsSurrogate(r):
			return 0, s.fail(i, "\\u%04x is a low surrogate without a high surrogate before it: not a Unicode scalar value", r)
		}
		return 6, nil
	}
	return 0, s.fail(i, "invalid escape %s in a string", strconv.Quote(string(b[i:i+2])))
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescape decodes the content of a string scanString has checked.
func unescape(raw []byte) string {
	var out strings.Builder
	out.Grow(len(raw))
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			out.Write(raw[i:])
			break
		}
		out.Write(raw[i : i+j])
		i += j
		switch c := raw[i+1]; c {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if utf16.IsSurrogate(r) {
				lo, _ := hex4(raw, i+8)
				r = utf16.DecodeRune(r, lo)
				i += 6
			}
			out.WriteRune(r)
			i += 6
			continue
		default: // " \ /
			out.WriteByte(c)
		}
		i += 2
	}
	return out.String()
}
