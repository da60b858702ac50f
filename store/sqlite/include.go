package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/dccfhir/dccfhir/store"
)

// Targets answers one _include step from the read pool.
func (s *Store) Targets(ctx context.Context, from []store.Ref, param, targetType string) ([]*store.Resource, error) {
	return targets(ctx, s.r, from, param, targetType)
}

// Referrers answers one _revinclude step from the read pool.
func (s *Store) Referrers(ctx context.Context, typ, param string, to []store.Ref) ([]*store.Resource, error) {
	return referrers(ctx, s.r, typ, param, to)
}

// byType groups refs by type (types sorted), as JSON arrays of ids for
// json_each: one statement per type, whatever the number of ids.
func byType(refs []store.Ref) (types []string, ids map[string]string) {
	m := map[string][]string{}
	for _, r := range refs {
		m[r.Type] = append(m[r.Type], r.ID)
	}
	ids = make(map[string]string, len(m))
	for t, v := range m {
		types = append(types, t)
		b, _ := json.Marshal(v)
		ids[t] = string(b)
	}
	sort.Strings(types)
	return types, ids
}

// perType runs the statement build makes for each type of refs (with the
// JSON array of that type's ids) and gathers the resources they select.
func perType(ctx context.Context, c *stmtCache, refs []store.Ref, what string, build func(typ, idsJSON string) *frag) ([]*store.Resource, error) {
	types, ids := byType(refs)
	var out []*store.Resource
	for _, t := range types {
		rs, err := queryResources(ctx, c, build(t, ids[t]))
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// targets follows the references of from (one statement per type).
func targets(ctx context.Context, c *stmtCache, from []store.Ref, param, targetType string) ([]*store.Resource, error) {
	return perType(ctx, c, from, "_include", func(t, ids string) *frag { return targetsSQL(t, ids, param, targetType) })
}

// targetsSQL selects the live targets of the references of the resources
// of typ with the ids of idsJSON: the sources by the resource (type, id)
// key, their rows by idx_ref's (res, param) key, the targets by (type, id)
// again. CROSS JOIN keeps SQLite from starting at idx_ref.
func targetsSQL(typ, idsJSON, param, targetType string) *frag {
	f := &frag{}
	f.w("SELECT DISTINCT r.rid, r.type, r.id, r.version, r.updated, r.deleted, r.method, h.json FROM resource s",
		" CROSS JOIN idx_ref x ON x.res = s.rid JOIN resource r ON r.type = x.type AND r.id = x.id JOIN history h ON h.hid = r.hid",
		" WHERE s.type = ")
	f.p(typ)
	f.w(" AND s.id IN (SELECT value FROM json_each(")
	f.p(idsJSON)
	f.w(")) AND r.deleted = 0")
	if !store.AnyParam(param) {
		f.w(" AND x.param = ")
		f.p(param)
	}
	if targetType != "" {
		f.w(" AND x.type = ")
		f.p(targetType)
	}
	return f
}

// referrers finds the resources referring to to (one statement per type).
func referrers(ctx context.Context, c *stmtCache, typ, param string, to []store.Ref) ([]*store.Resource, error) {
	return perType(ctx, c, to, "_revinclude", func(t, ids string) *frag { return referrersSQL(t, ids, typ, param) })
}

// referrersSQL selects the live resources of typ referring to the
// resources of targetType with the ids of idsJSON, through idx_ref's
// (type, id, param) index.
func referrersSQL(targetType, idsJSON, typ, param string) *frag {
	f := &frag{}
	f.w("SELECT DISTINCT r.rid, r.type, r.id, r.version, r.updated, r.deleted, r.method, h.json FROM idx_ref x",
		" JOIN resource r ON r.rid = x.res JOIN history h ON h.hid = r.hid WHERE x.type = ")
	f.p(targetType)
	f.w(" AND x.id IN (SELECT value FROM json_each(")
	f.p(idsJSON)
	f.w("))")
	if !store.AnyParam(param) {
		f.w(" AND x.param = ")
		f.p(param)
	}
	f.w(" AND r.deleted = 0")
	if !store.AnyType(typ) {
		f.w(" AND r.type = ")
		f.p(typ)
	}
	return f
}

// queryResources runs f, a select of resource columns as selectResource
// lists them.
func queryResources(ctx context.Context, c *stmtCache, f *frag) ([]*store.Resource, error) {
	rows, err := c.query(ctx, f.b.String(), f.a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Resource)
	}
	return out, rows.Err()
}
