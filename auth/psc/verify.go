package psc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// MaxSkew is the clock skew tolerated on exp, nbf and iat.
const MaxSkew = 60 * time.Second

// parseSigned verifies raw as a JWS of this provider and validates its
// claims with opts (on top of exp, nbf and iat within MaxSkew). The key is
// chosen from the header's alg before anything is trusted: HS256 is
// verified with the client secret — Pro Santé Connect's connector signs
// so, and this path serves this provider's ID tokens and userinfo only —,
// an asymmetric alg with the key set's key of the token's kid, which must
// declare that alg; anything else (none, HS384, HS512, an unknown alg) is
// refused.
func (p *Provider) parseSigned(ctx context.Context, step, raw string, opts ...jwt.ParseOption) (jwt.Token, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, refused(step, ErrMalformed, "not a compact JWS")
	}
	msg, err := jws.Parse([]byte(raw)) // only to read the header: nothing is trusted yet
	if err != nil || len(msg.Signatures()) != 1 {
		return nil, refused(step, ErrMalformed, "not a JWS")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	alg := h.Algorithm()
	var key any
	switch {
	case alg == jwa.HS256:
		key = []byte(p.cfg.ClientSecret)
	case asymmetric[alg]:
		k, err := p.key(ctx, step, h.KeyID(), alg)
		if err != nil {
			return nil, err
		}
		key = k
	default:
		return nil, refused(step, ErrAlgorithm, fmt.Sprintf("alg %q", printable(alg.String())))
	}
	opts = append([]jwt.ParseOption{
		jwt.WithKey(alg, key),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(p.cfg.Now)),
		jwt.WithAcceptableSkew(MaxSkew),
	}, opts...)
	tok, err := jwt.Parse([]byte(raw), opts...)
	if err != nil {
		return nil, classify(step, err)
	}
	return tok, nil
}

// classify names the check jwx refused a token for.
func classify(step string, err error) error {
	switch {
	case jws.IsVerificationError(err):
		return refused(step, ErrSignature, "the signature does not verify")
	case errors.Is(err, jwt.ErrTokenExpired()), errors.Is(err, jwt.ErrTokenNotYetValid()), errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return refused(step, ErrExpired, err.Error())
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return refused(step, ErrIssuer, err.Error())
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return refused(step, ErrAudience, err.Error())
	case errors.Is(err, jwt.ErrRequiredClaim()), jwt.IsValidationError(err):
		return refused(step, ErrClaims, err.Error())
	}
	return refused(step, ErrMalformed, "the token does not parse")
}

// idToken is what the relying party keeps of a verified ID token.
type idToken struct {
	subject       string
	acr           string
	family, given string
	nationalID    string
}

// verifyIDToken checks an ID token (OpenID Connect Core 3.1.3.7): the
// signature, iss the discovery issuer, aud containing the client id (and
// azp the client id when present, required with several audiences), exp
// required, iat and sub present, the nonce of this login, an accepted acr.
func (p *Provider) verifyIDToken(ctx context.Context, raw, nonce string) (*idToken, error) {
	const step = "id_token"
	tok, err := p.parseSigned(ctx, step, raw,
		jwt.WithIssuer(p.meta.Issuer),
		jwt.WithAudience(p.cfg.ClientID),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("iat"),
		jwt.WithRequiredClaim("sub"),
	)
	if err != nil {
		return nil, err
	}
	azp := claimString(tok, "azp")
	if (len(tok.Audience()) > 1 || azp != "") && azp != p.cfg.ClientID {
		return nil, refused(step, ErrAudience, fmt.Sprintf("azp %q is not this client", printable(azp)))
	}
	got := claimString(tok, "nonce")
	if nonce == "" || subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
		return nil, refused(step, ErrNonce, "the nonce is not this login's")
	}
	acr := claimString(tok, "acr")
	if !p.acr[acr] {
		return nil, refused(step, ErrACR, fmt.Sprintf("acr %q is not among %s", printable(acr), strings.Join(p.cfg.ACR, ", ")))
	}
	return &idToken{
		subject:    tok.Subject(),
		acr:        acr,
		family:     claimString(tok, "family_name"),
		given:      claimString(tok, "given_name"),
		nationalID: claimString(tok, "SubjectNameID"),
	}, nil
}

// claimString is a string claim of tok, "" when absent or not a string.
func claimString(tok jwt.Token, name string) string {
	v, ok := tok.Get(name)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}
