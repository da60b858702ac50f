package auth

import (
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"
)

// smartCapabilities are the SMART App Launch 2.2 capabilities the server
// has (conformance.md).
var smartCapabilities = []string{
	"launch-ehr", "launch-standalone", "authorize-post",
	"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
	"sso-openid-connect",
	"context-banner", "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
	"permission-offline", "permission-online", "permission-patient", "permission-user",
	"permission-v1", "permission-v2",
}

// scopesSupported are the scopes discovery lists: the non-resource ones
// and the wildcard of each context, v2 and v1 (any resource type and
// subset of cruds, and search-restricted scopes, are accepted too).
var scopesSupported = []string{
	"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
	"offline_access", "online_access",
	"patient/*.cruds", "user/*.cruds", "system/*.cruds",
	"patient/*.rs", "user/*.rs", "system/*.rs",
	"patient/*.read", "user/*.read", "system/*.read",
	"patient/*.write", "user/*.write", "system/*.write",
	"patient/*.*", "user/*.*", "system/*.*",
}

// discoveryDocuments are /fhir/.well-known/smart-configuration and
// /.well-known/openid-configuration; every URL absolute from the issuer.
func discoveryDocuments(cfg Config) (smart, oidc map[string]any) {
	iss := cfg.Issuer
	common := map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/auth/jwks",
		"authorization_endpoint":                iss + "/auth/authorize",
		"token_endpoint":                        iss + "/auth/token",
		"introspection_endpoint":                iss + "/auth/introspect",
		"revocation_endpoint":                   iss + "/auth/revoke",
		"token_endpoint_auth_methods_supported": []string{string(authJWT), string(authBasic)},
		"token_endpoint_auth_signing_alg_values_supported": assertionAlgNames,
		"grant_types_supported":                            []string{"authorization_code", "client_credentials", "refresh_token"},
		"scopes_supported":                                 scopesSupported,
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
	}
	smart = maps.Clone(common)
	smart["capabilities"] = smartCapabilities
	oidc = maps.Clone(common)
	oidc["subject_types_supported"] = []string{"public"}
	oidc["id_token_signing_alg_values_supported"] = []string{signingAlg.String()}
	oidc["response_modes_supported"] = []string{"query"}
	oidc["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "fhirUser"}
	oidc["claims_parameter_supported"] = false
	oidc["request_parameter_supported"] = false
	oidc["request_uri_parameter_supported"] = false
	return smart, oidc
}

// SMARTConfiguration is the discovery document of
// /fhir/.well-known/smart-configuration, for the CapabilityStatement's
// security extension (a copy: the caller may change it).
func (s *Server) SMARTConfiguration() map[string]any { return maps.Clone(s.tokens.smart) }

// Discovery documents and the key set are public: any origin may read them.
func (s *Server) smartConfiguration(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, s.tokens.smart)
}

func (s *Server) openIDConfiguration(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, s.tokens.oidc)
}

// jwksEndpoint is GET /auth/jwks: the public halves of the server's keys
// (the newest and those still accepted), nothing else.
func (s *Server) jwksEndpoint(c echo.Context) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.Blob(http.StatusOK, "application/json", s.tokens.keys.current(c.Request().Context()).jwks)
}
