package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
)

// BundleRequest is Bundle.entry.request: what an entry of a batch or
// transaction asks for.
type BundleRequest struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	IfNoneMatch     string `json:"ifNoneMatch"`
	IfModifiedSince string `json:"ifModifiedSince"`
	IfMatch         string `json:"ifMatch"`
	IfNoneExist     string `json:"ifNoneExist"`
}

// RawEntry is one entry of a split Bundle.
type RawEntry struct {
	FullURL string
	// Resource is the entry's resource as sent, a sub-slice of the Bundle
	// (nil when absent or null): whoever uses it decodes it, once.
	Resource []byte
	// Request is nil when absent or null.
	Request *BundleRequest
	// Err is what is wrong with the entry's members in a LenientSplit (in a
	// StrictSplit it is the error of SplitBundle); what could be read is
	// set all the same: a member of the wrong type counts as absent.
	Err error
}

// RawBundle is a resource's head and, for a Bundle, its entries.
type RawBundle struct {
	ResourceType, Type, ID string
	Entry                  []RawEntry
}

// SplitMode is how strict SplitBundle is with members that are malformed.
type SplitMode int

const (
	// StrictSplit is a server's: the members it reads must have their JSON
	// type, every other member of the Bundle and of its entries must be
	// valid JSON, and the first problem is the error, naming where. Such a
	// Bundle is refused as a whole.
	StrictSplit SplitMode = iota
	// LenientSplit is a client's that passes a Bundle on and lets the
	// server answer for each entry: an entry's problems go to its Err, and
	// the members it does not read are not checked.
	LenientSplit
)

// SplitBundle splits a JSON resource into its head (resourceType, type,
// id) and, when it is a Bundle, its entries, in one pass of the raw-JSON
// scanner and without decoding the resources: each stays a sub-slice of
// body, so a multi-megabyte Bundle is neither scanned twice nor copied.
// The server (every batch and transaction) and the importer (every file it
// reads) split Bundles with it; they differ only in mode.
//
// The structure itself must hold in either mode: body a JSON object with
// nothing after it, entry an array (or null), the head members strings.
// Errors are *Error 400s located in the Bundle.
func SplitBundle(body []byte, mode SplitMode) (*RawBundle, error) {
	ms, err := Members(body)
	if err != nil {
		var se *SyntaxError // a bad string anywhere: the whole Bundle is refused
		if errors.As(err, &se) {
			return nil, Errorf(400, "structure", "Bundle", "body is not valid JSON: %v", err)
		}
		return nil, Errorf(400, "structure", "Bundle", "not a Bundle: %v", err)
	}
	if mode == StrictSplit {
		if k := duplicateKey(ms); k != "" {
			return nil, Errorf(400, "structure", "Bundle."+k, "body is not valid JSON: duplicate object key %q in the Bundle", k)
		}
	}
	b := &RawBundle{}
	var entry []byte
	for _, m := range ms { // leniently, the last of duplicate keys wins, as with json.Unmarshal
		var err error
		switch m.Key {
		case "resourceType":
			err = json.Unmarshal(m.Value, &b.ResourceType)
		case "type":
			err = json.Unmarshal(m.Value, &b.Type)
		case "id":
			err = json.Unmarshal(m.Value, &b.ID)
		case "entry":
			entry = m.Value
		default:
			if mode == StrictSplit && !json.Valid(m.Value) {
				err = errors.New("invalid JSON")
			}
		}
		if err != nil {
			return nil, Errorf(400, "structure", "Bundle."+m.Key, "not a Bundle: %s: %v", m.Key, err)
		}
	}
	if b.ResourceType != "Bundle" || entry == nil || string(entry) == "null" {
		return b, nil
	}
	els, err := Elements(entry)
	if err != nil {
		return nil, Errorf(400, "structure", "Bundle.entry", "not a Bundle: entry: %v", err)
	}
	b.Entry = make([]RawEntry, len(els))
	for i, el := range els {
		if err := splitEntry(el, mode, &b.Entry[i]); err != nil {
			return nil, Errorf(400, "structure", fmt.Sprintf("Bundle.entry[%d]", i), "not a Bundle entry: %v", err)
		}
	}
	return b, nil
}

// duplicateKey is a key ms holds twice, "" when none: a strict split
// refuses it as Decode does inside resources.
func duplicateKey(ms []Member) string {
	for i := 1; i < len(ms); i++ {
		for j := 0; j < i; j++ {
			if ms[i].Key == ms[j].Key {
				return ms[i].Key
			}
		}
	}
	return ""
}

// splitEntry reads one entry the way json.Unmarshal would, keeping the
// resource as a sub-slice. In a LenientSplit it records the first problem in
// e.Err and reads on.
func splitEntry(el []byte, mode SplitMode, e *RawEntry) error {
	fail := func(err error) error {
		if mode == StrictSplit {
			return err
		}
		if e.Err == nil {
			e.Err = err
		}
		return nil
	}
	ms, err := Members(el)
	if err != nil {
		return fail(err)
	}
	if k := duplicateKey(ms); k != "" {
		if err := fail(fmt.Errorf("duplicate object key %q", k)); err != nil {
			return err
		}
	}
	for _, m := range ms {
		var err error
		switch m.Key {
		case "fullUrl":
			err = json.Unmarshal(m.Value, &e.FullURL)
		case "resource":
			e.Resource = nil
			if string(m.Value) != "null" {
				e.Resource = m.Value
			}
		case "request":
			e.Request = nil
			switch {
			case string(m.Value) == "null":
			case m.Value[0] != '{':
				err = errors.New("not a JSON object")
			default:
				// on a member of the wrong type, Unmarshal still fills the others
				e.Request = &BundleRequest{}
				err = json.Unmarshal(m.Value, e.Request)
			}
		default:
			if mode == StrictSplit && !json.Valid(m.Value) {
				err = errors.New("invalid JSON")
			}
		}
		if err != nil {
			if err := fail(fmt.Errorf("%s: %v", m.Key, err)); err != nil {
				return err
			}
		}
	}
	return nil
}
