package authn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
)

// allowedAlgs are the only JWS algorithms accepted, for access tokens and
// DPoP proofs alike: asymmetric, never "none", never HS*.
var allowedAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// issuerKeys are one issuer's verification keys by kid.
type issuerKeys struct {
	byKID map[string]jose.JSONWebKey
	doc   []byte // the JWKS document they were parsed from
}

// parseJWKS reads a JWKS document and checks its signing keys.
func parseJWKS(doc []byte) (*issuerKeys, error) {
	var set jose.JSONWebKeySet
	if err := josejson.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("parsing JWKS: %w", err)
	}
	keys := &issuerKeys{byKID: map[string]jose.JSONWebKey{}}
	for i, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		if k.KeyID == "" {
			return nil, fmt.Errorf("key %d has no kid", i)
		}
		if _, dup := keys.byKID[k.KeyID]; dup {
			return nil, fmt.Errorf("kid %q appears twice", k.KeyID)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %q is not a public key (a JWKS must never hold private or symmetric keys)", k.KeyID)
		}
		if err := keyUsable(k); err != nil {
			return nil, fmt.Errorf("key %q: %w", k.KeyID, err)
		}
		keys.byKID[k.KeyID] = k
	}
	if len(keys.byKID) == 0 {
		return nil, errors.New("no signing keys")
	}
	return keys, nil
}

// keyUsable checks that k is a key type one of allowedAlgs can verify with.
func keyUsable(k jose.JSONWebKey) error {
	switch key := k.Key.(type) {
	case *ecdsa.PublicKey:
		if key.Curve != elliptic.P256() {
			return fmt.Errorf("EC curve %s is not supported (only P-256, for ES256)", key.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too small (want %d or more)", key.N.BitLen(), minRSABits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("key type %T is not supported", k.Key)
	}
	return nil
}

// keyFitsAlg reports whether k may verify a signature made with alg: ES256
// needs a P-256 key, RS256 an RSA key, EdDSA an Ed25519 key, and a key that
// names its alg must name this one.
func keyFitsAlg(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	if keyUsable(*k) != nil {
		return false
	}
	switch k.Key.(type) {
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256)
	case *rsa.PublicKey:
		return alg == string(jose.RS256)
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

// typHeader returns the JWS typ header, or "" when absent or not a string.
func typHeader(h jose.Header) string {
	s, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return s
}

// tokenClaims are the access-token claims read (RFC 9068 §2.2, RFC 8693
// §4.2 for scope, RFC 9449 §6 and RFC 8705 §3.1 for cnf).
type tokenClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope"`
	Cnf       *struct {
		JKT string `json:"jkt"`
		X5T string `json:"x5t#S256"`
	} `json:"cnf"`
}

// verifiedToken is what Authenticate needs of an access token that passed
// every check that does not depend on the request. It is shared by the
// requests that present the same token and must not be modified.
type verifiedToken struct {
	iss, sub, tenant, clientID, jti string
	aud, scopes                     []string
	jkt, x5t                        string
	exp                             time.Time
	// keys are the issuer's keys in force when the token was verified: a
	// cached token is used only while they still are (see SetIssuers).
	keys *issuerKeys
}

// verifyToken returns the verified access token raw, from the cache or by
// checking it (RFC 9068 §4), as of now, and the SHA-256 of raw.
func (a *Authenticator) verifyToken(raw string, now time.Time) (*verifiedToken, [32]byte, error) {
	key := sha256.Sum256([]byte(raw))
	// Loaded before checkToken loads it again: the tag is never newer than
	// the keys that verified the token, so a swap in between only costs a
	// second verification.
	set := a.issuerSet()
	if tok := a.tokens.get(key); tok != nil && tok.keys == set[tok.iss] {
		if !now.Before(tok.exp.Add(a.skew)) {
			return nil, key, refuse(CodeExpired, "token expired at %s", tok.exp.UTC().Format(time.RFC3339))
		}
		return tok, key, nil
	}
	tok, err := a.checkToken(raw, now)
	if err != nil {
		return nil, key, err
	}
	if tok.keys = set[tok.iss]; tok.keys != nil {
		a.tokens.put(key, tok, now, a.skew)
	}
	return tok, key, nil
}

// checkToken parses and verifies an access token without the cache.
func (a *Authenticator) checkToken(raw string, now time.Time) (*verifiedToken, error) {
	payload, err := a.verifyJWS(raw, "access token", func(typ string) bool {
		// RFC 9068 §4: typ must be at+jwt (the application/ prefix may be kept).
		return typ == "at+jwt" || typ == "application/at+jwt"
	})
	if err != nil {
		return nil, err
	}
	var c tokenClaims
	if err := josejson.Unmarshal(payload, &c); err != nil {
		return nil, refuse(CodeMalformed, "access token claims are not a JSON object of the expected types: %v", err)
	}

	// The claims are now the issuer's.
	switch {
	case c.Expiry == nil:
		return nil, refuse(CodeMalformed, "access token has no exp")
	case c.IssuedAt == nil:
		return nil, refuse(CodeMalformed, "access token has no iat")
	case c.Subject == "":
		return nil, refuse(CodeMalformed, "access token has no sub")
	case c.ClientID == "":
		return nil, refuse(CodeMalformed, "access token has no client_id")
	case c.ID == "":
		return nil, refuse(CodeMalformed, "access token has no jti")
	case len(c.Audience) == 0:
		return nil, refuse(CodeWrongAudience, "access token has no aud")
	}
	exp := c.Expiry.Time()
	if !now.Before(exp.Add(a.skew)) {
		return nil, refuse(CodeExpired, "token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Add(a.skew).Before(c.NotBefore.Time()) {
		return nil, refuse(CodeNotYetValid, "token is not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if now.Add(a.skew).Before(c.IssuedAt.Time()) {
		return nil, refuse(CodeNotYetValid, "token was issued in the future (%s)", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	tenant, err := a.tenantClaim(payload)
	if err != nil {
		return nil, err
	}
	tok := &verifiedToken{
		iss:      c.Issuer,
		sub:      c.Subject,
		tenant:   tenant,
		clientID: c.ClientID,
		jti:      c.ID,
		aud:      []string(c.Audience),
		scopes:   strings.Fields(c.Scope),
		exp:      exp,
	}
	if c.Cnf != nil {
		tok.jkt, tok.x5t = c.Cnf.JKT, c.Cnf.X5T
	}
	return tok, nil
}

// tenantClaim reads the configured tenant claim, which must be a non-empty
// string.
func (a *Authenticator) tenantClaim(payload []byte) (string, error) {
	if a.tenant == DefaultTenantClaim {
		var c struct {
			Tenant *string `json:"tenant"`
		}
		if err := josejson.Unmarshal(payload, &c); err != nil || c.Tenant == nil || *c.Tenant == "" {
			return "", refuse(CodeMalformed, "access token has no %q claim holding a non-empty string", a.tenant)
		}
		return *c.Tenant, nil
	}
	var m map[string]any
	if err := josejson.Unmarshal(payload, &m); err != nil {
		return "", refuse(CodeMalformed, "access token claims are not a JSON object: %v", err)
	}
	s, _ := m[a.tenant].(string)
	if s == "" {
		return "", refuse(CodeMalformed, "access token has no %q claim holding a non-empty string", a.tenant)
	}
	return s, nil
}

// truncate shortens outside input quoted in a message.
func truncate(s string) string {
	const n = 128
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// tokenCache keeps verified access tokens by the SHA-256 of their compact
// form until they expire, so a client reusing its token costs one hash and
// one map lookup per request.
type tokenCache struct {
	max int
	mu  sync.RWMutex
	m   map[[32]byte]*verifiedToken
}

func newTokenCache(max int) *tokenCache {
	if max < 0 {
		max = 0
	}
	return &tokenCache{max: max, m: make(map[[32]byte]*verifiedToken)}
}

func (c *tokenCache) get(key [32]byte) *verifiedToken {
	if c.max == 0 {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

// put adds tok. When the cache is full it first drops the expired tokens,
// then, if still full, an arbitrary one (Go's map iteration order is
// randomised, so no caller can pin which).
func (c *tokenCache) put(key [32]byte, tok *verifiedToken, now time.Time, skew time.Duration) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, t := range c.m {
			if !now.Before(t.exp.Add(skew)) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = tok
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// verifyJWS parses a compact JWS (what names it in messages), checks its typ
// header with typOK (lower-cased), finds the key by iss and kid among the
// trusted Authorities and verifies the signature. It returns the payload,
// which only then may be trusted.
func (a *Authenticator) verifyJWS(raw, what string, typOK func(string) bool) ([]byte, error) {
	if len(raw) > maxTokenLen {
		return nil, refuse(CodeMalformed, "%s is longer than %d bytes", what, maxTokenLen)
	}
	jws, err := jose.ParseSignedCompact(raw, allowedAlgs)
	if err != nil {
		var ua *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ua) {
			return nil, refuse(CodeMalformed, "%s algorithm %q is not one of ES256, RS256, EdDSA", what, ua.Got)
		}
		return nil, refuse(CodeMalformed, "%s is not a compact JWS: %v", what, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(CodeMalformed, "%s must carry exactly one signature", what)
	}
	h := jws.Signatures[0].Protected
	if !typOK(strings.ToLower(typHeader(h))) {
		return nil, refuse(CodeMalformed, "%s typ %q is not accepted here", what, typHeader(h))
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	payload := jws.UnsafePayloadWithoutVerification()
	if err := josejson.Unmarshal(payload, &c); err != nil {
		return nil, refuse(CodeMalformed, "%s claims are not a JSON object of the expected types: %v", what, err)
	}
	// Find the key: iss selects the issuer, kid the key. Nothing read from
	// the payload is trusted before the signature has been verified.
	is, ok := a.issuerSet()[c.Issuer]
	if !ok {
		return nil, refuse(CodeWrongIssuer, "issuer %q is not trusted", truncate(c.Issuer))
	}
	if h.KeyID == "" {
		return nil, refuse(CodeUnknownKID, "%s has no kid", what)
	}
	k, ok := is.byKID[h.KeyID]
	if !ok {
		return nil, refuse(CodeUnknownKID, "kid %q is not in the JWKS of issuer %s", truncate(h.KeyID), c.Issuer)
	}
	if !keyFitsAlg(&k, h.Algorithm) {
		return nil, refuse(CodeBadSignature, "key %q cannot verify algorithm %s", k.KeyID, h.Algorithm)
	}
	verified, err := jws.Verify(k.Key)
	if err != nil || !bytes.Equal(verified, payload) {
		return nil, refuse(CodeBadSignature, "signature does not verify with key %q of issuer %s", k.KeyID, c.Issuer)
	}
	return payload, nil
}
