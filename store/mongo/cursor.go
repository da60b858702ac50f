package mongo

import (
	"encoding/base64"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dccfhir/dccfhir/store"
)

// errBadCursor is returned for a page cursor this engine did not make (or
// made for another sort).
var errBadCursor = store.ErrBadCursor

// sortField is one key of a keyset order.
type sortField struct {
	path string
	desc bool
}

// cursor is the opaque page token: the sort values of the row it starts
// after (Dir "n") or before (Dir "p").
type cursor struct {
	Dir  string          `bson:"d"`
	Keys []bson.RawValue `bson:"k"`
}

func (c *cursor) encode() string {
	b, err := bson.Marshal(c)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, n int) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	var c cursor
	if err := bson.Unmarshal(b, &c); err != nil || len(c.Keys) != n || (c.Dir != "n" && c.Dir != "p") {
		return nil, errBadCursor
	}
	return &c, nil
}

// keysOf reads the values of fields from a raw document (null when absent).
func keysOf(raw bson.Raw, fields []sortField) []bson.RawValue {
	out := make([]bson.RawValue, len(fields))
	for i, f := range fields {
		v, err := raw.LookupErr(strings.Split(f.path, ".")...)
		if err != nil || v.Type == 0 {
			v = bson.RawValue{Type: bson.TypeNull}
		}
		out[i] = v
	}
	return out
}

func isNull(v bson.RawValue) bool {
	return v.Type == 0 || v.Type == bson.TypeNull || v.Type == bson.TypeUndefined
}

// after is the filter of the rows that follow vals in the order of fields
// (MongoDB order: null and missing first ascending, last descending).
func after(fields []sortField, vals []bson.RawValue) bson.D {
	var ors bson.A
	for i, f := range fields {
		var and bson.A
		for j := 0; j < i; j++ {
			if isNull(vals[j]) {
				and = append(and, bson.D{{Key: fields[j].path, Value: nil}})
			} else {
				and = append(and, bson.D{{Key: fields[j].path, Value: vals[j]}})
			}
		}
		v := vals[i]
		switch {
		case !f.desc && isNull(v):
			and = append(and, bson.D{{Key: f.path, Value: bson.D{{Key: "$ne", Value: nil}}}})
		case !f.desc:
			and = append(and, bson.D{{Key: f.path, Value: bson.D{{Key: "$gt", Value: v}}}})
		case isNull(v):
			continue // nothing sorts after null descending
		default:
			and = append(and, bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: f.path, Value: bson.D{{Key: "$lt", Value: v}}}},
				bson.D{{Key: f.path, Value: nil}},
			}}})
		}
		if len(and) == 1 {
			ors = append(ors, and[0])
		} else {
			ors = append(ors, bson.D{{Key: "$and", Value: and}})
		}
	}
	if len(ors) == 0 {
		return matchNothing()
	}
	return bson.D{{Key: "$or", Value: ors}}
}

func sortDoc(fields []sortField, reverse bool) bson.D {
	d := bson.D{}
	for _, f := range fields {
		dir := 1
		if f.desc != reverse {
			dir = -1
		}
		d = append(d, bson.E{Key: f.path, Value: dir})
	}
	return d
}

func reversed(fields []sortField) []sortField {
	out := make([]sortField, len(fields))
	for i, f := range fields {
		out[i] = sortField{f.path, !f.desc}
	}
	return out
}

func matchNothing() bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}
}

func and(fs ...bson.D) bson.D {
	var a bson.A
	for _, f := range fs {
		if len(f) > 0 {
			a = append(a, f)
		}
	}
	switch len(a) {
	case 0:
		return bson.D{}
	case 1:
		return a[0].(bson.D)
	}
	return bson.D{{Key: "$and", Value: a}}
}
