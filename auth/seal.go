package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dccfhir/dccfhir/store"
)

// Before a login nothing a browser asks for is written to the store: an
// anonymous client sending GETs would otherwise fill it and hold its one
// writer. What a page must hand to the next one before the login (the
// pending authorize request, the Pro Santé Connect state) travels sealed,
// in the page or in a cookie; the pre-login session is a cookie whose
// CSRF token is derived from it. A sealed value is AES-256-GCM under the
// deployment's seal key (one record, made at the first start, shared by
// every instance), bound to its purpose and carrying its expiry.

// KindSealKey is the deployment's seal key.
const KindSealKey = "auth.sealkey" // Key: "current"; Value: sealKeyRecord

type sealKeyRecord struct {
	Key []byte `json:"key"` // 32 bytes
}

// errSealed is any sealed value that does not open: forged, cut, of
// another purpose or deployment, or expired.
var errSealed = errors.New("sealed value invalid or expired")

type sealer struct {
	aead cipher.AEAD
	mac  []byte // HMAC key of derived values (the pre-login CSRF token)
	now  func() time.Time
}

// loadSealer reads the seal key, making it on the first start (two
// instances starting together agree on the first one stored).
func loadSealer(ctx context.Context, st store.Records, now func() time.Time) (*sealer, error) {
	rec, err := st.GetRecord(ctx, KindSealKey, "current")
	if errors.Is(err, store.ErrNotFound) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(sealKeyRecord{Key: key})
		err = st.CreateRecord(ctx, &store.Record{Kind: KindSealKey, Key: "current", Value: b})
		if err == nil || errors.Is(err, store.ErrConflict) {
			rec, err = st.GetRecord(ctx, KindSealKey, "current")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auth seal key: %w", err)
	}
	var k sealKeyRecord
	if err := json.Unmarshal(rec.Value, &k); err != nil || len(k.Key) != 32 {
		return nil, fmt.Errorf("auth seal key: malformed record")
	}
	return newSealer(k.Key, now)
}

func newSealer(key []byte, now func() time.Time) (*sealer, error) {
	enc := hmac.New(sha256.New, key)
	enc.Write([]byte("dccfhir seal: encryption"))
	block, err := aes.NewCipher(enc.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("dccfhir seal: derived values"))
	return &sealer{aead: aead, mac: mac.Sum(nil), now: now}, nil
}

// sealedBody is what is sealed: Value is the caller's (a pointer, when
// opening: decoded in place).
type sealedBody struct {
	Expires int64 `json:"exp"`
	Value   any   `json:"v"`
}

// seal is v, readable by open for the same purpose until expires.
func (s *sealer) seal(purpose string, v any, expires time.Time) (string, error) {
	plain, err := json.Marshal(sealedBody{Expires: expires.Unix(), Value: v})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, plain, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open decodes sealed into v and returns its expiry; errSealed unless it
// was sealed for purpose by this deployment and has not expired.
func (s *sealer) open(purpose, sealed string, v any) (time.Time, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < ns+s.aead.Overhead() {
		return time.Time{}, errSealed
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], []byte(purpose))
	if err != nil {
		return time.Time{}, errSealed
	}
	body := sealedBody{Value: v}
	if err := json.Unmarshal(plain, &body); err != nil {
		return time.Time{}, errSealed
	}
	exp := time.Unix(body.Expires, 0)
	if !s.now().Before(exp) {
		return time.Time{}, errSealed // v may hold the expired value: callers drop it on error
	}
	return exp, nil
}

// derive is a value only this deployment can compute from v (for purpose).
func (s *sealer) derive(purpose, v string) string {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
