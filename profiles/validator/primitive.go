package validator

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// prim identifies the lexical rule of a primitive type. The checks are
// hand-written equivalents of the R4 regexes (quoted on each function)
// because they run on every primitive of every write and regexp is an
// order of magnitude slower.
type prim uint8

const (
	pNone prim = iota
	pBoolean
	pInteger
	pPositiveInt
	pUnsignedInt
	pDecimal
	pString
	pMarkdown
	pCode
	pID
	pURI // uri, url, canonical
	pOID
	pUUID
	pDate
	pDateTime
	pInstant
	pTime
	pBase64
	pXHTML
)

var primByName = map[string]prim{
	"boolean": pBoolean, "integer": pInteger, "positiveInt": pPositiveInt, "unsignedInt": pUnsignedInt,
	"decimal": pDecimal, "string": pString, "markdown": pMarkdown, "code": pCode, "id": pID,
	"uri": pURI, "url": pURI, "canonical": pURI, "oid": pOID, "uuid": pUUID, "date": pDate,
	"dateTime": pDateTime, "instant": pInstant, "time": pTime, "base64Binary": pBase64, "xhtml": pXHTML,
}

// checkPrimitive returns "" when v is a valid value of primitive p, else
// why not. warn is set when the problem is only a warning (a SHOULD).
func checkPrimitive(p prim, typ string, v any) (msg string, warn bool) {
	switch p {
	case pBoolean:
		if _, ok := v.(bool); !ok {
			return "must be a JSON boolean, not " + jsonType(v), false
		}
		return "", false
	case pInteger, pPositiveInt, pUnsignedInt, pDecimal:
		var s string
		switch n := v.(type) {
		case json.Number:
			s = string(n)
		case float64:
			s = strconv.FormatFloat(n, 'f', -1, 64)
		case int:
			s = strconv.Itoa(n)
		case int64:
			s = strconv.FormatInt(n, 10)
		default:
			return "must be a JSON number, not " + jsonType(v), false
		}
		if p == pDecimal {
			return "", false
		}
		return checkInteger(p, typ, s), false
	}
	s, ok := v.(string)
	if !ok {
		return "must be a JSON string, not " + jsonType(v), false
	}
	if s == "" {
		return "must not be empty (leave the element out instead)", false
	}
	if i := controlChar(s); i >= 0 {
		return fmt.Sprintf("contains the control character U+%04X at byte %d of the value: FHIR strings ([ \\r\\n\\t\\S]+) allow none but tab, CR and LF", s[i], i), false
	}
	ok = true
	switch p {
	case pString, pMarkdown:
		// The regexes ([ \r\n\t\S]+) allow any non-empty text; the
		// specification adds that leading and trailing white space SHOULD
		// be removed, so that is a warning (markdown may indent, so only
		// string gets it).
		if p == pString && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
			return "should not start or end with white space", true
		}
		return "", false
	case pCode:
		ok = validCode(s)
	case pID:
		ok = validID(s)
	case pURI:
		ok = !strings.ContainsAny(s, " \t\r\n")
	case pOID:
		ok = validOID(s)
	case pUUID:
		ok = validUUID(s)
	case pDate:
		ok = validDate(s) == len(s)
	case pDateTime:
		ok = validDateTime(s, false)
	case pInstant:
		ok = validDateTime(s, true)
	case pTime:
		ok = validTime(s) == len(s)
	case pBase64:
		ok = validBase64(s)
	case pXHTML:
		t := strings.TrimLeft(s, " \t\r\n")
		if !strings.HasPrefix(t, "<div") || !strings.Contains(t, "http://www.w3.org/1999/xhtml") {
			return "must be an XHTML <div> in the XHTML namespace", false
		}
	}
	if !ok {
		return strconv.Quote(s) + " is not a valid " + typ, false
	}
	return "", false
}

// controlChar returns the index of the first C0 control character of s
// other than tab, CR and LF, or -1. The rule of string ([ \r\n\t\S]+) holds
// for every type derived from it (code, id, markdown, uri...) and the other
// string-valued primitives: a JSON escape such as \u0001 is valid JSON
// and so reaches the validator, which must refuse it.
func controlChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return i
		}
	}
	return -1
}

// checkInteger: integer -?([0]|([1-9][0-9]*)), positiveInt +?[1-9][0-9]*,
// unsignedInt [0]|([1-9][0-9]*), all within 32 bits.
func checkInteger(p prim, typ, s string) string {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		if strings.ContainsAny(s, ".eE") {
			return s + " is not a valid " + typ + " (a whole number is required)"
		}
		return s + " is out of range for " + typ
	}
	switch {
	case p == pPositiveInt && n < 1:
		return s + " is not a valid positiveInt (must be at least 1)"
	case p == pUnsignedInt && n < 0:
		return s + " is not a valid unsignedInt (must not be negative)"
	}
	return ""
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64, int, int64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// validCode: [^\s]+(\s[^\s]+)*, i.e. no leading, trailing or double white space.
func validCode(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		sp := isSpace(s[i])
		if sp && prevSpace {
			return false
		}
		prevSpace = sp
	}
	return !prevSpace
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// validID: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validOID: urn:oid:[0-2](\.(0|[1-9][0-9]*))+.
func validOID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:oid:")
	if !ok || len(rest) < 3 || rest[0] < '0' || rest[0] > '2' || rest[1] != '.' {
		return false
	}
	for _, arc := range strings.Split(rest[2:], ".") {
		if arc == "" || len(arc) > 1 && arc[0] == '0' || !allDigits(arc) {
			return false
		}
	}
	return true
}

// validUUID: urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}.
func validUUID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:uuid:")
	return ok && isUUID(rest)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// num2 reads two digits at s[i:] (-1 when absent).
func num2(s string, i int) int {
	if i+2 > len(s) || s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
		return -1
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0')
}

// validDate matches the longest date prefix of s:
// ([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?
// and returns its length (-1 if none), rejecting days the month lacks.
// It returns 10 only for a full date, which dateTime needs before a time.
func validDate(s string) int {
	if len(s) < 4 || !allDigits(s[:4]) || s[:4] == "0000" {
		return -1
	}
	if len(s) == 4 || s[4] != '-' {
		return 4
	}
	m := num2(s, 5)
	if m < 1 || m > 12 {
		return -1
	}
	if len(s) == 7 || s[7] != '-' {
		return 7
	}
	d := num2(s, 8)
	if d < 1 || d > daysIn(m, int(s[0]-'0')*1000+int(s[1]-'0')*100+int(s[2]-'0')*10+int(s[3]-'0')) {
		return -1
	}
	return 10
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// validTime matches ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?
// at the start of s and returns its length (-1 if none).
func validTime(s string) int {
	h, mi, se := num2(s, 0), num2(s, 3), num2(s, 6)
	if len(s) < 8 || h < 0 || h > 23 || s[2] != ':' || mi < 0 || mi > 59 || s[5] != ':' || se < 0 || se > 60 {
		return -1
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return -1
		}
		i = j
	}
	return i
}

// validDateTime: a date (year, year-month or full) optionally followed, for
// a full date, by T, a time and a mandatory zone
// (Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)). An instant requires the time.
func validDateTime(s string, instant bool) bool {
	n := validDate(s)
	if n < 0 {
		return false
	}
	if n == len(s) {
		return !instant
	}
	if n != 10 || s[10] != 'T' {
		return false
	}
	t := validTime(s[11:])
	if t < 0 {
		return false
	}
	z := s[11+t:]
	if z == "Z" {
		return true
	}
	if len(z) != 6 || z[0] != '+' && z[0] != '-' || z[3] != ':' {
		return false
	}
	h, m := num2(z, 1), num2(z, 4)
	return h >= 0 && m >= 0 && (h <= 13 && m <= 59 || h == 14 && m == 0)
}

// validBase64 accepts standard base64 with optional white space between
// groups. (The R4 regex (\s*([0-9a-zA-Z\+\=]){4}\s*)+ forgets '/', a known
// erratum; real data uses it.)
func validBase64(s string) bool {
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isSpace(c):
			continue
		case c == '=':
			pad++
		case pad > 0:
			return false
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/':
		default:
			return false
		}
		n++
	}
	return n%4 == 0 && pad <= 2
}
