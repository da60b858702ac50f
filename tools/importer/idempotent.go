package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
)

// idempotent rewrites a batch or transaction Bundle so that sending it twice
// stores nothing twice: POST entries without ifNoneExist get a conditional
// create on their first identifier. It returns the Bundle, the resource type
// of each entry and how many POSTs had no identifier to use. es are the
// Bundle's entries as fhir.SplitBundle split them.
//
// It reads only each request's url, method and ifNoneExist (a member of
// the wrong type counts as absent; the server answers for that entry):
// with noDedup, or when no entry needs a condition, the Bundle goes out as
// it came and is never decoded here (json.Unmarshal of a whole Bundle cost
// as much CPU as parsing it again on the server). Only a Bundle that must
// be rewritten is decoded and re-encoded.
func idempotent(data []byte, es []fhir.RawEntry, noDedup bool) ([]byte, []string, int, error) {
	types := make([]string, len(es))
	noID := 0
	for i, e := range es {
		if e.Request == nil {
			continue
		}
		t, _, _ := strings.Cut(strings.TrimPrefix(e.Request.URL, "/"), "/")
		types[i], _, _ = strings.Cut(t, "?")
		if noDedup || !strings.EqualFold(e.Request.Method, "POST") || e.Request.IfNoneExist != "" {
			continue
		}
		if identifierQuery(e.Resource) != "" {
			return rewrite(data)
		}
		noID++
	}
	return data, types, noID, nil
}

// rewrite is idempotent for a Bundle with at least one POST entry to make
// conditional: it decodes the Bundle, sets the entries' ifNoneExist and
// encodes it again.
func rewrite(data []byte) ([]byte, []string, int, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			FullURL  string          `json:"fullUrl,omitempty"`
			Resource json.RawMessage `json:"resource,omitempty"`
			Request  map[string]any  `json:"request,omitempty"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, nil, 0, fmt.Errorf("not a Bundle: %v", err)
	}
	types := make([]string, len(b.Entry))
	changed, noID := false, 0
	for i, e := range b.Entry {
		u, _ := e.Request["url"].(string)
		t, _, _ := strings.Cut(strings.TrimPrefix(u, "/"), "/")
		types[i], _, _ = strings.Cut(t, "?")
		if e.Request == nil {
			continue
		}
		m, _ := e.Request["method"].(string)
		if ine, _ := e.Request["ifNoneExist"].(string); strings.EqualFold(m, "POST") && ine == "" {
			if q := identifierQuery(e.Resource); q != "" {
				e.Request["ifNoneExist"] = q
				changed = true
			} else {
				noID++
			}
		}
	}
	if !changed {
		return data, types, noID, nil
	}
	out, err := json.Marshal(b)
	return out, types, noID, err
}

// identifierQuery is "identifier=system|value" for a resource's first
// complete identifier (Identifier or list of them), or "".
func identifierQuery(res []byte) string {
	var r struct {
		Identifier json.RawMessage `json:"identifier"`
	}
	if json.Unmarshal(res, &r) != nil || len(r.Identifier) == 0 {
		return ""
	}
	type ident struct{ System, Value string }
	var list []ident
	if r.Identifier[0] == '[' {
		_ = json.Unmarshal(r.Identifier, &list)
	} else {
		var one ident
		if json.Unmarshal(r.Identifier, &one) == nil {
			list = []ident{one}
		}
	}
	for _, id := range list {
		if id.System != "" && id.Value != "" {
			return "identifier=" + url.QueryEscape(id.System+"|"+id.Value)
		}
	}
	return ""
}

// batchOf is a batch Bundle writing resources: PUT Type/id when they have
// an id, else a conditional create on their identifier.
func batchOf(resources [][]byte, noDedup bool) ([]byte, []string, int, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	types := make([]string, 0, len(resources))
	noID := 0
	for i, r := range resources {
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(r, &head); err != nil || head.ResourceType == "" {
			return nil, nil, 0, fmt.Errorf("resource %d is not a FHIR resource", i+1)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"resource":`)
		buf.Write(r)
		req := map[string]string{"method": "POST", "url": head.ResourceType}
		if head.ID != "" {
			req = map[string]string{"method": "PUT", "url": head.ResourceType + "/" + head.ID}
		} else if !noDedup {
			if q := identifierQuery(r); q != "" {
				req["ifNoneExist"] = q
			} else {
				noID++
			}
		}
		rb, _ := json.Marshal(req)
		buf.WriteString(`,"request":`)
		buf.Write(rb)
		buf.WriteByte('}')
		types = append(types, head.ResourceType)
	}
	buf.WriteString("]}")
	return buf.Bytes(), types, noID, nil
}
