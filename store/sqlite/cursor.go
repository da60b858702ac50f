package sqlite

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/dccfhir/dccfhir/store"
	"strconv"
)

// errBadCursor reports a page cursor this engine did not issue for that
// query (or for any query).
var errBadCursor = store.ErrBadCursor

// cursor is a keyset position: the sort key values of a row, the direction
// to read from it (back for a Prev link) and a signature of the query
// shape it belongs to, so a cursor replayed on another sort is refused.
type cursor struct {
	back bool
	sig  string
	keys []any // int64, float64, string or nil
}

// encodeCursor renders c as URL-safe base64 of a JSON array of tagged
// values, opaque to clients.
func encodeCursor(c cursor) string {
	parts := make([]string, 0, len(c.keys)+2)
	dir := "n"
	if c.back {
		dir = "p"
	}
	parts = append(parts, dir, c.sig)
	for _, k := range c.keys {
		switch v := k.(type) {
		case nil:
			parts = append(parts, "n")
		case int64:
			parts = append(parts, "i"+strconv.FormatInt(v, 10))
		case float64:
			parts = append(parts, "f"+strconv.FormatFloat(v, 'g', -1, 64))
		case string:
			parts = append(parts, "s"+v)
		case []byte:
			parts = append(parts, "s"+string(v))
		case bool:
			if v {
				parts = append(parts, "i1")
			} else {
				parts = append(parts, "i0")
			}
		default:
			parts = append(parts, "s"+fmt.Sprint(v))
		}
	}
	b, _ := json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses what encodeCursor made.
func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errBadCursor
	}
	var parts []string
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) < 2 {
		return c, errBadCursor
	}
	switch parts[0] {
	case "n":
	case "p":
		c.back = true
	default:
		return c, errBadCursor
	}
	c.sig = parts[1]
	for _, p := range parts[2:] {
		if p == "" {
			return c, errBadCursor
		}
		switch p[0] {
		case 'n':
			c.keys = append(c.keys, nil)
		case 'i':
			v, err := strconv.ParseInt(p[1:], 10, 64)
			if err != nil {
				return c, errBadCursor
			}
			c.keys = append(c.keys, v)
		case 'f':
			v, err := strconv.ParseFloat(p[1:], 64)
			if err != nil {
				return c, errBadCursor
			}
			c.keys = append(c.keys, v)
		case 's':
			c.keys = append(c.keys, p[1:])
		default:
			return c, errBadCursor
		}
	}
	return c, nil
}
