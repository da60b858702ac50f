package auth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/dccfhir/dccfhir/store"
)

// The server signs access and ID tokens with one algorithm, RS256: SMART
// requires it for ID tokens (sso-openid-connect), and one algorithm for
// both keeps the verifier's accepted set to exactly one.
const (
	signingAlg = jwa.RS256
	rsaBits    = 2048
	// clockSkew is the leeway of every expiry check, ours and clients'.
	clockSkew = 60 * time.Second
	// keyReload is how often a running server rereads its keys (another
	// process may have rotated them); keyReloadUnknown bounds the rereads an
	// unknown kid causes.
	keyReload        = 30 * time.Second
	keyReloadUnknown = time.Second
)

// signingKey is a KindKey record's value: one of the server's key pairs.
type signingKey struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	// JWK is the private key (alg, kid and use set).
	JWK     json.RawMessage `json:"jwk"`
	Created time.Time       `json:"created"`
	// RetireAfter is when the key is dropped (the record expires then):
	// zero while it is the newest; set by a rotation to the moment every
	// token it signed has expired.
	RetireAfter time.Time `json:"retireAfter,omitempty"`
}

// keyring is the server's keys as loaded: the newest signs, all verify.
type keyring struct {
	signer jwk.Key
	public jwk.Set
	kids   map[string]bool
	// jwks is the public set as /auth/jwks serves it.
	jwks   []byte
	loaded time.Time
}

var errNoKeys = errors.New("auth: no signing key")

// newSigningKey makes a key pair; its kid is its RFC 7638 thumbprint.
func newSigningKey(now time.Time) (*signingKey, error) {
	raw, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, err
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: signingAlg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := k.Set(name, v); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	return &signingKey{KID: kid, Alg: signingAlg.String(), JWK: b, Created: now.UTC()}, nil
}

// addKey stores a new signing key, created after every key in old: it is
// the newest, so the one that signs.
func addKey(ctx context.Context, r *Registry, old []*store.Record) (string, error) {
	now := r.now()
	for _, rec := range old {
		var k signingKey
		if json.Unmarshal(rec.Value, &k) == nil && !now.After(k.Created) {
			now = k.Created.Add(time.Millisecond)
		}
	}
	k, err := newSigningKey(now)
	if err != nil {
		return "", err
	}
	return k.KID, r.put(ctx, KindKey, k.KID, k, time.Time{}, true)
}

// RotateKeys makes a new signing key, the one new tokens are signed with;
// the previous ones stay published and accepted until the tokens they
// signed expire (the longest token lifetime the server recorded, plus the
// clock skew and the time a running server takes to see the new key),
// then their records expire.
func RotateKeys(ctx context.Context, r *Registry) (kid string, err error) {
	old, err := r.Store.ListRecords(ctx, KindKey)
	if err != nil {
		return "", err
	}
	if kid, err = addKey(ctx, r, old); err != nil {
		return "", err
	}
	cfg, err := loadServerRecord(ctx, r)
	if err != nil {
		return "", err
	}
	retire := r.now().Add(cfg.maxTTL() + clockSkew + keyReload).UTC()
	for _, rec := range old {
		var k signingKey
		if err := json.Unmarshal(rec.Value, &k); err != nil {
			return "", fmt.Errorf("auth key %s: %w", rec.Key, err)
		}
		if !k.RetireAfter.IsZero() {
			continue
		}
		k.RetireAfter = retire
		if err := r.put(ctx, KindKey, k.KID, &k, retire, false); err != nil {
			return "", err
		}
	}
	return kid, nil
}

// loadKeyring reads every live signing key.
func loadKeyring(ctx context.Context, recs store.Records, now time.Time) (*keyring, error) {
	list, err := recs.ListRecords(ctx, KindKey)
	if err != nil {
		return nil, err
	}
	keys := make([]*signingKey, 0, len(list))
	for _, rec := range list {
		k := new(signingKey)
		if err := json.Unmarshal(rec.Value, k); err != nil {
			return nil, fmt.Errorf("auth key %s: %w", rec.Key, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].Created.Equal(keys[j].Created) {
			return keys[i].Created.After(keys[j].Created)
		}
		return keys[i].KID < keys[j].KID
	})
	ring := &keyring{public: jwk.NewSet(), kids: make(map[string]bool, len(keys)), loaded: now}
	for i, k := range keys {
		priv, err := jwk.ParseKey(k.JWK)
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", k.KID, err)
		}
		if priv.KeyType() != "RSA" || priv.Algorithm() != signingAlg || priv.KeyID() != k.KID {
			return nil, fmt.Errorf("auth key %s: not an %s key of that kid", k.KID, signingAlg)
		}
		pub, err := publicOnly(priv)
		if err != nil {
			return nil, fmt.Errorf("auth key %s: %w", k.KID, err)
		}
		if err := ring.public.AddKey(pub); err != nil {
			return nil, err
		}
		ring.kids[k.KID] = true
		if i == 0 {
			ring.signer = priv
		}
	}
	if ring.jwks, err = json.Marshal(ring.public); err != nil {
		return nil, err
	}
	return ring, nil
}

// publicOnly is the public half of a private key with only the members a
// verifier needs (kty, n, e, kid, alg, use).
func publicOnly(priv jwk.Key) (jwk.Key, error) {
	var raw rsa.PrivateKey
	if err := priv.Raw(&raw); err != nil {
		return nil, err
	}
	pub, err := jwk.FromRaw(&raw.PublicKey)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: priv.KeyID(), jwk.AlgorithmKey: signingAlg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// keySource holds the loaded keyring and rereads it: every keyReload, and
// on a kid it does not know (at most once per keyReloadUnknown).
type keySource struct {
	recs store.Records
	now  func() time.Time
	ring atomic.Pointer[keyring]
	mu   sync.Mutex // held by the one reloading
	// lastUnknown is the UnixNano of the last reload an unknown kid caused.
	lastUnknown atomic.Int64
	log         func(msg string, args ...any)
}

// load reads the keys, making the first one when there is none.
func (ks *keySource) load(ctx context.Context, r *Registry) error {
	ring, err := loadKeyring(ctx, ks.recs, ks.now())
	if errors.Is(err, errNoKeys) {
		if _, err = addKey(ctx, r, nil); err != nil {
			return err
		}
		ring, err = loadKeyring(ctx, ks.recs, ks.now())
	}
	if err != nil {
		return err
	}
	ks.ring.Store(ring)
	return nil
}

// current is the keyring, reread first when it is older than keyReload
// (by one caller; the others go on with the one they have).
func (ks *keySource) current(ctx context.Context) *keyring {
	ring := ks.ring.Load()
	if ks.now().Sub(ring.loaded) < keyReload || !ks.mu.TryLock() {
		return ring
	}
	defer ks.mu.Unlock()
	if ring = ks.ring.Load(); ks.now().Sub(ring.loaded) < keyReload {
		return ring
	}
	return ks.reloadLocked(ctx, ring)
}

// lookup returns a keyring that knows kid, rereading the keys once if the
// current one does not (rate-limited), or nil.
func (ks *keySource) lookup(ctx context.Context, kid string) *keyring {
	ring := ks.current(ctx)
	if ring.kids[kid] {
		return ring
	}
	now := ks.now().UnixNano()
	last := ks.lastUnknown.Load()
	if now-last < int64(keyReloadUnknown) || !ks.lastUnknown.CompareAndSwap(last, now) {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ring = ks.reloadLocked(ctx, ks.ring.Load()); ring.kids[kid] {
		return ring
	}
	return nil
}

func (ks *keySource) reloadLocked(ctx context.Context, old *keyring) *keyring {
	ring, err := loadKeyring(ctx, ks.recs, ks.now())
	if err != nil {
		// Keep serving with the keys we have; try again at the next period.
		ks.log("auth: rereading the signing keys failed", "error", err)
		stale := *old
		stale.loaded = ks.now()
		ring = &stale
	}
	ks.ring.Store(ring)
	return ring
}
