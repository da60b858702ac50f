package handlers

import (
	"github.com/labstack/echo/v4"
)

// route is one endpoint. The router is built from this table and the
// CapabilityStatement is derived from it, so what /metadata states is
// exactly what is wired.
//
// With Config.Auth every route but GET /metadata needs a valid token
// (authenticate), and what it may do is checked on every route: by the
// service for every call that takes the request's context (interactions,
// searches, histories, batch and transaction entries, the stored resource
// of an instance-level operation), by the handler for what reaches no
// service check — $validate (any letter on the type), $expand,
// $validate-code and $lookup (r or s on ValueSet/CodeSystem), $reindex and
// its status (system/*.u) — in access.go.
type route struct {
	method, path string
	// interaction is the FHIR interaction code (read, vread, update, patch,
	// delete, history-instance, history-type, create, search-type, batch,
	// transaction, history-system, search-system) or "" for none.
	interaction string
	// level: "instance"/"type" ones go into rest.resource.interaction,
	// "system" ones into rest.interaction.
	level string
	h     func(*Server, echo.Context) error
}

// routeTable is filled in init: the capabilities handler reads it.
var routeTable []route

func init() {
	routeTable = []route{
		{"GET", "/metadata", "capabilities", "", (*Server).capabilities},
		{"POST", "", "transaction", "system", (*Server).bundle},
		{"POST", "/", "transaction", "", (*Server).bundle},
		{"GET", "/_history", "history-system", "system", (*Server).history},
		{"POST", "/$reindex", "reindex", "", (*Server).reindex},
		{"GET", "/$reindex/:job", "reindex", "", (*Server).reindexStatus},
		{"POST", "/:type/$reindex", "reindex", "", (*Server).reindex},
		{"GET", "", "search-system", "system", (*Server).searchSystem},
		{"GET", "/", "search-system", "", (*Server).searchSystem},
		{"POST", "/_search", "search-system", "", (*Server).searchSystem},
		{"GET", "/:type", "search-type", "type", (*Server).search},
		{"POST", "/:type/_search", "search-type", "", (*Server).search},
		{"POST", "/:type", "create", "type", (*Server).create},
		{"PUT", "/:type", "update", "", (*Server).conditionalUpdate},
		{"DELETE", "/:type", "delete", "", (*Server).conditionalDelete},
		{"PATCH", "/:type", "patch", "", (*Server).conditionalPatch},
		{"GET", "/:type/_history", "history-type", "type", (*Server).history},
		{"POST", "/:type/$validate", "validate", "", (*Server).validateOp},
		{"GET", "/ValueSet/$expand", "expand", "", (*Server).expand},
		{"POST", "/ValueSet/$expand", "expand", "", (*Server).expand},
		{"GET", "/ValueSet/:id/$expand", "expand", "", (*Server).expand},
		{"POST", "/ValueSet/:id/$expand", "expand", "", (*Server).expand},
		{"GET", "/:type/$validate-code", "validate-code", "", (*Server).validateCode},
		{"POST", "/:type/$validate-code", "validate-code", "", (*Server).validateCode},
		{"GET", "/:type/:id/$validate-code", "validate-code", "", (*Server).validateCode},
		{"POST", "/:type/:id/$validate-code", "validate-code", "", (*Server).validateCode},
		{"GET", "/CodeSystem/$lookup", "lookup", "", (*Server).lookup},
		{"POST", "/CodeSystem/$lookup", "lookup", "", (*Server).lookup},
		{"GET", "/Patient/:id/$everything", "everything", "", (*Server).everything},
		{"POST", "/Patient/:id/$everything", "everything", "", (*Server).everything},
		{"POST", "/:type/:id/$validate", "validate", "", (*Server).validateOp},
		{"GET", "/:type/:id/$validate", "validate", "", (*Server).validateOp},
		{"GET", "/:type/:id", "read", "instance", (*Server).read},
		{"HEAD", "/:type/:id", "read", "", (*Server).read},
		{"PUT", "/:type/:id", "update", "instance", (*Server).update},
		{"DELETE", "/:type/:id", "delete", "instance", (*Server).delete},
		{"PATCH", "/:type/:id", "patch", "instance", (*Server).patch},
		{"GET", "/:type/:id/_history", "history-instance", "instance", (*Server).history},
		{"GET", "/:type/:id/_history/:vid", "vread", "instance", (*Server).vread},
		{"GET", "/:type/:id/:compartment", "search-compartment", "", (*Server).searchCompartment},
	}
}

func (s *Server) routes(g *echo.Group) {
	for _, r := range routeTable {
		r := r
		g.Add(r.method, r.path, func(c echo.Context) error {
			c.Set(keyInteraction, r.interaction)
			if t := c.Param("type"); t != "" {
				c.Set(keyType, metricType(t))
			}
			return r.h(s, c)
		})
	}
}
