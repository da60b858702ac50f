package psc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// discovery is what the relying party uses of the provider's discovery
// document (OpenID Connect Discovery 1.0 section 3).
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// discover fetches and checks the discovery document. It is kept for the
// Provider's life: the endpoints of a provider do not move while the
// server runs (its keys do, and keys.go refetches them).
func (p *Provider) discover(ctx context.Context) (discovery, error) {
	var d discovery
	req, err := http.NewRequest(http.MethodGet, p.cfg.DiscoveryURL, nil)
	if err != nil {
		return d, fmt.Errorf("psc: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	a, err := p.do(ctx, req)
	if err != nil {
		return d, fmt.Errorf("psc: discovery: %w", err)
	}
	if a.status != http.StatusOK {
		return d, fmt.Errorf("psc: discovery: %s answered %d", p.cfg.DiscoveryURL, a.status)
	}
	if err := json.Unmarshal(a.body, &d); err != nil {
		return d, fmt.Errorf("psc: discovery: %s is not a discovery document: %v", p.cfg.DiscoveryURL, err)
	}
	// The issuer is the prefix of the document's URL (Discovery section
	// 4.3), here before PSC's own well-known name: a document naming
	// another issuer is not that provider's.
	if d.Issuer == "" || !strings.HasPrefix(p.cfg.DiscoveryURL, strings.TrimRight(d.Issuer, "/")+"/") {
		return d, fmt.Errorf("psc: discovery: the issuer %q is not the prefix of the discovery URL %s", d.Issuer, p.cfg.DiscoveryURL)
	}
	for _, e := range []struct{ name, url string }{
		{"issuer", d.Issuer},
		{"authorization_endpoint", d.AuthorizationEndpoint},
		{"token_endpoint", d.TokenEndpoint},
		{"userinfo_endpoint", d.UserinfoEndpoint},
		{"jwks_uri", d.JWKSURI},
	} {
		if e.url == "" {
			return d, fmt.Errorf("psc: discovery: no %s", e.name)
		}
		if err := checkProviderURL(e.url); err != nil {
			return d, fmt.Errorf("psc: discovery: %s: %w", e.name, err)
		}
	}
	return d, nil
}
