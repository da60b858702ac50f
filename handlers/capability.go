package handlers

import (
	"encoding/json"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/dccfhir/dccfhir/fhir"
)

// Version is the server version reported in the CapabilityStatement.
var Version = "0.1.0"

// capabilities answers GET /metadata with a CapabilityStatement derived from
// the route table, the search parameter registry and the storage features,
// so it states what this deployment does, not what someone wrote down.
func (s *Server) capabilities(c echo.Context) error {
	gen := uint64(0)
	if s.svc.Params != nil {
		gen = s.svc.Params.Generation()
	}
	s.capMu.Lock()
	if s.capBody == nil || s.capGen != gen {
		s.capBody, s.capGen = s.buildCapabilities(), gen
	}
	body := s.capBody
	s.capMu.Unlock()
	return s.writeJSON(c, 200, body)
}

type code struct {
	Code string `json:"code"`
}

func (s *Server) buildCapabilities() []byte {
	var typeInter, sysInter []code
	seen := map[string]bool{}
	for _, r := range routeTable {
		if r.interaction == "" || r.level == "" || seen[r.interaction] {
			continue
		}
		seen[r.interaction] = true
		switch r.level {
		case "system":
			if r.interaction == "transaction" {
				if s.svc.Store.Features().Transactions {
					sysInter = append(sysInter, code{"transaction"})
				}
				sysInter = append(sysInter, code{"batch"})
				continue
			}
			sysInter = append(sysInter, code{r.interaction})
		default:
			typeInter = append(typeInter, code{r.interaction})
		}
	}
	condDelete := "single"
	if s.cfg.ConditionalDeleteMultiple {
		condDelete = "multiple"
	}
	type sp struct {
		Name       string `json:"name"`
		Definition string `json:"definition,omitempty"`
		Type       string `json:"type"`
	}
	type resource struct {
		Type              string   `json:"type"`
		Interaction       []code   `json:"interaction"`
		Versioning        string   `json:"versioning"`
		ReadHistory       bool     `json:"readHistory"`
		UpdateCreate      bool     `json:"updateCreate"`
		ConditionalCreate bool     `json:"conditionalCreate"`
		ConditionalRead   string   `json:"conditionalRead"`
		ConditionalUpdate bool     `json:"conditionalUpdate"`
		ConditionalDelete string   `json:"conditionalDelete"`
		SearchInclude     []string `json:"searchInclude,omitempty"`
		SearchRevInclude  []string `json:"searchRevInclude,omitempty"`
		SearchParam       []sp     `json:"searchParam,omitempty"`
	}
	var ops []map[string]string
	seenOp := map[string]bool{}
	for _, r := range routeTable {
		if def, ok := operationDefs[r.interaction]; ok && !seenOp[r.interaction] {
			seenOp[r.interaction] = true
			ops = append(ops, map[string]string{"name": r.interaction, "definition": def})
		}
	}
	var resources []resource
	for _, t := range fhir.ResourceTypes {
		r := resource{Type: t, Interaction: typeInter, Versioning: "versioned-update", ReadHistory: true, UpdateCreate: true,
			ConditionalCreate: true, ConditionalRead: "full-support", ConditionalUpdate: true, ConditionalDelete: condDelete}
		if s.svc.Params != nil {
			for _, p := range s.svc.Params.Params(t) {
				if p.Unsupported != "" {
					continue
				}
				r.SearchParam = append(r.SearchParam, sp{p.Code, p.URL, p.Type.String()})
			}
		}
		resources = append(resources, r)
	}
	rest := map[string]any{
		"mode":        "server",
		"resource":    resources,
		"interaction": sysInter,
		"operation":   ops,
		"compartment": []string{
			"http://hl7.org/fhir/CompartmentDefinition/patient", "http://hl7.org/fhir/CompartmentDefinition/encounter",
			"http://hl7.org/fhir/CompartmentDefinition/relatedPerson", "http://hl7.org/fhir/CompartmentDefinition/practitioner",
			"http://hl7.org/fhir/CompartmentDefinition/device",
		},
	}
	if s.cfg.Auth != nil {
		rest["security"] = s.security()
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         time.Now().UTC().Format("2006-01-02"),
		"publisher":    "dccfhir",
		"kind":         "instance",
		"software":     map[string]any{"name": "dccfhir", "version": Version},
		"implementation": map[string]any{
			"description": "dccfhir: FHIR R4 server of the regional cancer network shared record (DCC)",
			"url":         s.cfg.BaseURL,
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"patchFormat": []string{"application/json-patch+json", "application/fhir+json"},
		"rest":        []any{rest},
	}
	b, _ := json.Marshal(cs)
	return b
}

// security is rest.security of a protected server: SMART on FHIR, with the
// authorization server's endpoints in the oauth-uris extension (the same
// as the discovery document's: both come from SMARTConfiguration).
func (s *Server) security() map[string]any {
	doc := s.cfg.Auth.SMARTConfiguration()
	var uris []any
	for _, u := range []struct{ name, key string }{
		{"authorize", "authorization_endpoint"}, {"token", "token_endpoint"},
		{"introspect", "introspection_endpoint"}, {"revoke", "revocation_endpoint"},
	} {
		if v, _ := doc[u.key].(string); v != "" {
			uris = append(uris, map[string]any{"url": u.name, "valueUri": v})
		}
	}
	sec := map[string]any{
		"cors": true,
		"service": []any{map[string]any{
			"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR", "display": "SMART-on-FHIR",
			}},
			"text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		"description": "Every request but GET metadata and GET .well-known/smart-configuration needs a bearer access token " +
			"(SMART App Launch 2.2: authorization code with PKCE, refresh, backend services); the token's scopes decide what it may do.",
	}
	if len(uris) > 0 {
		sec["extension"] = []any{map[string]any{
			"url":       "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": uris,
		}}
	}
	return sec
}

// operationDefs maps the operations the route table wires to their
// OperationDefinitions, for the CapabilityStatement.
var operationDefs = map[string]string{
	"validate":      "http://hl7.org/fhir/OperationDefinition/Resource-validate",
	"expand":        "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
	"everything":    "http://hl7.org/fhir/OperationDefinition/Patient-everything",
	"validate-code": "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
	"lookup":        "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
	"reindex":       "http://dcc.example.fr/fhir/OperationDefinition/reindex",
}
