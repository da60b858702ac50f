package fhirpath

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dccfhir/dccfhir/fhir/model"
)

// tokKind classifies lexer tokens.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tDelimIdent // `name`
	tString
	tNumber
	tDate // @...
	tVar  // %name
	tOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// lex splits an expression into tokens, dropping whitespace and comments.
func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at %d", i)
			}
			i += j + 4
		case c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			txt, err := unescape(s[i+1 : j])
			if err != nil {
				return nil, err
			}
			k := tString
			if c == '`' {
				if txt == "" {
					return nil, fmt.Errorf("empty identifier at %d", i)
				}
				k = tDelimIdent
			}
			out = append(out, token{k, txt, i})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j+1 < len(s) && s[j] == '.' && s[j+1] >= '0' && s[j+1] <= '9' {
				j++
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
			}
			if j < len(s) && s[j] == 'L' { // R5 long literal, treated as integer
				out = append(out, token{tNumber, s[i:j], i})
				i = j + 1
				continue
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case c == '@':
			j := i + 1
			for j < len(s) && (isDateChar(s[j]) || (s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9')) {
				j++
			}
			out = append(out, token{tDate, s[i+1 : j], i})
			i = j
		case c == '%':
			j := i + 1
			if j < len(s) && (s[j] == '\'' || s[j] == '`') {
				q := s[j]
				k := j + 1
				for k < len(s) && s[k] != q {
					k++
				}
				if k >= len(s) {
					return nil, fmt.Errorf("unterminated variable at %d", i)
				}
				out = append(out, token{tVar, s[j+1 : k], i})
				i = k + 1
				continue
			}
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			if name := s[i+1 : j]; (name == "vs" || name == "ext") && j < len(s) && s[j] == '-' {
				// FHIR's %vs-[name] and %ext-[name] constants.
				for j < len(s) && (isIdentChar(s[j]) || s[j] == '-' || s[j] == '.') {
					j++
				}
				for s[j-1] == '.' {
					j--
				}
			}
			out = append(out, token{tVar, s[i+1 : j], i})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		default:
			matched := false
			for _, op := range operators {
				if !strings.HasPrefix(s[i:], op) {
					continue
				}
				matched = true
				if op == "$" {
					j := i + 1
					for j < len(s) && isIdentChar(s[j]) {
						j++
					}
					out = append(out, token{tIdent, s[i:j], i})
					i = j
				} else {
					out = append(out, token{tOp, op, i})
					i += len(op)
				}
				break
			}
			if !matched {
				r, _ := utf8.DecodeRuneInString(s[i:])
				return nil, fmt.Errorf("unexpected %q at %d", r, i)
			}
		}
	}
	return append(out, token{tEOF, "", len(s)}), nil
}

var operators = []string{"<=", ">=", "!=", "!~", "=", "~", "<", ">", "+", "-", "*", "/", "|", "&", "(", ")", "[", "]", "{", "}", ".", ",", "$"}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' }
func isDateChar(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == ':' || c == 'T' || c == 'Z' || c == '+'
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", fmt.Errorf("bad unicode escape")
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("bad unicode escape")
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// opKind is the kind of an AST node.
type opKind uint8

const (
	opLiteral  opKind = iota // lit
	opEmpty                  // {}
	opIdent                  // member (or type name) on the focus
	opFunc                   // function call on the focus: name(args)
	opDot                    // args[0] . args[1]
	opIndex                  // args[0][args[1]]
	opNeg                    // -args[0]
	opBinary                 // args[0] name args[1]
	opIs                     // args[0] is typ
	opAs                     // args[0] as typ
	opThis                   // $this
	opIndexVar               // $index
	opTotal                  // $total
	opVar                    // %name
)

// ast is one node of a compiled expression.
type ast struct {
	op   opKind
	name string
	lit  Node
	typ  string
	args []*ast
	fn   *funcDef
	// litColl is lit as a shared collection (capacity 1, so appends copy).
	litColl []Node
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }
func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}
func (p *parser) expect(s string) error {
	if !p.isOp(s) {
		t := p.peek()
		return fmt.Errorf("expected %q at %d, found %q", s, t.pos, t.text)
	}
	p.i++
	return nil
}

// binary operator precedences, higher binds tighter.
var precedence = map[string]int{
	"implies": 1, "or": 2, "xor": 2, "and": 3, "in": 4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5, "<": 6, ">": 6, "<=": 6, ">=": 6,
	"|": 7, "is": 8, "as": 8, "+": 9, "-": 9, "&": 9, "*": 10, "/": 10, "div": 10, "mod": 10,
}

func (p *parser) binop() (string, int) {
	t := p.peek()
	if t.kind != tOp && t.kind != tIdent {
		return "", 0
	}
	pr, ok := precedence[t.text]
	if !ok {
		return "", 0
	}
	return t.text, pr
}

func (p *parser) expr(minPrec int) (*ast, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		op, pr := p.binop()
		if pr == 0 || pr < minPrec {
			return left, nil
		}
		p.next()
		if op == "is" || op == "as" {
			ts, err := p.typeSpec()
			if err != nil {
				return nil, err
			}
			k := opIs
			if op == "as" {
				k = opAs
			}
			left = &ast{op: k, typ: ts, args: []*ast{left}}
			continue
		}
		right, err := p.expr(pr + 1)
		if err != nil {
			return nil, err
		}
		left = &ast{op: opBinary, name: op, args: []*ast{left, right}}
	}
}

func (p *parser) typeSpec() (string, error) {
	t := p.next()
	if t.kind != tIdent && t.kind != tDelimIdent {
		return "", fmt.Errorf("expected type name at %d", t.pos)
	}
	name := t.text
	for p.isOp(".") && (p.toks[p.i+1].kind == tIdent || p.toks[p.i+1].kind == tDelimIdent) {
		p.next()
		name += "." + p.next().text
	}
	if !knownType(name) {
		return "", fmt.Errorf("unknown type %s at %d", name, t.pos)
	}
	return name, nil
}

func (p *parser) unary() (*ast, error) {
	if p.isOp("-") || p.isOp("+") {
		neg := p.next().text == "-"
		// Polarity binds tighter than multiplication but looser than invocation.
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if !neg {
			return x, nil
		}
		if x.op == opLiteral {
			switch v := x.lit.Value.(type) {
			case int64:
				x.lit.Value = -v
				return x, nil
			case json.Number:
				x.lit.Value = json.Number("-" + string(v))
				return x, nil
			case Quantity:
				v.Value = -v.Value
				if v.text != "" {
					v.text = "-" + v.text
				}
				x.lit.Value = v
				return x, nil
			}
		}
		return &ast{op: opNeg, args: []*ast{x}}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (*ast, error) {
	x, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.next()
			inv, err := p.invocation()
			if err != nil {
				return nil, err
			}
			x = &ast{op: opDot, args: []*ast{x, inv}}
		case p.isOp("["):
			p.next()
			idx, err := p.expr(1)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &ast{op: opIndex, args: []*ast{x, idx}}
		default:
			return x, nil
		}
	}
}

func (p *parser) invocation() (*ast, error) {
	t := p.next()
	switch t.kind {
	case tIdent, tDelimIdent:
		switch t.text {
		case "$this":
			return &ast{op: opThis}, nil
		case "$index":
			return &ast{op: opIndexVar}, nil
		case "$total":
			return &ast{op: opTotal}, nil
		}
		if t.kind == tIdent && p.isOp("(") {
			return p.call(t)
		}
		if strings.HasPrefix(t.text, "$") {
			return nil, fmt.Errorf("unknown %s at %d", t.text, t.pos)
		}
		n := &ast{op: opIdent, name: t.text}
		if c := t.text[0]; c >= 'A' && c <= 'Z' && model.Lookup(t.text) != nil {
			n.typ = t.text
		}
		return n, nil
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

func (p *parser) call(t token) (*ast, error) {
	p.next() // (
	n := &ast{op: opFunc, name: t.text}
	if !p.isOp(")") {
		for {
			var a *ast
			var err error
			if typeArgFuncs[t.text] {
				// is(), as(), ofType() take a type specifier.
				ts, err := p.typeSpec()
				if err != nil {
					return nil, err
				}
				a = &ast{op: opLiteral, lit: Node{Value: ts, Type: "System.String"}, name: "type"}
			} else if a, err = p.expr(1); err != nil {
				return nil, err
			}
			n.args = append(n.args, a)
			if p.isOp(",") {
				p.next()
				continue
			}
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	fd, ok := functions[t.text]
	if !ok {
		return nil, fmt.Errorf("unknown function %s() at %d", t.text, t.pos)
	}
	if len(n.args) < fd.min || len(n.args) > fd.max {
		return nil, fmt.Errorf("%s() takes %d to %d arguments, got %d", t.text, fd.min, fd.max, len(n.args))
	}
	n.fn = fd
	return n, nil
}

var systemTypeNames = map[string]bool{"Boolean": true, "String": true, "Integer": true, "Decimal": true, "Date": true, "DateTime": true, "Time": true, "Quantity": true, "Long": true}

// knownType reports whether a type specifier names a System or FHIR type.
func knownType(name string) bool {
	if strings.HasPrefix(name, "System.") {
		return true // is(System.Patient) is simply false
	}
	return model.Lookup(name) != nil || systemTypeNames[name]
}

var typeArgFuncs = map[string]bool{"is": true, "as": true, "ofType": true}

func (p *parser) term() (*ast, error) {
	t := p.peek()
	switch t.kind {
	case tString:
		p.next()
		return &ast{op: opLiteral, lit: Node{Value: t.text, Type: "System.String"}}, nil
	case tNumber:
		p.next()
		var lit Node
		if strings.Contains(t.text, ".") {
			lit = Node{Value: json.Number(t.text), Type: "System.Decimal"}
		} else {
			n, err := strconv.ParseInt(t.text, 10, 64)
			if err != nil {
				return nil, err
			}
			lit = Node{Value: n, Type: "System.Integer"}
		}
		// A quantity: number followed by a unit string or a calendar word.
		if u := p.peek(); u.kind == tString || u.kind == tIdent && calendarUnits[u.text] != "" {
			p.next()
			lit = Node{Value: Quantity{Value: toFloat(lit.Value), Unit: u.text, text: t.text}, Type: "System.Quantity"}
		}
		return &ast{op: opLiteral, lit: lit}, nil
	case tDate:
		p.next()
		tm, err := parseTemporal(t.text, true)
		if err != nil {
			return nil, fmt.Errorf("bad date/time literal @%s", t.text)
		}
		return &ast{op: opLiteral, lit: Node{Value: tm, Type: tm.systemType()}}, nil
	case tVar:
		p.next()
		return &ast{op: opVar, name: t.text}, nil
	case tIdent, tDelimIdent:
		if t.kind == tIdent {
			switch t.text {
			case "true", "false":
				if !(p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(") {
					p.next()
					return &ast{op: opLiteral, lit: Node{Value: t.text == "true", Type: "System.Boolean"}}, nil
				}
			}
		}
		return p.invocation()
	case tOp:
		switch t.text {
		case "(":
			p.next()
			x, err := p.expr(1)
			if err != nil {
				return nil, err
			}
			return x, p.expect(")")
		case "{":
			p.next()
			return &ast{op: opEmpty}, p.expect("}")
		}
	}
	if t.kind == tEOF {
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

func setLiterals(n *ast) {
	if n.op == opLiteral {
		n.litColl = []Node{n.lit}
	}
	for _, a := range n.args {
		setLiterals(a)
	}
}

func parse(s string) (*ast, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	x, err := p.expr(1)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	setLiterals(x)
	return x, nil
}
