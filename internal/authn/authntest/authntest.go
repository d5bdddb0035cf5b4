// Package authntest is a test Authority for the tests of every package that
// authenticates callers: it issues RFC 9068 access tokens signed with ES256,
// RS256 or EdDSA keys, publishes their JWKS, and makes DPoP keys and proofs
// (RFC 9449). It uses go-jose for all JOSE and is meant for tests only.
package authntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms the Authority signs with.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

// Authority is a token issuer with one signing key per algorithm. Set Now to
// a test's fake clock; it defaults to time.Now. Not safe for concurrent
// mutation of Now; Token may be called concurrently.
type Authority struct {
	// URL is the issuer identifier put in iss.
	URL string
	// Now stamps iat and derives exp. Nil means time.Now.
	Now  func() time.Time
	keys map[string]jose.JSONWebKey // by alg; private keys with kid and alg
}

// NewAuthority makes an Authority for issuerURL with fresh ES256 (P-256),
// RS256 (2048-bit) and EdDSA (Ed25519) keys, each with a kid derived from its
// RFC 7638 thumbprint.
func NewAuthority(t testing.TB, issuerURL string) *Authority {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("authntest: generating ES256 key: %v", err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("authntest: generating RS256 key: %v", err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("authntest: generating EdDSA key: %v", err)
	}
	a := &Authority{URL: issuerURL, keys: map[string]jose.JSONWebKey{}}
	for alg, k := range map[string]crypto.Signer{ES256: ec, RS256: rk, EdDSA: ed} {
		jwk := jose.JSONWebKey{Key: k, Algorithm: alg, Use: "sig"}
		tp, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatalf("authntest: thumbprint: %v", err)
		}
		jwk.KeyID = alg + "-" + base64.RawURLEncoding.EncodeToString(tp[:9])
		a.keys[alg] = jwk
	}
	return a
}

// KID returns the kid of the Authority's key for alg (ES256, RS256, EdDSA).
func (a *Authority) KID(alg string) string { return a.keys[alg].KeyID }

// JWKS returns the Authority's public JWKS document with all three keys.
func (a *Authority) JWKS() []byte {
	var set jose.JSONWebKeySet
	for _, alg := range []string{ES256, RS256, EdDSA} {
		k := a.keys[alg]
		set.Keys = append(set.Keys, k.Public())
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic("authntest: marshalling JWKS: " + err.Error())
	}
	return b
}

// MergeJWKS joins JWKS documents into one, as an Authority publishes during a
// key rotation.
func MergeJWKS(t testing.TB, docs ...[]byte) []byte {
	t.Helper()
	var out jose.JSONWebKeySet
	for _, d := range docs {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(d, &set); err != nil {
			t.Fatalf("authntest: parsing JWKS: %v", err)
		}
		out.Keys = append(out.Keys, set.Keys...)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("authntest: marshalling JWKS: %v", err)
	}
	return b
}

// Claims describes the token Token issues. Zero fields take the defaults
// noted; a field set to Omit (strings) is left out of the token.
type Claims struct {
	Issuer   string   // default: the Authority's URL
	Subject  string   // default "alice"
	ClientID string   // default "stellactl"
	Tenant   string   // default "tenant-a"; claim name "tenant"
	Scope    string   // default "signer.sign"
	Audience []string // default ["signer"]
	JTI      string   // default: random
	// ExpiresAt defaults to Now()+10m; NotBefore is left out unless set;
	// IssuedAt defaults to Now().
	ExpiresAt, NotBefore, IssuedAt time.Time
	// JKT sets cnf.jkt (DPoP binding), X5T sets cnf["x5t#S256"] (mTLS
	// binding); with neither the token has no cnf.
	JKT, X5T string
	// Alg picks the signing key: ES256 (default), RS256, EdDSA.
	Alg string
	// KID overrides the kid header; Omit leaves it out.
	KID string
	// Typ overrides the typ header (default "at+jwt"); Omit leaves it out.
	Typ string
	// Extra claims are added last and override the ones above; a nil value
	// removes a claim.
	Extra map[string]any
}

// Omit, as a Claims string field, leaves that claim or header out.
const Omit = "\x00omit"

func (a *Authority) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Token issues a signed access token with c's claims.
func (a *Authority) Token(t testing.TB, c Claims) string {
	t.Helper()
	now := a.now()
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	m := map[string]any{}
	set := func(name, v string) {
		if v != Omit {
			m[name] = v
		}
	}
	set("iss", def(c.Issuer, a.URL))
	set("sub", def(c.Subject, "alice"))
	set("client_id", def(c.ClientID, "stellactl"))
	set("tenant", def(c.Tenant, "tenant-a"))
	set("scope", def(c.Scope, "signer.sign"))
	set("jti", def(c.JTI, randomID(t)))
	if c.Audience == nil {
		m["aud"] = []string{"signer"}
	} else {
		m["aud"] = c.Audience
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = now.Add(10 * time.Minute)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	m["exp"] = c.ExpiresAt.Unix()
	m["iat"] = c.IssuedAt.Unix()
	if !c.NotBefore.IsZero() {
		m["nbf"] = c.NotBefore.Unix()
	}
	if c.JKT != "" || c.X5T != "" {
		cnf := map[string]string{}
		if c.JKT != "" {
			cnf["jkt"] = c.JKT
		}
		if c.X5T != "" {
			cnf["x5t#S256"] = c.X5T
		}
		m["cnf"] = cnf
	}
	for k, v := range c.Extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("authntest: marshalling claims: %v", err)
	}
	alg := def(c.Alg, ES256)
	key, ok := a.keys[alg]
	if !ok {
		t.Fatalf("authntest: no key for algorithm %q", alg)
	}
	if c.KID != "" {
		key.KeyID = c.KID
		if c.KID == Omit {
			key.KeyID = ""
		}
	}
	opts := &jose.SignerOptions{}
	if typ := def(c.Typ, "at+jwt"); typ != Omit {
		opts = opts.WithType(jose.ContentType(typ))
	}
	var signingKey any = key
	if key.KeyID == "" {
		signingKey = key.Key
	}
	return sign(t, jose.SignatureAlgorithm(alg), signingKey, opts, payload)
}

// SignRaw signs arbitrary claims bytes with the Authority's key for alg,
// with the given kid and typ headers (empty means absent), for tests of
// malformed tokens.
func (a *Authority) SignRaw(t testing.TB, alg, kid, typ string, payload []byte) string {
	t.Helper()
	key, ok := a.keys[alg]
	if !ok {
		t.Fatalf("authntest: no key for algorithm %q", alg)
	}
	key.KeyID = kid
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	var signingKey any = key
	if kid == "" {
		signingKey = key.Key
	}
	return sign(t, jose.SignatureAlgorithm(alg), signingKey, opts, payload)
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, opts *jose.SignerOptions, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("authntest: making signer: %v", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatalf("authntest: signing: %v", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatalf("authntest: serializing: %v", err)
	}
	return out
}

func randomID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("authntest: random: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// CertThumbprint returns the RFC 8705 x5t#S256 of a certificate: the
// base64url SHA-256 of its DER.
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HMACToken re-signs the claims of token with HS256 under secret, keeping
// its kid and typ: a token verifiers must refuse (symmetric algorithms are
// never accepted).
func HMACToken(t testing.TB, token string, secret []byte) string {
	t.Helper()
	obj, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("authntest: parsing token: %v", err)
	}
	h := obj.Signatures[0].Protected
	opts := &jose.SignerOptions{}
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok {
		opts = opts.WithType(jose.ContentType(typ))
	}
	key := jose.JSONWebKey{Key: secret, KeyID: h.KeyID}
	return sign(t, jose.HS256, key, opts, obj.UnsafePayloadWithoutVerification())
}
