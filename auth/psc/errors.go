package psc

import (
	"errors"
	"strings"
)

// Why a login is refused: a *RefusedError wraps one of these (errors.Is).
var (
	// ErrProvider: the provider answered an error (invalid_grant…).
	ErrProvider = errors.New("the provider refused")
	// ErrMalformed: an answer that is not what the protocol says.
	ErrMalformed = errors.New("malformed answer")
	// ErrAlgorithm: a signature algorithm not accepted (none, HS384…),
	// or not the one of the key.
	ErrAlgorithm = errors.New("signature algorithm not accepted")
	// ErrUnknownKey: no key of the provider's key set has the token's kid.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("bad signature")
	ErrIssuer    = errors.New("wrong issuer")
	ErrAudience  = errors.New("wrong audience")
	// ErrExpired: exp (required) passed by more than the skew, or nbf/iat
	// in the future.
	ErrExpired = errors.New("expired or not yet valid")
	ErrNonce   = errors.New("nonce mismatch")
	// ErrACR: an authentication level outside the accepted set.
	ErrACR = errors.New("authentication level not accepted")
	// ErrSubject: the userinfo is of another subject than the ID token.
	ErrSubject = errors.New("userinfo subject differs from the ID token's")
	// ErrClaims: a required claim missing or not of the expected form.
	ErrClaims = errors.New("claims missing or invalid")
)

// RefusedError is a login the provider's answers do not prove: Step is
// the answer refused ("token", "id_token", "userinfo"), Reason the check
// that failed (one of the Err values), Detail what was seen. It never
// carries a token, a code or a secret.
type RefusedError struct {
	Step   string
	Reason error
	Detail string
}

func (e *RefusedError) Error() string {
	s := "psc: " + e.Step + " refused: " + e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *RefusedError) Unwrap() error { return e.Reason }

func refused(step string, reason error, detail string) error {
	return &RefusedError{Step: step, Reason: reason, Detail: detail}
}

// printable is a provider-supplied string fit for a message: at most 200
// characters, control characters dropped.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 200 {
			b.WriteString("…")
			break
		}
		if r >= 0x20 && r != 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}
