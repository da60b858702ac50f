package psc

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// The provider's key set is fetched when a token first needs it and kept
// for keyMaxAge. A token naming a kid the set does not hold (the provider
// rotated its keys) fetches it again, at most once per refetchInterval: a
// stream of tokens with made-up kids costs the provider one request a
// minute, not one each.
const (
	keyMaxAge       = time.Hour
	refetchInterval = time.Minute
)

// asymmetric are the algorithms accepted from the key set. HS256 is not
// among them: it is verified with the client secret (verify.go), never
// with a key the set publishes.
var asymmetric = map[jwa.SignatureAlgorithm]bool{
	jwa.RS256: true, jwa.RS384: true, jwa.RS512: true,
	jwa.PS256: true, jwa.PS384: true, jwa.PS512: true,
	jwa.ES256: true, jwa.ES384: true, jwa.ES512: true,
}

type keyCache struct {
	mu      sync.Mutex
	byKid   map[string]jwk.Key
	fetched time.Time // zero: never
	refetch time.Time // the last refetch for an unknown kid
}

// key returns the provider's public key kid for a token signed alg: the
// key must declare that very algorithm (jwx never infers one here).
func (p *Provider) key(ctx context.Context, step, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	if kid == "" {
		return nil, refused(step, ErrUnknownKey, "the token names no kid")
	}
	c := &p.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	now := p.cfg.Now()
	if c.fetched.IsZero() || now.Sub(c.fetched) > keyMaxAge {
		if err := p.fetchKeys(ctx, now); err != nil {
			return nil, err
		}
	}
	k, ok := c.byKid[kid]
	if !ok && (c.refetch.IsZero() || now.Sub(c.refetch) >= refetchInterval) {
		c.refetch = now
		if err := p.fetchKeys(ctx, now); err != nil {
			return nil, err
		}
		k, ok = c.byKid[kid]
	}
	if !ok {
		return nil, refused(step, ErrUnknownKey, fmt.Sprintf("kid %q is not in the provider's key set", printable(kid)))
	}
	if k.Algorithm().String() != alg.String() {
		return nil, refused(step, ErrAlgorithm, fmt.Sprintf("the token is signed %s but key %q is %s", alg, printable(kid), k.Algorithm()))
	}
	return k, nil
}

// fetchKeys replaces the cached set with the provider's current one
// (c.mu held). Keys without a kid or an accepted asymmetric alg, keys for
// encryption and symmetric keys are left out.
func (p *Provider) fetchKeys(ctx context.Context, now time.Time) error {
	c := &p.keys
	req, err := http.NewRequest(http.MethodGet, p.meta.JWKSURI, nil)
	if err != nil {
		return fmt.Errorf("psc: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	a, err := p.do(ctx, req)
	if err != nil {
		return fmt.Errorf("psc: jwks: %w", err)
	}
	if a.status != http.StatusOK {
		return fmt.Errorf("psc: jwks: %s answered %d", p.meta.JWKSURI, a.status)
	}
	set, err := jwk.Parse(a.body, jwk.WithIgnoreParseError(true))
	if err != nil {
		return fmt.Errorf("psc: jwks: not a key set: %v", err)
	}
	keys := map[string]jwk.Key{}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		alg, ok := k.Algorithm().(jwa.SignatureAlgorithm)
		if !ok || !asymmetric[alg] || k.KeyID() == "" || (k.KeyUsage() != "" && k.KeyUsage() != string(jwk.ForSignature)) {
			continue
		}
		pub, err := jwk.PublicKeyOf(k)
		if err != nil || pub.KeyType() == jwa.OctetSeq {
			continue
		}
		if _, dup := keys[k.KeyID()]; dup {
			continue // the first of a kid, as jwx's LookupKeyID
		}
		keys[k.KeyID()] = pub
	}
	c.byKid, c.fetched = keys, now
	return nil
}
