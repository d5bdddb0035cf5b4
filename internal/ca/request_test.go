package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"

	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/refusal"
)

// fakeToken is an unsigned JWT-shaped token carrying claims: sigstore-go's
// client reads the subject from it without verifying it, and so does the
// test handler below (the real handler verifies it first).
func fakeToken(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("not-a-signature"))
}

// signingCertHandler is POST /api/v2/signingCert the way internal/api is
// meant to wire this package, minus token verification: identity from the
// token's claims, DecodeRequest, VerifyPossession, Issue, EncodeResponse.
func signingCertHandler(t testing.TB, c *ca.CA) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
			http.NotFound(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(tok, ".")
		if !ok || len(parts) != 3 {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			Iss, Sub, Email string
			Verified        bool `json:"email_verified"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		id := ca.Identity{Subject: claims.Sub, Issuer: claims.Iss}
		if claims.Email != "" && claims.Verified {
			id = ca.Identity{Subject: claims.Email, Email: true, Issuer: claims.Iss}
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, ca.MaxRequestSize+1))
		req, err := ca.DecodeRequest(body)
		if err == nil {
			err = req.VerifyPossession(id.Subject)
		}
		var chain []*x509.Certificate
		if err == nil {
			chain, err = c.Issue(r.Context(), id, req.PublicKey())
		}
		if err != nil {
			var re *refusal.Error
			if errors.As(err, &re) {
				http.Error(w, re.Code, http.StatusBadRequest)
				return
			}
			t.Errorf("handler: %v", err)
			http.Error(w, "internal", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ca.EncodeResponse(chain))
	})
}

// cosignLikeClient does what sigstore-go's sign.Fulcio.GetCertificate (the
// code cosign v3 runs for keyless signing) does: read the subject from the
// token's claims (the verified email, else sub), sign it with the key's
// default hash (pure Ed25519 over the subject), POST the publicKeyRequest
// with the token as a Bearer header, and take the first PEM of
// signedCertificateEmbeddedSct.chain.certificates. pkg/sign itself needs
// modules go.mod does not list, so it is mirrored here.
func cosignLikeClient(t testing.TB, baseURL string, key crypto.Signer, alg string, claims map[string]any) (*x509.Certificate, error) {
	t.Helper()
	subject, _ := claims["sub"].(string)
	if e, _ := claims["email"].(string); e != "" && claims["email_verified"] == true {
		subject = e
	}
	var sig []byte
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			h := sha512.Sum384([]byte(subject))
			sig, err = key.Sign(rand.Reader, h[:], crypto.SHA384)
		} else {
			h := sha256.Sum256([]byte(subject))
			sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
		}
	case *rsa.PrivateKey:
		h := sha256.Sum256([]byte(subject))
		sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
	case ed25519.PrivateKey:
		sig, err = key.Sign(rand.Reader, []byte(subject), crypto.Hash(0))
	}
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"publicKeyRequest": map[string]any{
		"publicKey":         map[string]string{"algorithm": alg, "content": pemOf(t, key.Public())},
		"proofOfPossession": base64.StdEncoding.EncodeToString(sig),
	}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, baseURL+"/api/v2/signingCert", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fakeToken(t, claims))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	var r struct {
		SignedCertificateEmbeddedSct struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.SignedCertificateEmbeddedSct.Chain.Certificates) == 0 {
		t.Fatalf("response %s: %v", out, err)
	}
	block, _ := pem.Decode([]byte(r.SignedCertificateEmbeddedSct.Chain.Certificates[0]))
	if block == nil {
		t.Fatal("response certificate is not PEM")
	}
	return x509.ParseCertificate(block.Bytes)
}

// TestCosignFlow runs the whole keyless exchange over real HTTP on
// 127.0.0.1, for each key type cosign's ephemeral key pairs can have.
func TestCosignFlow(t *testing.T) {
	tc := newTestCA(t, func(c *ca.Config) { c.Logger = slog.New(slog.DiscardHandler) })
	srv := httptest.NewServer(signingCertHandler(t, tc.CA))
	defer srv.Close()

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := []struct {
		name, alg string
		key       crypto.Signer
	}{
		{"P-256", "ECDSA", newP256(t)},
		{"P-384", "ECDSA", p384},
		{"RSA-2048", "RSA", rsaKey}, // sigstore-go sends "RSA"
		{"Ed25519", "ED25519", edKey},
	}
	claims := []struct {
		name   string
		claims map[string]any
		san    string
	}{
		{"email", map[string]any{"iss": "https://authority.example.org", "sub": "u-1", "email": "alice@example.org", "email_verified": true}, "alice@example.org"},
		{"sub", map[string]any{"iss": "https://authority.example.org", "sub": "svc-builder"}, "svc-builder"},
	}
	for _, k := range keys {
		for _, cl := range claims {
			t.Run(k.name+"/"+cl.name, func(t *testing.T) {
				leaf, err := cosignLikeClient(t, srv.URL, k.key, k.alg, cl.claims)
				if err != nil {
					t.Fatalf("client: %v", err)
				}
				sum, err := certificate.SummarizeCertificate(leaf)
				if err != nil {
					t.Fatal(err)
				}
				if sum.SubjectAlternativeName != cl.san || sum.Extensions.Issuer != "https://authority.example.org" {
					t.Errorf("SAN %q issuer %q", sum.SubjectAlternativeName, sum.Extensions.Issuer)
				}
				if pk, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(k.key.Public()) {
					t.Error("certificate for another key")
				}
			})
		}
	}

	t.Run("unverified email falls back to sub, proof over the email refused", func(t *testing.T) {
		// The client signs the email, the handler (like Fulcio) takes sub.
		cl := map[string]any{"iss": "https://authority.example.org", "sub": "u-2", "email": "eve@example.org", "email_verified": true}
		key := newP256(t)
		// Sign "eve@example.org" but present a token whose email is unverified.
		h := sha256.Sum256([]byte("eve@example.org"))
		sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
		delete(cl, "email_verified")
		body := pkRequest("ECDSA", pemOf(t, key.Public()), sig)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/signingCert", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fakeToken(t, cl))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(out), ca.CodeProofFailed) {
			t.Fatalf("status %d %s, want 400 %s", resp.StatusCode, out, ca.CodeProofFailed)
		}
	})
}

func pkRequest(alg, pemKey string, proof []byte) []byte {
	return fmt.Appendf(nil, `{"publicKeyRequest":{"publicKey":{"algorithm":%q,"content":%q},"proofOfPossession":%q}}`,
		alg, pemKey, base64.StdEncoding.EncodeToString(proof))
}

func pemOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func csrRequest(t testing.TB, key crypto.Signer, asPEM bool) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	b := der
	if asPEM {
		b = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	return fmt.Appendf(nil, `{"certificateSigningRequest":%q}`, base64.StdEncoding.EncodeToString(b))
}

func TestDecodeRequest(t *testing.T) {
	key := newP256(t)
	h := sha256.Sum256([]byte("alice@example.org"))
	proof, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pemOf(t, key.Public())
	good := string(pkRequest("ECDSA", keyPEM, proof))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaProof, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, h[:])
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edProof := ed25519.Sign(edPriv, []byte("alice@example.org"))

	tamperedCSR := csrRequest(t, key, false)
	{ // flip one byte of the CSR signature (the last byte of the DER)
		var m map[string]string
		_ = json.Unmarshal(tamperedCSR, &m)
		der, _ := base64.StdEncoding.DecodeString(m["certificateSigningRequest"])
		der[len(der)-1] ^= 1
		tamperedCSR = fmt.Appendf(nil, `{"certificateSigningRequest":%q}`, base64.StdEncoding.EncodeToString(der))
	}

	tests := []struct {
		name      string
		body      string
		subject   string
		wantCode  string // from DecodeRequest
		proofCode string // from VerifyPossession, when decoding succeeded
		csr       bool
		token     string
	}{
		{name: "cosign ECDSA", body: good, subject: "alice@example.org"},
		{name: "snake_case names", body: strings.NewReplacer("publicKeyRequest", "public_key_request", "publicKey\"", "public_key\"", "proofOfPossession", "proof_of_possession").Replace(good), subject: "alice@example.org"},
		{name: "algorithm as number", body: strings.Replace(good, `"ECDSA"`, `2`, 1), subject: "alice@example.org"},
		{name: "algorithm unspecified", body: strings.Replace(good, `"ECDSA"`, `"PUBLIC_KEY_ALGORITHM_UNSPECIFIED"`, 1), subject: "alice@example.org"},
		{name: "algorithm absent", body: strings.Replace(good, `"algorithm":"ECDSA",`, ``, 1), subject: "alice@example.org"},
		{name: "null member ignored", body: strings.Replace(good, `{"publicKeyRequest"`, `{"certificateSigningRequest":null,"publicKeyRequest"`, 1), subject: "alice@example.org"},
		{name: "credentials in body", body: strings.Replace(good, `{"publicKeyRequest"`, `{"credentials":{"oidcIdentityToken":"tok"},"publicKeyRequest"`, 1), subject: "alice@example.org", token: "tok"},
		{name: "URL-safe unpadded proof", body: strings.Replace(good, base64.StdEncoding.EncodeToString(proof), base64.RawURLEncoding.EncodeToString(proof), 1), subject: "alice@example.org"},
		{name: "RSA PKCS1v15", body: string(pkRequest("RSA", pemOf(t, rsaKey.Public()), rsaProof)), subject: "alice@example.org"},
		{name: "Ed25519", body: string(pkRequest("ED25519", pemOf(t, edPub), edProof)), subject: "alice@example.org"},
		{name: "CSR PEM", body: string(csrRequest(t, key, true)), subject: "whatever", csr: true},
		{name: "CSR DER", body: string(csrRequest(t, key, false)), csr: true},

		{name: "wrong proof", body: good, subject: "bob@example.org", proofCode: ca.CodeProofFailed},
		{name: "empty subject", body: good, subject: "", proofCode: ca.CodeBadRequest},
		{name: "Ed25519 proof over digest", body: string(pkRequest("ED25519", pemOf(t, edPub), ed25519.Sign(edPriv, h[:]))), subject: "alice@example.org", proofCode: ca.CodeProofFailed},
		{name: "tampered CSR", body: string(tamperedCSR), proofCode: ca.CodeProofFailed, csr: true},

		{name: "not JSON", body: `hello`, wantCode: ca.CodeBadRequest},
		{name: "array", body: `[]`, wantCode: ca.CodeBadRequest},
		{name: "empty object", body: `{}`, wantCode: ca.CodeBadRequest},
		{name: "unknown field", body: strings.Replace(good, `{"publicKeyRequest"`, `{"extra":1,"publicKeyRequest"`, 1), wantCode: ca.CodeBadRequest},
		{name: "unknown nested field", body: strings.Replace(good, `"algorithm"`, `"algo":1,"algorithm"`, 1), wantCode: ca.CodeBadRequest},
		{name: "duplicate field", body: strings.Replace(good, `"algorithm":"ECDSA"`, `"algorithm":"ECDSA","algorithm":"ECDSA"`, 1), wantCode: ca.CodeBadRequest},
		{name: "duplicate via alias", body: strings.Replace(good, `"proofOfPossession"`, `"proof_of_possession":"AA==","proofOfPossession"`, 1), wantCode: ca.CodeBadRequest},
		{name: "trailing data", body: good + `{}`, wantCode: ca.CodeBadRequest},
		{name: "both shapes", body: strings.Replace(good, `{"publicKeyRequest"`, `{"certificateSigningRequest":"AA==","publicKeyRequest"`, 1), wantCode: ca.CodeBadRequest},
		{name: "bad PEM", body: string(pkRequest("ECDSA", "-----BEGIN PUBLIC KEY-----\nnope\n", proof)), wantCode: ca.CodeBadRequest},
		{name: "PEM of a certificate", body: string(pkRequest("ECDSA", strings.ReplaceAll(keyPEM, "PUBLIC KEY", "CERTIFICATE"), proof)), wantCode: ca.CodeBadRequest},
		{name: "two PEM blocks", body: string(pkRequest("ECDSA", keyPEM+keyPEM, proof)), wantCode: ca.CodeBadRequest},
		{name: "garbage key", body: string(pkRequest("ECDSA", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})), proof)), wantCode: ca.CodeBadKey},
		{name: "weak RSA", body: string(pkRequest("RSA", pemOf(t, rsa1024.Public()), rsaProof)), wantCode: ca.CodeBadKey},
		{name: "algorithm mismatch", body: string(pkRequest("ED25519", keyPEM, proof)), wantCode: ca.CodeBadKey},
		{name: "unknown algorithm", body: string(pkRequest("DSA", keyPEM, proof)), wantCode: ca.CodeBadRequest},
		{name: "bad base64 proof", body: strings.Replace(good, base64.StdEncoding.EncodeToString(proof), "!!!", 1), wantCode: ca.CodeBadRequest},
		{name: "empty proof", body: string(pkRequest("ECDSA", keyPEM, nil)), wantCode: ca.CodeBadRequest},
		{name: "no proof", body: strings.Replace(good, `,"proofOfPossession":"`+base64.StdEncoding.EncodeToString(proof)+`"`, ``, 1), wantCode: ca.CodeBadRequest},
		{name: "no content", body: `{"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA"},"proofOfPossession":"AA=="}}`, wantCode: ca.CodeBadRequest},
		{name: "content not a string", body: `{"publicKeyRequest":{"publicKey":{"content":5},"proofOfPossession":"AA=="}}`, wantCode: ca.CodeBadRequest},
		{name: "bad CSR", body: `{"certificateSigningRequest":"AAEC"}`, wantCode: ca.CodeBadRequest},
		{name: "too large", body: `{"credentials":{"oidcIdentityToken":"` + strings.Repeat("a", ca.MaxRequestSize) + `"}}`, wantCode: ca.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ca.DecodeRequest([]byte(tt.body))
			if tt.wantCode != "" {
				if !errors.Is(err, &refusal.Error{Code: tt.wantCode}) {
					t.Fatalf("DecodeRequest: %v, want refusal %s", err, tt.wantCode)
				}
				if req.PublicKey() != nil {
					t.Error("refused request still carries a key")
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if req.PublicKey() == nil || req.HasCSR() != tt.csr || req.IdentityToken() != tt.token {
				t.Fatalf("key %T, csr %v, token %q", req.PublicKey(), req.HasCSR(), req.IdentityToken())
			}
			err = req.VerifyPossession(tt.subject)
			if tt.proofCode == "" {
				if err != nil {
					t.Fatalf("VerifyPossession: %v", err)
				}
				return
			}
			if !errors.Is(err, &refusal.Error{Code: tt.proofCode}) {
				t.Fatalf("VerifyPossession: %v, want refusal %s", err, tt.proofCode)
			}
		})
	}

	if err := (ca.Request{}).VerifyPossession("x"); !errors.Is(err, &refusal.Error{Code: ca.CodeBadRequest}) {
		t.Errorf("zero Request: %v", err)
	}
}

func TestEncodeResponse(t *testing.T) {
	tc := newTestCA(t, nil)
	chain, err := tc.Issue(context.Background(), ca.Identity{Subject: "svc", Issuer: "https://a.example"}, newP256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	b := ca.EncodeResponse(chain)
	var resp struct {
		SignedCertificateEmbeddedSct struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&resp); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	certs := resp.SignedCertificateEmbeddedSct.Chain.Certificates
	if len(certs) != len(chain) {
		t.Fatalf("%d certificates, want %d", len(certs), len(chain))
	}
	for i, p := range certs {
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 || !bytes.Equal(block.Bytes, chain[i].Raw) {
			t.Errorf("certificate %d does not round-trip", i)
		}
	}
}
