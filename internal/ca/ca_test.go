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
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/refusal"
)

func genKey(t testing.TB, kind string) crypto.PublicKey {
	t.Helper()
	switch kind {
	case "p256":
		return newP256(t).Public()
	case "p384":
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	case "rsa2048":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	case "ed25519":
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}
	t.Fatalf("unknown key kind %s", kind)
	return nil
}

// checkLeaf runs the checks every issued chain must pass: the verifiers'
// checks (x509 path validation for codeSigning, the embedded SCT against the
// CT log key, sigstore-go's summary and identity matchers) and the profile.
func checkLeaf(t *testing.T, tc *testCA, chain []*x509.Certificate, id ca.Identity, pub crypto.PublicKey) {
	t.Helper()
	if len(chain) != 2 || chain[1] != tc.root {
		t.Fatalf("chain has %d certificates, want leaf + root", len(chain))
	}
	leaf := chain[0]

	// Path validation, with the otherName SAN handled the way sigstore-go does.
	vleaf := *leaf
	var unhandled []asn1.ObjectIdentifier
	for _, oid := range vleaf.UnhandledCriticalExtensions {
		if !oid.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			unhandled = append(unhandled, oid)
		}
	}
	vleaf.UnhandledCriticalExtensions = unhandled
	roots := x509.NewCertPool()
	roots.AddCert(tc.root)
	if _, err := vleaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0.Add(time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Fatalf("x509 verify: %v", err)
	}
	if _, err := vleaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0.Add(11 * time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err == nil {
		t.Error("leaf still valid after 11 minutes")
	}

	// The embedded SCT, as sigstore-go checks it.
	scts, err := x509util.ParseSCTsFromCertificate(leaf.Raw)
	if err != nil || len(scts) != 1 {
		t.Fatalf("SCTs: %v (%d)", err, len(scts))
	}
	ctLeaf, err := ctx509.ParseCertificates(leaf.Raw)
	if err != nil {
		t.Fatalf("ct parse leaf: %v", err)
	}
	ctRoot, err := ctx509.ParseCertificates(tc.root.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctutil.VerifySCT(tc.ct.public(), append(ctLeaf, ctRoot...), scts[0], true); err != nil {
		t.Fatalf("VerifySCT: %v", err)
	}

	// The precertificate logged has the same TBS but for poison vs SCT list.
	logged := tc.ct.lastChain()
	if len(logged) != 2 || !bytes.Equal(logged[1], tc.root.Raw) {
		t.Fatalf("CT got a chain of %d, want precert + root", len(logged))
	}
	pre, err := ctx509.ParseCertificate(logged[0])
	if err != nil {
		t.Fatalf("parse precert: %v", err)
	}
	preTBS, err := ctx509.BuildPrecertTBS(pre.RawTBSCertificate, nil)
	if err != nil {
		t.Fatal(err)
	}
	finalTBS, err := ctx509.RemoveSCTList(leaf.RawTBSCertificate)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(preTBS, finalTBS) {
		t.Error("precertificate and certificate TBS differ beyond poison/SCT list")
	}

	// sigstore-go's view: SAN, issuer, and the matchers cosign uses.
	sum, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		t.Fatalf("SummarizeCertificate: %v", err)
	}
	if sum.SubjectAlternativeName != id.Subject {
		t.Errorf("SAN = %q, want %q", sum.SubjectAlternativeName, id.Subject)
	}
	if sum.Extensions.Issuer != id.Issuer {
		t.Errorf("issuer extension = %q, want %q", sum.Extensions.Issuer, id.Issuer)
	}
	sanM, err := verify.NewSANMatcher(id.Subject, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sanM.Verify(sum); err != nil {
		t.Errorf("SAN matcher: %v", err)
	}
	other, _ := verify.NewSANMatcher(id.Subject+"x", "")
	if other.Verify(sum) == nil {
		t.Error("SAN matcher accepted another identity")
	}
	issM, err := verify.NewIssuerMatcher(id.Issuer, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := issM.Verify(sum); err != nil {
		t.Errorf("issuer matcher: %v", err)
	}
	// Both issuer extensions, V2 as a DER UTF8String, V1 as raw bytes.
	var v1, v2 []byte
	for _, e := range leaf.Extensions {
		switch {
		case e.Id.Equal(ca.OIDIssuer):
			v1 = e.Value
		case e.Id.Equal(ca.OIDIssuerV2):
			v2 = e.Value
		}
	}
	if string(v1) != id.Issuer {
		t.Errorf("1.3.6.1.4.1.57264.1.1 = %q", v1)
	}
	if len(v2) == 0 || v2[0] != asn1.TagUTF8String {
		t.Errorf("1.3.6.1.4.1.57264.1.8 is not a UTF8String: %x", v2)
	}

	// Profile.
	if leaf.NotBefore != t0 || leaf.NotAfter != t0.Add(10*time.Minute) {
		t.Errorf("validity %s..%s, want %s + 10m", leaf.NotBefore, leaf.NotAfter, t0)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Errorf("ExtKeyUsage = %v", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	if len(leaf.RawSubject) != 2 { // empty SEQUENCE
		t.Errorf("subject is not empty: %s", leaf.Subject)
	}
	if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %s", leaf.SerialNumber.Text(16))
	}
	if len(leaf.SubjectKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, tc.root.SubjectKeyId) {
		t.Errorf("SKI %x AKI %x (root SKI %x)", leaf.SubjectKeyId, leaf.AuthorityKeyId, tc.root.SubjectKeyId)
	}
	if pk, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(pub) {
		t.Error("leaf certifies another key")
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) && !e.Critical {
			t.Error("SAN extension is not critical with an empty subject")
		}
	}
}

func TestIssue(t *testing.T) {
	ids := []struct {
		name string
		id   ca.Identity
		kind string // which SAN form
	}{
		{"email", ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}, "email"},
		{"uri", ca.Identity{Subject: "https://ci.example.org/pipelines/build@refs/heads/main", Issuer: "https://authority.example.org/realms/ci"}, "uri"},
		{"spiffe", ca.Identity{Subject: "spiffe://example.org/ns/build/sa/signer", Issuer: "https://authority.example.org"}, "uri"},
		{"username", ca.Identity{Subject: "svc-builder", Issuer: "https://authority.example.org"}, "othername"},
		{"opaque-sub", ca.Identity{Subject: "8f0c2b1e-77aa-4c3e-9c4d-1f2e3d4c5b6a", Issuer: "https://authority.example.org"}, "othername"},
		{"unicode", ca.Identity{Subject: "jürgen", Issuer: "https://authority.example.org"}, "othername"},
		{"non-roundtrip-uri", ca.Identity{Subject: "https://example.org/a b", Issuer: "https://authority.example.org"}, "othername"},
		{"bad-host-uri", ca.Identity{Subject: "https://example.org./x", Issuer: "https://authority.example.org"}, "othername"},
		{"k8s", ca.Identity{Subject: "system:serviceaccount:build:signer", Issuer: "https://kubernetes.default.svc"}, "uri"},
	}
	for _, kind := range []string{"p256", "p384", "rsa2048", "ed25519"} {
		pub := genKey(t, kind)
		for _, tt := range ids {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				tc := newTestCA(t, nil)
				chain, err := tc.Issue(context.Background(), tt.id, pub)
				if err != nil {
					t.Fatalf("Issue: %v", err)
				}
				checkLeaf(t, tc, chain, tt.id, pub)
				leaf := chain[0]
				switch tt.kind {
				case "email":
					if len(leaf.EmailAddresses) != 1 || len(leaf.URIs) != 0 {
						t.Errorf("want one rfc822Name, got %v %v", leaf.EmailAddresses, leaf.URIs)
					}
				case "uri":
					if len(leaf.URIs) != 1 || len(leaf.EmailAddresses) != 0 {
						t.Errorf("want one URI, got %v %v", leaf.EmailAddresses, leaf.URIs)
					}
				case "othername":
					if len(leaf.URIs)+len(leaf.EmailAddresses)+len(leaf.DNSNames) != 0 {
						t.Errorf("want only an otherName, got %v %v %v", leaf.EmailAddresses, leaf.URIs, leaf.DNSNames)
					}
				}
			})
		}
	}
}

func TestIssueVerifiesSCTWhenGivenTheLogKey(t *testing.T) {
	var tc *testCA
	tc = newTestCA(t, nil)
	good, err := ca.New(ca.Config{Signer: tc.key, Certificate: tc.root, CT: tc.ct, CTPublicKey: tc.ct.public(), Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	id := ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}
	if _, err := good.Issue(context.Background(), id, newP256(t).Public()); err != nil {
		t.Fatalf("Issue with SCT check: %v", err)
	}
	// A log whose key is not the one configured: the SCT does not verify.
	other := newFakeCT(t, fixedClock(t0))
	bad, err := ca.New(ca.Config{Signer: tc.key, Certificate: tc.root, CT: other, CTPublicKey: tc.ct.public(), Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Issue(context.Background(), id, newP256(t).Public()); err == nil || !strings.Contains(err.Error(), "SCT") {
		t.Fatalf("Issue with a foreign SCT: %v, want an SCT error", err)
	}
}

func TestIssueWithIntermediate(t *testing.T) {
	rootKey := newP256(t)
	root, err := ca.NewRootCertificate(rootKey, "stellad root", t0.Add(-time.Hour), 24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	// NewRootCertificate has pathLen 0; make a root that allows one level.
	tmpl := *root
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 1, false
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	interKey := newP256(t)
	interTmpl := &x509.Certificate{
		SerialNumber: root.SerialNumber, Subject: pkix.Name{CommonName: "stellad issuing CA"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err = x509.CreateCertificate(rand.Reader, interTmpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	log := newFakeCT(t, fixedClock(t0))
	c, err := ca.New(ca.Config{Signer: interKey, Certificate: inter, Chain: []*x509.Certificate{root}, CT: log,
		CTPublicKey: log.public(), Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.Issue(context.Background(), ca.Identity{Subject: "svc", Issuer: "https://a.example"}, newP256(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || chain[1] != inter || chain[2] != root {
		t.Fatalf("chain of %d, want leaf, intermediate, root", len(chain))
	}
	if got := log.lastChain(); len(got) != 3 || !bytes.Equal(got[1], inter.Raw) || !bytes.Equal(got[2], root.Raw) {
		t.Fatalf("CT got a chain of %d, want precert, intermediate, root", len(got))
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	leaf := *chain[0]
	leaf.UnhandledCriticalExtensions = nil // the otherName SAN, as sigstore-go does
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: t0,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Fatalf("verify through the intermediate: %v", err)
	}
}

func TestIssueRefusals(t *testing.T) {
	tc := newTestCA(t, nil)
	okID := ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       ca.Identity
		pub      crypto.PublicKey
		wantCode string
	}{
		{"P-224", okID, p224.Public(), ca.CodeBadKey},
		{"P-521", okID, p521.Public(), ca.CodeBadKey},
		{"RSA-1024", okID, rsa1024.Public(), ca.CodeBadKey},
		{"nil key", okID, nil, ca.CodeBadKey},
		{"x25519-like bytes", okID, []byte{1, 2, 3}, ca.CodeBadKey},
		{"empty subject", ca.Identity{Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
		{"empty issuer", ca.Identity{Subject: "bob"}, newP256(t).Public(), ca.CodeBadRequest},
		{"control char", ca.Identity{Subject: "bob\n", Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
		{"invalid utf8", ca.Identity{Subject: "b\xffob", Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
		{"non-ascii email", ca.Identity{Subject: "jürgen@example.org", Email: true, Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
		{"email without @", ca.Identity{Subject: "bob", Email: true, Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
		{"long subject", ca.Identity{Subject: strings.Repeat("a", 2000), Issuer: "https://a"}, newP256(t).Public(), ca.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tc.Issue(context.Background(), tt.id, tt.pub)
			if !errors.Is(err, &refusal.Error{Code: tt.wantCode}) {
				t.Fatalf("Issue: %v, want refusal %s", err, tt.wantCode)
			}
		})
	}
}

func TestIssueFailures(t *testing.T) {
	id := ca.Identity{Subject: "alice@example.org", Email: true, Issuer: "https://authority.example.org"}
	t.Run("CT error", func(t *testing.T) {
		tc := newTestCA(t, nil)
		tc.ct.fail = errors.New("log is read-only")
		_, err := tc.Issue(context.Background(), id, newP256(t).Public())
		if err == nil || !strings.Contains(err.Error(), "log is read-only") {
			t.Fatalf("Issue: %v", err)
		}
		var re *refusal.Error
		if errors.As(err, &re) {
			t.Fatalf("a CT failure is not the caller's fault: %v", err)
		}
	})
	t.Run("malformed SCT", func(t *testing.T) {
		tc := newTestCA(t, nil)
		tc.ct.mangle = []byte{0, 1, 2}
		if _, err := tc.Issue(context.Background(), id, newP256(t).Public()); err == nil || !strings.Contains(err.Error(), "SCT") {
			t.Fatalf("Issue: %v", err)
		}
	})
	t.Run("CA expires first", func(t *testing.T) {
		tc := newTestCA(t, nil)
		late, err := ca.New(ca.Config{Signer: tc.key, Certificate: tc.root, CT: tc.ct,
			Now: fixedClock(tc.root.NotAfter.Add(-5 * time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := late.Issue(context.Background(), id, newP256(t).Public()); err == nil || !strings.Contains(err.Error(), "does not cover") {
			t.Fatalf("Issue: %v", err)
		}
	})
	t.Run("no SCT allowed", func(t *testing.T) {
		tc := newTestCA(t, nil)
		c, err := ca.New(ca.Config{Signer: tc.key, Certificate: tc.root, AllowNoSCT: true, Now: fixedClock(t0), Validity: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		chain, err := c.Issue(context.Background(), id, newP256(t).Public())
		if err != nil {
			t.Fatal(err)
		}
		if len(chain[0].Extensions) == 0 || chain[0].NotAfter.Sub(chain[0].NotBefore) != time.Minute {
			t.Fatalf("validity %s", chain[0].NotAfter.Sub(chain[0].NotBefore))
		}
		for _, e := range chain[0].Extensions {
			if e.Id.Equal(ca.OIDSCTList) || e.Id.Equal(ca.OIDCTPoison) {
				t.Fatalf("extension %s in a certificate issued without CT", e.Id)
			}
		}
	})
}

func TestNew(t *testing.T) {
	key := newP256(t)
	root, err := ca.NewRootCertificate(key, "root", t0.Add(-time.Hour), 48*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := newP256(t)
	otherRoot, err := ca.NewRootCertificate(otherKey, "other", t0.Add(-time.Hour), 48*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: root.SerialNumber, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, leafTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	notCA, _ := x509.ParseCertificate(der)
	caNoSign := &x509.Certificate{SerialNumber: root.SerialNumber, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err = x509.CreateCertificate(rand.Reader, caNoSign, caNoSign, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	noCertSign, _ := x509.ParseCertificate(der)
	log := newFakeCT(t, fixedClock(t0))

	tests := []struct {
		name    string
		cfg     ca.Config
		wantErr string
	}{
		{"ok", ca.Config{Signer: key, Certificate: root, CT: log, Now: fixedClock(t0)}, ""},
		{"no signer", ca.Config{Certificate: root, CT: log}, "Signer"},
		{"no certificate", ca.Config{Signer: key, CT: log}, "Certificate"},
		{"no CT", ca.Config{Signer: key, Certificate: root, Now: fixedClock(t0)}, "CT is required"},
		{"key mismatch", ca.Config{Signer: otherKey, Certificate: root, CT: log, Now: fixedClock(t0)}, "not the CA certificate's"},
		{"not a CA", ca.Config{Signer: key, Certificate: notCA, CT: log, Now: fixedClock(t0)}, "not a CA"},
		{"no certSign", ca.Config{Signer: key, Certificate: noCertSign, CT: log, Now: fixedClock(t0)}, "certSign"},
		{"expired", ca.Config{Signer: key, Certificate: root, CT: log, Now: fixedClock(t0.Add(72 * time.Hour))}, "not now"},
		{"validity too long", ca.Config{Signer: key, Certificate: root, CT: log, Now: fixedClock(t0), Validity: time.Hour}, "validity"},
		{"negative validity", ca.Config{Signer: key, Certificate: root, CT: log, Now: fixedClock(t0), Validity: -time.Second}, "validity"},
		{"wrong parent", ca.Config{Signer: key, Certificate: root, Chain: []*x509.Certificate{otherRoot}, CT: log, Now: fixedClock(t0)}, "not signed by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ca.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.Validity() != ca.MaxValidity || c.Certificate() != root || len(c.Chain()) != 1 {
					t.Errorf("defaults: validity %s, chain %d", c.Validity(), len(c.Chain()))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRootCertificate(t *testing.T) {
	key := newP256(t)
	root, err := ca.NewRootCertificate(key, "stellad CA", t0, 365*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || !root.BasicConstraintsValid || root.MaxPathLen != 0 || !root.MaxPathLenZero {
		t.Errorf("basic constraints: CA %v, pathLen %d", root.IsCA, root.MaxPathLen)
	}
	if root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("KeyUsage %v", root.KeyUsage)
	}
	if root.Subject.CommonName != "stellad CA" || len(root.SubjectKeyId) != 20 {
		t.Errorf("subject %s, SKI %x", root.Subject, root.SubjectKeyId)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if !root.NotBefore.Equal(t0) || !root.NotAfter.Equal(t0.Add(365*24*time.Hour)) {
		t.Errorf("validity %s..%s", root.NotBefore, root.NotAfter)
	}
	for _, bad := range []struct {
		name string
		fn   func() error
	}{
		{"no signer", func() error { _, err := ca.NewRootCertificate(nil, "x", t0, time.Hour, nil); return err }},
		{"no name", func() error { _, err := ca.NewRootCertificate(key, "", t0, time.Hour, nil); return err }},
		{"no validity", func() error { _, err := ca.NewRootCertificate(key, "x", t0, 0, nil); return err }},
	} {
		if bad.fn() == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}

func TestSerialsDiffer(t *testing.T) {
	tc := newTestCA(t, func(c *ca.Config) { c.CT, c.AllowNoSCT = nil, true })
	seen := map[string]bool{}
	pub := newP256(t).Public()
	for range 50 {
		chain, err := tc.Issue(context.Background(), ca.Identity{Subject: "svc", Issuer: "https://a.example"}, pub)
		if err != nil {
			t.Fatal(err)
		}
		s := chain[0].SerialNumber.Text(16)
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
	}
}
