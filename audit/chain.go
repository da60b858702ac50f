package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ChainURL is the extension every AuditEvent carries: sub-extension
// "previous" (valueString) is the hash of the event before it in the chain
// ("" for the first event ever written), "hash" its own. See
// docs/security.md, "Audit trail".
const ChainURL = "https://dcc.example.fr/fhir/StructureDefinition/audit-chain"

// Type is the resource type of the trail.
const Type = "AuditEvent"

// idDigits is the width of an event id: the chain's order is the ids'.
const idDigits = 16

// ID is the id of the seq-th event (1-based).
func ID(seq int64) string {
	s := strconv.FormatInt(seq, 10)
	for len(s) < idDigits {
		s = "0" + s
	}
	return s
}

// Seq is the sequence number of an event id, 0 when it is not one.
func Seq(id string) int64 {
	if len(id) != idDigits {
		return 0
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// hashExt opens the hash sub-extension, which the writer puts right after
// the previous one in the canonical form (the stored encoding).
const hashExt = `,{"url":"hash","valueString":"`

// Hash is the hex SHA-256 of the canonical form of the AuditEvent ae:
// its JSON with the "hash" sub-extension of the chain extension left out,
// object members sorted by key (bytes of UTF-8), no whitespace, arrays in
// order, numbers as written, strings escaped as Go's encoding/json escapes
// them with HTML escaping off (", \, control characters, U+2028, U+2029).
// ae itself is not changed.
func Hash(ae map[string]any) (string, error) {
	c := make(map[string]any, len(ae))
	for k, v := range ae {
		c[k] = v
	}
	if exts, ok := ae["extension"].([]any); ok {
		out := make([]any, 0, len(exts))
		for _, x := range exts {
			m, _ := x.(map[string]any)
			if m != nil && m["url"] == ChainURL {
				subs, _ := m["extension"].([]any)
				keep := make([]any, 0, len(subs))
				for _, s := range subs {
					if sm, _ := s.(map[string]any); sm != nil && sm["url"] == "hash" {
						continue
					}
					keep = append(keep, s)
				}
				m2 := make(map[string]any, len(m))
				for k, v := range m {
					m2[k] = v
				}
				m2["extension"] = keep
				x = m2
			}
			out = append(out, x)
		}
		c["extension"] = out
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:]), nil
}

// marshal is the stored JSON of an event (the canonical encoder, hash in).
func marshal(ae map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ae); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// decode reads a stored event, numbers kept as written.
func decode(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// links returns the previous and own hash an event carries.
func links(ae map[string]any) (previous, hash string, err error) {
	exts, _ := ae["extension"].([]any)
	found := false
	for _, x := range exts {
		m, _ := x.(map[string]any)
		if m == nil || m["url"] != ChainURL {
			continue
		}
		if found {
			return "", "", errors.New("two chain extensions")
		}
		found = true
		var havePrev, haveHash bool
		subs, _ := m["extension"].([]any)
		for _, s := range subs {
			sm, _ := s.(map[string]any)
			v, _ := sm["valueString"].(string)
			switch sm["url"] {
			case "previous":
				previous, havePrev = v, true
			case "hash":
				hash, haveHash = v, true
			}
		}
		if !havePrev || !haveHash {
			return "", "", errors.New("chain extension without previous and hash")
		}
	}
	if !found {
		return "", "", fmt.Errorf("no %s extension", ChainURL)
	}
	return previous, hash, nil
}
