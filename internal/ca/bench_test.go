package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stellaops/stellad/internal/ca"
)

// BenchmarkIssue measures issuance without CT: one ECDSA P-256 signature by
// a file-style in-memory key, certificate encoding and parsing.
func BenchmarkIssue(b *testing.B) {
	tc := newTestCA(b, func(c *ca.Config) { c.CT, c.AllowNoSCT = nil, true })
	id := ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}
	pub := newP256(b).Public()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tc.Issue(ctx, id, pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueWithCT adds the precertificate, the in-memory fake log's SCT
// signature (and its chain checks) and the SCT verification by the CA.
func BenchmarkIssueWithCT(b *testing.B) {
	tc := newTestCA(b, nil)
	c, err := ca.New(ca.Config{Signer: tc.key, Certificate: tc.root, CT: tc.ct, CTPublicKey: tc.ct.public(), Now: fixedClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	id := ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}
	pub := newP256(b).Public()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Issue(ctx, id, pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndVerify measures the request path before issuance:
// decoding a cosign body and checking its ECDSA proof of possession.
func BenchmarkDecodeAndVerify(b *testing.B) {
	key := newP256(b)
	h := sha256.Sum256([]byte("alice@example.org"))
	proof, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		b.Fatal(err)
	}
	body := pkRequest("ECDSA", pemOf(b, key.Public()), proof)
	b.ReportAllocs()
	for b.Loop() {
		req, err := ca.DecodeRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if err := req.VerifyPossession("alice@example.org"); err != nil {
			b.Fatal(err)
		}
	}
}
