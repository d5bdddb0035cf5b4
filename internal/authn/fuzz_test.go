package authn

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/store/storetest"
)

var fuzzNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func fuzzAuthenticator(t testing.TB) (*Authenticator, *authntest.Authority) {
	t.Helper()
	auth := authntest.NewAuthority(t, "https://authority.example")
	auth.Now = func() time.Time { return fuzzNow }
	a, err := New(context.Background(), Config{
		Issuers: []Issuer{{URL: auth.URL, JWKS: auth.JWKS()}},
		DB:      storetest.Open(t, Migrations()...),
		Now:     func() time.Time { return fuzzNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, auth
}

// FuzzParseAccessToken feeds raw strings through the access-token parse and
// verification path: it must never panic, and whatever it accepts must be
// a complete token.
func FuzzParseAccessToken(f *testing.F) {
	a, auth := fuzzAuthenticator(f)
	key := authntest.NewDPoPKey(f)
	for _, c := range []authntest.Claims{
		{JKT: key.JKT()},
		{Alg: authntest.RS256, X5T: "AAAA"},
		{Alg: authntest.EdDSA, Audience: []string{"signer", "attestor"}},
		{KID: authntest.Omit},
		{Typ: "JWT"},
		{Extra: map[string]any{"exp": "soon", "aud": 3, "cnf": "x"}},
	} {
		tok := auth.Token(f, c)
		f.Add(tok)
		f.Add(tok[:len(tok)/2])
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add(authntest.HMACToken(f, auth.Token(f, authntest.Claims{}), []byte("0123456789abcdef0123456789abcdef")))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("")
	f.Add("...")
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := a.checkToken(raw, fuzzNow)
		if err == nil {
			if _, ok := a.issuerSet()[tok.iss]; !ok || tok.sub == "" || tok.tenant == "" || tok.clientID == "" || len(tok.aud) == 0 {
				t.Fatalf("accepted an incomplete token: %+v", tok)
			}
			return
		}
		if _, ok := err.(*Error); !ok {
			t.Fatalf("refusal %v is not an *Error", err)
		}
	})
}

// FuzzParseDPoPProof feeds raw strings through the DPoP proof parse and
// claim checks: no panics, and only *Error refusals.
func FuzzParseDPoPProof(f *testing.F) {
	a, _ := fuzzAuthenticator(f)
	key := authntest.NewDPoPKey(f)
	key.Now = func() time.Time { return fuzzNow }
	ed := authntest.NewEdDSADPoPKey(f)
	ed.Now = key.Now
	const url = "https://signer.example/api/v1/signer/sign/dsse"
	for _, p := range []string{
		key.Proof(f, "POST", url, "token"),
		ed.Proof(f, "POST", url, "token"),
		key.Proof(f, "POST", url, "token", authntest.WithPrivateJWK()),
		key.Proof(f, "POST", url, "token", authntest.WithoutJWK()),
		key.Proof(f, "POST", url, "token", authntest.WithTyp("JWT")),
		key.Proof(f, "POST", url, "token", authntest.WithClaim("iat", "yesterday")),
		key.Proof(f, "POST", url, "token", authntest.WithClaim("htu", 7)),
	} {
		f.Add(p)
		f.Add(p[:len(p)-3])
	}
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiZHBvcCtqd3QifQ.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		proof, err := parseProof(raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("refusal %v is not an *Error", err)
			}
			return
		}
		if proof.jkt == "" {
			t.Fatal("accepted a proof without a key thumbprint")
		}
		r := httptest.NewRequest("POST", url, nil)
		r.TLS = &tls.ConnectionState{}
		if err := a.checkProofClaims(r, sha256.Sum256([]byte("token")), &proof.claims, fuzzNow); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("refusal %v is not an *Error", err)
			}
		}
	})
}

// BenchmarkAuthenticate measures the authentication of one request:
//   - mtls-cached: a certificate-bound token already verified once (the
//     steady state of a client reusing its token): one hash and a lookup.
//   - dpop: a cached DPoP-bound token with a fresh proof each time (proofs
//     are verified every time).
//   - mtls-uncached: the token verified from scratch (cache disabled).
func BenchmarkAuthenticate(b *testing.B) {
	need := Requirement{Audience: AudienceSigner, Scope: ScopeSign}
	const url = "https://signer.example/api/v1/signer/sign/dsse"
	mtls := func(b *testing.B, cacheSize int) {
		a, auth := fuzzAuthenticator(b)
		a.tokens = newTokenCache(cacheSize)
		leaf := &x509.Certificate{Raw: []byte("a client certificate's DER")}
		tok := auth.Token(b, authntest.Claims{X5T: authntest.CertThumbprint(leaf)})
		r := httptest.NewRequest("POST", url, nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
		r.Header.Set("Authorization", "Bearer "+tok)
		b.ResetTimer()
		for b.Loop() {
			if _, err := a.Authenticate(r, need); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("mtls-cached", func(b *testing.B) { mtls(b, DefaultTokenCacheSize) })
	b.Run("mtls-uncached", func(b *testing.B) { mtls(b, -1) })
	b.Run("dpop", func(b *testing.B) {
		a, auth := fuzzAuthenticator(b)
		key := authntest.NewDPoPKey(b)
		key.Now = func() time.Time { return fuzzNow }
		tok := auth.Token(b, authntest.Claims{JKT: key.JKT()})
		proofs := make([]string, b.N)
		for i := range proofs {
			proofs[i] = key.Proof(b, "POST", url, tok)
		}
		r := httptest.NewRequest("POST", url, nil)
		r.TLS = &tls.ConnectionState{}
		r.Header.Set("Authorization", "DPoP "+tok)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.Header.Set("DPoP", proofs[i])
			if _, err := a.Authenticate(r, need); err != nil {
				b.Fatal(err)
			}
		}
	})
}
