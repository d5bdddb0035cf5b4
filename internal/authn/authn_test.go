package authn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// TestAuthenticateDPoP runs every outcome reachable with DPoP-bound tokens
// over real HTTP on 127.0.0.1.
func TestAuthenticateDPoP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	const path = "/api/v1/signer/sign/dsse"
	url := srv.URL + path
	key := f.dpopKey(t)
	other := f.dpopKey(t)
	edKey := authntest.NewEdDSADPoPKey(t)
	edKey.Now = f.clock.Now
	foreign := authntest.NewAuthority(t, issuerURL) // same issuer URL, keys not in the JWKS
	foreign.Now = f.clock.Now
	now := f.clock.Now()

	tok := func(c authntest.Claims) string {
		if c.JKT == "" {
			c.JKT = key.JKT()
		}
		return f.auth.Token(t, c)
	}
	// dpop builds the headers of a request with a DPoP-bound token.
	dpop := func(token string, opts ...authntest.ProofOption) http.Header {
		return hdr("Authorization", "DPoP "+token, "DPoP", key.Proof(t, "POST", url, token, opts...))
	}
	good := tok(authntest.Claims{})
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+f.auth.KID(authntest.ES256)+`"}`)) +
		"." + strings.Split(good, ".")[1] + "."
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuerURL+`","sub":"mallory"}`)) + "." + parts[2]

	tests := []struct {
		name   string
		method string
		query  string
		header http.Header
		want   string // refusal code; "" means accepted
	}{
		{name: "ES256 token", header: dpop(good)},
		{name: "RS256 token", header: dpop(tok(authntest.Claims{Alg: authntest.RS256}))},
		{name: "EdDSA token", header: dpop(tok(authntest.Claims{Alg: authntest.EdDSA}))},
		{name: "EdDSA proof key", header: func() http.Header {
			tk := f.auth.Token(t, authntest.Claims{JKT: edKey.JKT()})
			return hdr("Authorization", "DPoP "+tk, "DPoP", edKey.Proof(t, "POST", url, tk))
		}()},
		{name: "typ application/at+jwt", header: dpop(tok(authntest.Claims{Typ: "application/at+jwt"}))},
		{name: "scheme in lower case", header: hdr("Authorization", "dpop "+good, "DPoP", key.Proof(t, "POST", url, good))},
		{name: "aud list and attestor endpoint", query: "?aud=attestor&scope=attestor.write",
			header: dpop(tok(authntest.Claims{Audience: []string{"signer", "attestor"}, Scope: "attestor.write attestor.verify"}))},
		{name: "expired within skew", header: dpop(tok(authntest.Claims{ExpiresAt: now.Add(-30 * time.Second), IssuedAt: now.Add(-time.Hour)}))},
		{name: "nbf within skew", header: dpop(tok(authntest.Claims{NotBefore: now.Add(30 * time.Second)}))},
		{name: "proof iat within max age", header: dpop(good, authntest.WithIAT(now.Add(-4*time.Minute)))},
		{name: "htu with query in request", query: "?x=1", header: dpop(good)},
		{name: "GET", method: "GET", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "GET", url, good))},

		{name: "no Authorization", header: hdr(), want: authn.CodeMissing},
		{name: "empty Authorization", header: hdr("Authorization", " "), want: authn.CodeMissing},
		{name: "Basic scheme", header: hdr("Authorization", "Basic YWxpY2U6c2VjcmV0"), want: authn.CodeMalformed},
		{name: "scheme without token", header: hdr("Authorization", "DPoP"), want: authn.CodeMalformed},
		{name: "two Authorization headers", header: hdr("Authorization", "DPoP "+good, "Authorization", "DPoP "+good), want: authn.CodeMalformed},
		{name: "garbage token", header: dpop("not.a.jwt"), want: authn.CodeMalformed},
		{name: "oversized token", header: dpop(strings.Repeat("a", 17<<10)), want: authn.CodeMalformed},
		{name: "alg none", header: dpop(unsigned), want: authn.CodeMalformed},
		{name: "alg HS256", header: dpop(hs256Token(t, good)), want: authn.CodeMalformed},
		{name: "typ JWT", header: dpop(tok(authntest.Claims{Typ: "JWT"})), want: authn.CodeMalformed},
		{name: "no typ", header: dpop(tok(authntest.Claims{Typ: authntest.Omit})), want: authn.CodeMalformed},
		{name: "no sub", header: dpop(tok(authntest.Claims{Subject: authntest.Omit})), want: authn.CodeMalformed},
		{name: "no client_id", header: dpop(tok(authntest.Claims{ClientID: authntest.Omit})), want: authn.CodeMalformed},
		{name: "no tenant", header: dpop(tok(authntest.Claims{Tenant: authntest.Omit})), want: authn.CodeMalformed},
		{name: "tenant not a string", header: dpop(tok(authntest.Claims{Extra: map[string]any{"tenant": 7}})), want: authn.CodeMalformed},
		{name: "no jti", header: dpop(tok(authntest.Claims{JTI: authntest.Omit})), want: authn.CodeMalformed},
		{name: "no exp", header: dpop(tok(authntest.Claims{Extra: map[string]any{"exp": nil}})), want: authn.CodeMalformed},
		{name: "no iat", header: dpop(tok(authntest.Claims{Extra: map[string]any{"iat": nil}})), want: authn.CodeMalformed},
		{name: "claims not an object", header: dpop(f.auth.SignRaw(t, authntest.ES256, f.auth.KID(authntest.ES256), "at+jwt", []byte(`[1]`))), want: authn.CodeMalformed},

		{name: "signed by another key with our kid", header: dpop(foreign.Token(t, authntest.Claims{JKT: key.JKT(), KID: f.auth.KID(authntest.ES256)})), want: authn.CodeBadSignature},
		{name: "payload swapped", header: dpop(tampered), want: authn.CodeBadSignature},
		{name: "RS256 header naming the EC key", header: dpop(f.auth.Token(t, authntest.Claims{JKT: key.JKT(), Alg: authntest.RS256, KID: f.auth.KID(authntest.ES256)})), want: authn.CodeBadSignature},

		{name: "no kid", header: dpop(tok(authntest.Claims{KID: authntest.Omit})), want: authn.CodeUnknownKID},
		{name: "kid not in JWKS", header: dpop(foreign.Token(t, authntest.Claims{JKT: key.JKT()})), want: authn.CodeUnknownKID},

		{name: "other issuer", header: dpop(tok(authntest.Claims{Issuer: "https://evil.example"})), want: authn.CodeWrongIssuer},
		{name: "no iss", header: dpop(tok(authntest.Claims{Issuer: authntest.Omit})), want: authn.CodeWrongIssuer},

		{name: "aud attestor at signer", header: dpop(tok(authntest.Claims{Audience: []string{"attestor"}})), want: authn.CodeWrongAudience},
		{name: "no aud", header: dpop(tok(authntest.Claims{Extra: map[string]any{"aud": nil}})), want: authn.CodeWrongAudience},

		{name: "expired", header: dpop(tok(authntest.Claims{ExpiresAt: now.Add(-2 * time.Minute), IssuedAt: now.Add(-time.Hour)})), want: authn.CodeExpired},
		{name: "nbf in the future", header: dpop(tok(authntest.Claims{NotBefore: now.Add(5 * time.Minute)})), want: authn.CodeNotYetValid},
		{name: "iat in the future", header: dpop(tok(authntest.Claims{IssuedAt: now.Add(5 * time.Minute)})), want: authn.CodeNotYetValid},

		{name: "scope lacks signer.sign", header: dpop(tok(authntest.Claims{Scope: "attestor.verify"})), want: authn.CodeInsufficientScope},
		{name: "scope prefix is not the scope", header: dpop(tok(authntest.Claims{Scope: "signer.signer"})), want: authn.CodeInsufficientScope},
		{name: "other tenant", query: "?tenant=tenant-b", header: dpop(good), want: authn.CodeTenantForbidden},

		{name: "no DPoP header", header: hdr("Authorization", "DPoP "+good), want: authn.CodeDPoPMissing},
		{name: "DPoP-bound token as Bearer", header: hdr("Authorization", "Bearer "+good, "DPoP", key.Proof(t, "POST", url, good)), want: authn.CodeDPoPMissing},

		{name: "proof typ JWT", header: dpop(good, authntest.WithTyp("JWT")), want: authn.CodeDPoPInvalid},
		{name: "proof without typ", header: dpop(good, authntest.WithTyp(authntest.Omit)), want: authn.CodeDPoPInvalid},
		{name: "proof htm GET for POST", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "GET", url, good)), want: authn.CodeDPoPInvalid},
		{name: "proof htu other path", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "POST", srv.URL+"/api/v1/rekor/entries", good)), want: authn.CodeDPoPInvalid},
		{name: "proof htu other host", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "POST", strings.Replace(url, "127.0.0.1", "127.0.0.2", 1), good)), want: authn.CodeDPoPInvalid},
		{name: "proof htu https", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "POST", strings.Replace(url, "http:", "https:", 1), good)), want: authn.CodeDPoPInvalid},
		{name: "proof too old", header: dpop(good, authntest.WithIAT(now.Add(-7*time.Minute))), want: authn.CodeDPoPInvalid},
		{name: "proof from the future", header: dpop(good, authntest.WithIAT(now.Add(2*time.Minute))), want: authn.CodeDPoPInvalid},
		{name: "proof without iat", header: dpop(good, authntest.WithClaim("iat", nil)), want: authn.CodeDPoPInvalid},
		{name: "proof without jti", header: dpop(good, authntest.WithJTI(authntest.Omit)), want: authn.CodeDPoPInvalid},
		{name: "proof jti too long", header: dpop(good, authntest.WithJTI(strings.Repeat("j", 300))), want: authn.CodeDPoPInvalid},
		{name: "proof without ath", header: dpop(good, authntest.WithATH(authntest.Omit)), want: authn.CodeDPoPInvalid},
		{name: "proof ath of another token", header: hdr("Authorization", "DPoP "+good, "DPoP", key.Proof(t, "POST", url, tok(authntest.Claims{}))), want: authn.CodeDPoPInvalid},
		{name: "proof signed by another key", header: dpop(good, authntest.SignedBy(other)), want: authn.CodeDPoPInvalid},
		{name: "proof with private jwk", header: dpop(good, authntest.WithPrivateJWK()), want: authn.CodeDPoPInvalid},
		{name: "proof without jwk", header: dpop(good, authntest.WithoutJWK()), want: authn.CodeDPoPInvalid},
		{name: "proof garbage", header: hdr("Authorization", "DPoP "+good, "DPoP", "garbage"), want: authn.CodeDPoPInvalid},
		{name: "proof alg none", header: hdr("Authorization", "DPoP "+good, "DPoP", noneProof(t, key.Proof(t, "POST", url, good))), want: authn.CodeDPoPInvalid},
		{name: "two DPoP headers", header: func() http.Header {
			h := dpop(good)
			h.Add("DPoP", key.Proof(t, "POST", url, good))
			return h
		}(), want: authn.CodeDPoPInvalid},

		{name: "proof key is not cnf.jkt", header: hdr("Authorization", "DPoP "+good, "DPoP", other.Proof(t, "POST", url, good)), want: authn.CodeCnfMismatch},
		{name: "certificate-bound token as DPoP", header: func() http.Header {
			tk := f.auth.Token(t, authntest.Claims{X5T: "AAAA"})
			return hdr("Authorization", "DPoP "+tk, "DPoP", key.Proof(t, "POST", url, tk))
		}(), want: authn.CodeCnfMismatch},
		{name: "token without cnf", header: func() http.Header {
			tk := f.auth.Token(t, authntest.Claims{})
			return hdr("Authorization", "DPoP "+tk, "DPoP", key.Proof(t, "POST", url, tk))
		}(), want: authn.CodeSenderConstraintMissing},
		{name: "token without cnf as Bearer", header: hdr("Authorization", "Bearer "+f.auth.Token(t, authntest.Claims{})), want: authn.CodeSenderConstraintMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "POST"
			}
			status, rep := send(t, srv.Client(), method, url+tt.query, tt.header)
			if rep.Code != tt.want {
				t.Fatalf("status %d code %q, want code %q", status, rep.Code, tt.want)
			}
			wantStatus := http.StatusOK
			switch tt.want {
			case "":
			case authn.CodeInsufficientScope, authn.CodeTenantForbidden:
				wantStatus = http.StatusForbidden
			default:
				wantStatus = http.StatusUnauthorized
			}
			if status != wantStatus {
				t.Errorf("status %d, want %d", status, wantStatus)
			}
			if tt.want == "" {
				p := rep.Principal
				if p == nil || p.Binding != authn.BindingDPoP || p.Tenant != "tenant-a" || p.Subject != "alice" ||
					p.Issuer != issuerURL || p.ClientID != "stellactl" || p.TokenID == "" || p.JKT == "" || p.DPoPJTI == "" ||
					!p.DPoPExpiry.After(now) {
					t.Errorf("principal %+v", p)
				}
			}
		})
	}
}

// hs256Token re-signs the claims of tok with HMAC under the kid of tok.
func hs256Token(t *testing.T, tok string) string {
	t.Helper()
	return authntest.HMACToken(t, tok, []byte("0123456789abcdef0123456789abcdef"))
}

// noneProof replaces the header of a proof by one with alg none.
func noneProof(t *testing.T, proof string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"dpop+jwt"}`)) + "." + parts[1] + "."
}

// TestAuthenticateMTLS runs the certificate-bound outcomes over real TLS
// 1.3 with client certificates on 127.0.0.1.
func TestAuthenticateMTLS(t *testing.T) {
	f := newFixture(t)
	p := newPKI(t)
	srv := f.tlsServer(t, p)
	url := srv.URL + "/api/v1/rekor/entries"
	cert, leaf := p.client(t, "builder")
	otherCert, otherLeaf := p.client(t, "other")
	key := f.dpopKey(t)
	bound := f.auth.Token(t, authntest.Claims{X5T: authntest.CertThumbprint(leaf)})
	both := f.auth.Token(t, authntest.Claims{X5T: authntest.CertThumbprint(leaf), JKT: key.JKT()})
	dpopOnly := f.auth.Token(t, authntest.Claims{JKT: key.JKT()})

	tests := []struct {
		name    string
		cert    *tls.Certificate
		header  http.Header
		want    string
		binding string
	}{
		{name: "bound to the client certificate", cert: &cert, header: hdr("Authorization", "Bearer "+bound), binding: authn.BindingMTLS},
		{name: "DPoP over TLS", header: hdr("Authorization", "DPoP "+dpopOnly, "DPoP", key.Proof(t, "POST", url, dpopOnly)), binding: authn.BindingDPoP},
		{name: "DPoP and certificate both bound", cert: &cert, header: hdr("Authorization", "DPoP "+both, "DPoP", key.Proof(t, "POST", url, both)), binding: authn.BindingDPoP},
		{name: "both bound, wrong certificate", cert: &otherCert, header: hdr("Authorization", "DPoP "+both, "DPoP", key.Proof(t, "POST", url, both)), want: authn.CodeCnfMismatch},
		{name: "another client's certificate", cert: &otherCert, header: hdr("Authorization", "Bearer "+bound), want: authn.CodeCnfMismatch},
		{name: "no client certificate", header: hdr("Authorization", "Bearer "+bound), want: authn.CodeCnfMismatch},
		{name: "token bound to the other certificate", cert: &cert, header: hdr("Authorization", "Bearer "+f.auth.Token(t, authntest.Claims{X5T: authntest.CertThumbprint(otherLeaf)})), want: authn.CodeCnfMismatch},
		{name: "no cnf", cert: &cert, header: hdr("Authorization", "Bearer "+f.auth.Token(t, authntest.Claims{})), want: authn.CodeSenderConstraintMissing},
		{name: "DPoP-bound token as Bearer", cert: &cert, header: hdr("Authorization", "Bearer "+dpopOnly), want: authn.CodeDPoPMissing},
		{name: "no token", cert: &cert, header: hdr(), want: authn.CodeMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, rep := send(t, tlsClient(srv, tt.cert), "POST", url, tt.header)
			if rep.Code != tt.want {
				t.Fatalf("status %d code %q, want %q", status, rep.Code, tt.want)
			}
			if tt.want == "" && (rep.Principal == nil || rep.Principal.Binding != tt.binding) {
				t.Errorf("principal %+v, want binding %s", rep.Principal, tt.binding)
			}
		})
	}
}

// TestReplay: a proof is accepted once, over HTTP.
func TestReplay(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	key := f.dpopKey(t)
	tok := f.auth.Token(t, authntest.Claims{JKT: key.JKT()})
	h := hdr("Authorization", "DPoP "+tok, "DPoP", key.Proof(t, "POST", srv.URL+"/x", tok))
	if _, rep := send(t, srv.Client(), "POST", srv.URL+"/x", h); rep.Code != "" {
		t.Fatalf("first use: %q", rep.Code)
	}
	if _, rep := send(t, srv.Client(), "POST", srv.URL+"/x", h); rep.Code != authn.CodeDPoPReplayed {
		t.Fatalf("second use: %q, want %s", rep.Code, authn.CodeDPoPReplayed)
	}
	// A fresh proof with the same token is fine.
	h.Set("DPoP", key.Proof(t, "POST", srv.URL+"/x", tok))
	if _, rep := send(t, srv.Client(), "POST", srv.URL+"/x", h); rep.Code != "" {
		t.Fatalf("fresh proof: %q", rep.Code)
	}
}

// TestReplayAcrossRestart: a proof recorded before a restart is refused by
// a new Authenticator on the same database file, and Prune removes it once
// it has expired.
func TestReplayAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/stellad.db"
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Config{Path: path, Migrations: storetest.Padded(authn.Migrations()...)})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	f := &fixture{clock: newClock()}
	f.auth = authntest.NewAuthority(t, issuerURL)
	f.auth.Now = f.clock.Now
	issuer := authn.Issuer{URL: issuerURL, JWKS: f.auth.JWKS()}
	key := f.dpopKey(t)
	tok := f.auth.Token(t, authntest.Claims{JKT: key.JKT()})
	const url = "https://signer.example/api/v1/signer/sign/dsse"
	req := func(proof string) *http.Request {
		r := httptest.NewRequest("POST", url, nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof)
		return r
	}
	need := authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign}
	proof := key.Proof(t, "POST", url, tok)

	db1 := open()
	a1 := f.newAuthenticator(t, db1, issuer)
	p, err := a1.Authenticate(req(proof), need)
	if err != nil {
		t.Fatal(err)
	}
	if err := db1.Commit(ctx, func(tx *sql.Tx) error { return a1.RecordJTI(tx, p) }); err != nil {
		t.Fatal(err)
	}
	// Recording it again (another process, or a bug) is a replay.
	err = db1.Commit(ctx, func(tx *sql.Tx) error { return a1.RecordJTI(tx, p) })
	if !errors.Is(err, &authn.Error{Code: authn.CodeDPoPReplayed}) {
		t.Fatalf("second RecordJTI: %v, want %s", err, authn.CodeDPoPReplayed)
	}
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := open()
	t.Cleanup(func() { db2.Close() })
	a2 := f.newAuthenticator(t, db2, issuer)
	if _, err := a2.Authenticate(req(proof), need); !errors.Is(err, &authn.Error{Code: authn.CodeDPoPReplayed}) {
		t.Fatalf("after restart: %v, want %s", err, authn.CodeDPoPReplayed)
	}
	if _, err := a2.Authenticate(req(key.Proof(t, "POST", url, tok)), need); err != nil {
		t.Fatalf("fresh proof after restart: %v", err)
	}

	count := func() int {
		var n int
		if err := db2.Read().QueryRow(`SELECT count(*) FROM dpop_jti`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := a2.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("after Prune before expiry: %d rows, want 1", n)
	}
	f.clock.Advance(authn.DefaultDPoPMaxAge + 3*authn.DefaultClockSkew + time.Second)
	if err := a2.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("after Prune past expiry: %d rows, want 0", n)
	}
}

// TestConcurrentReplay: one proof sent by many goroutines at once is
// accepted exactly once.
func TestConcurrentReplay(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	key := f.dpopKey(t)
	tok := f.auth.Token(t, authntest.Claims{JKT: key.JKT()})
	h := hdr("Authorization", "DPoP "+tok, "DPoP", key.Proof(t, "POST", srv.URL+"/x", tok))
	const n = 32
	codes := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, rep := send(t, srv.Client(), "POST", srv.URL+"/x", h)
			codes[i] = rep.Code
		}()
	}
	close(start)
	wg.Wait()
	ok, replayed := 0, 0
	for _, c := range codes {
		switch c {
		case "":
			ok++
		case authn.CodeDPoPReplayed:
			replayed++
		default:
			t.Errorf("unexpected code %q", c)
		}
	}
	if ok != 1 || replayed != n-1 {
		t.Fatalf("%d accepted, %d replayed; want 1 and %d", ok, replayed, n-1)
	}
}

// TestTokenCacheExpiry: a cached token is refused once it expires.
func TestTokenCacheExpiry(t *testing.T) {
	f := newFixture(t)
	p := newPKI(t)
	_, leaf := p.client(t, "c")
	tok := f.auth.Token(t, authntest.Claims{X5T: authntest.CertThumbprint(leaf), ExpiresAt: f.clock.Now().Add(time.Minute)})
	r := httptest.NewRequest("POST", "https://signer.example/x", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	r.Header.Set("Authorization", "Bearer "+tok)
	need := authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign}
	for i := range 2 {
		if _, err := f.a.Authenticate(r, need); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
	}
	// Another requirement is checked against the cached token too.
	if _, err := f.a.Authenticate(r, authn.Requirement{Audience: authn.AudienceAttestor, Scope: authn.ScopeSign}); !errors.Is(err, &authn.Error{Code: authn.CodeWrongAudience}) {
		t.Fatalf("cached token, other audience: %v", err)
	}
	f.clock.Advance(time.Minute + authn.DefaultClockSkew)
	if _, err := f.a.Authenticate(r, need); !errors.Is(err, &authn.Error{Code: authn.CodeExpired}) {
		t.Fatalf("after expiry: %v, want %s", err, authn.CodeExpired)
	}
}

// TestInsufficientScopeReturnsPrincipal: the caller is named for the audit
// row even when refused for scope.
func TestInsufficientScopeReturnsPrincipal(t *testing.T) {
	f := newFixture(t)
	key := f.dpopKey(t)
	tok := f.auth.Token(t, authntest.Claims{JKT: key.JKT(), Scope: "attestor.verify"})
	r := httptest.NewRequest("POST", "https://signer.example/x", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", key.Proof(t, "POST", "https://signer.example/x", tok))
	p, err := f.a.Authenticate(r, authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign})
	if !errors.Is(err, &authn.Error{Code: authn.CodeInsufficientScope}) || p == nil || p.Subject != "alice" || p.DPoPJTI == "" {
		t.Fatalf("got %+v, %v", p, err)
	}
	if _, err := f.a.Authenticate(r, authn.Requirement{}); err == nil || errors.As(err, new(*authn.Error)) {
		t.Fatalf("empty requirement: %v, want a programming error", err)
	}
}

// TestRotation: during a rotation the JWKS holds old and new keys; after
// it, tokens signed with the old key are refused as unknown kid.
func TestRotation(t *testing.T) {
	f := newFixture(t)
	next := authntest.NewAuthority(t, issuerURL)
	next.Now = f.clock.Now
	key := f.dpopKey(t)
	need := authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign}
	call := func(a *authn.Authenticator, auth *authntest.Authority) error {
		tok := auth.Token(t, authntest.Claims{JKT: key.JKT()})
		r := httptest.NewRequest("POST", "https://signer.example/x", nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", key.Proof(t, "POST", "https://signer.example/x", tok))
		_, err := a.Authenticate(r, need)
		return err
	}
	during := f.newAuthenticator(t, f.db, authn.Issuer{URL: issuerURL, JWKS: authntest.MergeJWKS(t, f.auth.JWKS(), next.JWKS())})
	for _, auth := range []*authntest.Authority{f.auth, next} {
		if err := call(during, auth); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	after := f.newAuthenticator(t, f.db, authn.Issuer{URL: issuerURL, JWKS: next.JWKS()})
	if err := call(after, next); err != nil {
		t.Fatalf("after rotation, new key: %v", err)
	}
	if err := call(after, f.auth); !errors.Is(err, &authn.Error{Code: authn.CodeUnknownKID}) {
		t.Fatalf("after rotation, old key: %v, want %s", err, authn.CodeUnknownKID)
	}
	// Two issuers side by side.
	second := authntest.NewAuthority(t, "https://authority-2.example")
	second.Now = f.clock.Now
	two := f.newAuthenticator(t, f.db, authn.Issuer{URL: issuerURL, JWKS: f.auth.JWKS()}, authn.Issuer{URL: second.URL, JWKS: second.JWKS()})
	for _, auth := range []*authntest.Authority{f.auth, second} {
		if err := call(two, auth); err != nil {
			t.Fatalf("two issuers, %s: %v", auth.URL, err)
		}
	}
}

func TestTenantClaimName(t *testing.T) {
	f := newFixture(t)
	a, err := authn.New(context.Background(), authn.Config{
		Issuers: []authn.Issuer{{URL: issuerURL, JWKS: f.auth.JWKS()}}, DB: f.db, Now: f.clock.Now, TenantClaim: "org",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	_, leaf := p.client(t, "c")
	for _, tt := range []struct {
		name   string
		claims authntest.Claims
		want   string
	}{
		{"org claim", authntest.Claims{Tenant: authntest.Omit, Extra: map[string]any{"org": "acme"}}, ""},
		{"tenant claim only", authntest.Claims{}, authn.CodeMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.claims.X5T = authntest.CertThumbprint(leaf)
			r := httptest.NewRequest("POST", "https://signer.example/x", nil)
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
			r.Header.Set("Authorization", "Bearer "+f.auth.Token(t, tt.claims))
			p, err := a.Authenticate(r, authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign})
			if tt.want == "" {
				if err != nil || p.Tenant != "acme" {
					t.Fatalf("got %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, &authn.Error{Code: tt.want}) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}
