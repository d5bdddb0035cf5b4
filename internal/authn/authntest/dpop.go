package authntest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DPoPKey is a client's DPoP key pair (ES256 or EdDSA). Set Now to a test's
// fake clock; it defaults to time.Now.
type DPoPKey struct {
	// Now stamps the proofs' iat. Nil means time.Now.
	Now func() time.Time
	alg jose.SignatureAlgorithm
	key crypto.Signer
	jwk jose.JSONWebKey // public
}

// NewDPoPKey makes a fresh ES256 (P-256) DPoP key.
func NewDPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("authntest: generating DPoP key: %v", err)
	}
	return &DPoPKey{alg: jose.ES256, key: k, jwk: jose.JSONWebKey{Key: k.Public()}}
}

// NewEdDSADPoPKey makes a fresh Ed25519 DPoP key.
func NewEdDSADPoPKey(t testing.TB) *DPoPKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("authntest: generating DPoP key: %v", err)
	}
	return &DPoPKey{alg: jose.EdDSA, key: k, jwk: jose.JSONWebKey{Key: k.Public()}}
}

// JKT returns the key's RFC 7638 SHA-256 thumbprint, base64url: the value of
// cnf.jkt in a token bound to it.
func (k *DPoPKey) JKT() string {
	tp, err := k.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		panic("authntest: thumbprint: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

type proofSettings struct {
	iat        time.Time
	jti        string
	typ        string
	alg        jose.SignatureAlgorithm
	ath        *string
	extra      map[string]any
	privateJWK bool
	signer     *DPoPKey
	noJWK      bool
}

// ProofOption changes one aspect of a proof, for tests of refusals.
type ProofOption func(*proofSettings)

// WithIAT sets the proof's iat.
func WithIAT(t time.Time) ProofOption { return func(s *proofSettings) { s.iat = t } }

// WithJTI sets the proof's jti; Omit leaves it out.
func WithJTI(jti string) ProofOption { return func(s *proofSettings) { s.jti = jti } }

// WithTyp sets the typ header; Omit leaves it out.
func WithTyp(typ string) ProofOption { return func(s *proofSettings) { s.typ = typ } }

// WithATH sets the ath claim; Omit leaves it out.
func WithATH(ath string) ProofOption { return func(s *proofSettings) { s.ath = &ath } }

// WithClaim sets (or, with a nil value, removes) any claim last.
func WithClaim(name string, v any) ProofOption {
	return func(s *proofSettings) {
		if s.extra == nil {
			s.extra = map[string]any{}
		}
		s.extra[name] = v
	}
}

// WithPrivateJWK embeds the private key in the jwk header (which verifiers
// must refuse).
func WithPrivateJWK() ProofOption { return func(s *proofSettings) { s.privateJWK = true } }

// WithoutJWK leaves the jwk header out.
func WithoutJWK() ProofOption { return func(s *proofSettings) { s.noJWK = true } }

// SignedBy signs the proof with other's private key while the jwk header
// still names k's public key (a forged proof).
func SignedBy(other *DPoPKey) ProofOption { return func(s *proofSettings) { s.signer = other } }

// Proof makes a DPoP proof (RFC 9449 §4.2) for a request with method to url
// (query and fragment included are the caller's business), bound to
// accessToken through ath (no ath when accessToken is empty).
func (k *DPoPKey) Proof(t testing.TB, method, url, accessToken string, opts ...ProofOption) string {
	t.Helper()
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	s := proofSettings{iat: now(), typ: "dpop+jwt", alg: k.alg, signer: k}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("authntest: random: %v", err)
	}
	s.jti = base64.RawURLEncoding.EncodeToString(b)
	for _, o := range opts {
		o(&s)
	}
	m := map[string]any{"htm": method, "htu": url, "iat": s.iat.Unix()}
	if s.jti != Omit {
		m["jti"] = s.jti
	}
	switch {
	case s.ath != nil && *s.ath != Omit:
		m["ath"] = *s.ath
	case s.ath == nil && accessToken != "":
		sum := sha256.Sum256([]byte(accessToken))
		m["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	for n, v := range s.extra {
		if v == nil {
			delete(m, n)
		} else {
			m[n] = v
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("authntest: marshalling proof claims: %v", err)
	}
	so := &jose.SignerOptions{}
	if s.typ != Omit {
		so = so.WithType(jose.ContentType(s.typ))
	}
	switch {
	case s.noJWK:
	case s.privateJWK:
		so = so.WithHeader("jwk", jose.JSONWebKey{Key: k.key})
	case s.signer != k:
		so = so.WithHeader("jwk", k.jwk)
	default:
		so.EmbedJWK = true
	}
	return sign(t, s.alg, s.signer.key, so, payload)
}
