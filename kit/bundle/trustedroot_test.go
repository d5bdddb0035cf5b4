package bundle

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

func TestNewTrustedRoot(t *testing.T) {
	f := fixture(t)
	end := time.Date(2026, 6, 1, 0, 0, 0, 500_000_000, time.UTC)
	rotated := TransparencyLog{BaseURL: "https://log.example/", PublicKey: testEd25519("old log").Public(), Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), End: &end}
	out, err := NewTrustedRoot(f.tlogRaw, rotated)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "trusted_root.golden", out)
	if !strings.Contains(string(out), `"start":"2024-12-31T23:00:00Z","end":"2026-06-01T00:00:00.500Z"`) {
		t.Fatalf("timestamps not in protobuf JSON form: %s", out)
	}
	tr, err := root.NewTrustedRootFromJSON(out)
	if err != nil {
		t.Fatalf("sigstore-go refuses the trusted root: %v", err)
	}
	logs := tr.RekorLogs()
	if len(logs) != 2 {
		t.Fatalf("sigstore-go sees %d logs", len(logs))
	}
	for _, l := range logs {
		if l.BaseURL == "https://log.example/" && !l.ValidityPeriodEnd.Equal(end) {
			t.Fatalf("end = %v", l.ValidityPeriodEnd)
		}
	}
	bad := []TransparencyLog{
		{BaseURL: "localhost:8080", PublicKey: f.logKey.Public(), Start: f.tlogRaw.Start},
		{BaseURL: "http://localhost", PublicKey: f.logKey.Public()},
		{BaseURL: "http://localhost", PublicKey: testP256(t, "x").Public(), Start: end, End: &f.tlogRaw.Start},
		{BaseURL: "http://localhost", PublicKey: "not a key", Start: end},
	}
	for i, l := range bad {
		if _, err := NewTrustedRoot(l); err == nil {
			t.Errorf("bad log %d accepted", i)
		}
	}
	if _, err := NewTrustedRoot(); err == nil {
		t.Error("empty trusted root accepted")
	}
}

func testCA(t *testing.T, name string, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	k := testP256(t, name)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name, Organization: []string{"stellad"}},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	if !isCA {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	}
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// TestTrustedRootAuthorities lists a CA, a CT log and a TSA and checks that
// sigstore-go reads each of them back.
func TestTrustedRootAuthorities(t *testing.T) {
	f := fixture(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	caCert, _ := testCA(t, "stellad CA", true, nil, nil)
	tsaRoot, tsaRootKey := testCA(t, "stellad TSA root", true, nil, nil)
	tsaLeaf, _ := testCA(t, "stellad TSA", false, tsaRoot, tsaRootKey)
	ctKey := testP256(t, "ct log")
	tr := TrustedRoot{
		Logs:                   []TransparencyLog{f.tlogRaw},
		CertificateAuthorities: []CertificateAuthority{{URI: "https://appliance.example", Chain: []*x509.Certificate{caCert}, Start: start}},
		CTLogs:                 []CTLog{{BaseURL: "https://appliance.example/ct", PublicKey: ctKey.Public(), Start: start}},
		TimestampAuthorities:   []CertificateAuthority{{URI: "https://appliance.example/api/v1/timestamp", Chain: []*x509.Certificate{tsaLeaf, tsaRoot}, Start: start}},
	}
	out, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := tr.Marshal()
	if string(again) != string(out) {
		t.Fatal("Marshal is not deterministic")
	}
	got, err := root.NewTrustedRootFromJSON(out)
	if err != nil {
		t.Fatalf("sigstore-go refuses the trusted root: %v\n%s", err, out)
	}
	if cas := got.FulcioCertificateAuthorities(); len(cas) != 1 {
		t.Fatalf("sigstore-go sees %d CAs", len(cas))
	} else if fca, ok := cas[0].(*root.FulcioCertificateAuthority); !ok || !fca.Root.Equal(caCert) || !fca.ValidityPeriodStart.Equal(start) {
		t.Fatalf("CA read back as %+v", cas[0])
	}
	ct := got.CTLogs()
	if len(ct) != 1 {
		t.Fatalf("sigstore-go sees %d CT logs", len(ct))
	}
	der, _ := x509.MarshalPKIXPublicKey(ctKey.Public())
	id := sha256.Sum256(der)
	if _, ok := ct[hex.EncodeToString(id[:])]; !ok {
		t.Fatalf("CT log not keyed by its log id: %v", ct)
	}
	tsas := got.TimestampingAuthorities()
	if len(tsas) != 1 {
		t.Fatalf("sigstore-go sees %d TSAs", len(tsas))
	}
	if sca, ok := tsas[0].(*root.SigstoreTimestampingAuthority); !ok || !sca.Leaf.Equal(tsaLeaf) || !sca.Root.Equal(tsaRoot) {
		t.Fatalf("TSA read back as %+v", tsas[0])
	}
	for i, bad := range []TrustedRoot{
		{Logs: tr.Logs, CertificateAuthorities: []CertificateAuthority{{URI: "https://x", Start: start}}},
		{Logs: tr.Logs, CertificateAuthorities: []CertificateAuthority{{URI: "https://x", Chain: []*x509.Certificate{caCert}}}},
		{Logs: tr.Logs, CTLogs: []CTLog{{BaseURL: "https://x", PublicKey: testEd25519("ct").Public(), Start: start}}},
		{Logs: tr.Logs, CTLogs: []CTLog{{BaseURL: "x", PublicKey: ctKey.Public(), Start: start}}},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("bad trusted root %d accepted", i)
		}
	}
}

func TestSigningConfig(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	sc := SigningConfig{
		CAs:  []Service{{URL: "http://127.0.0.1:8080", MajorAPIVersion: 1, Operator: "stellad", Start: start}},
		Logs: []Service{{URL: "http://127.0.0.1:8080", MajorAPIVersion: 2, Operator: "stellad", Start: start}},
		TSAs: []Service{{URL: "http://127.0.0.1:8080/api/v1/timestamp", MajorAPIVersion: 1, Operator: "stellad", Start: start}},
	}
	out, err := sc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := root.NewSigningConfigFromJSON(out)
	if err != nil {
		t.Fatalf("sigstore-go refuses the signing config: %v\n%s", err, out)
	}
	if u := got.FulcioCertificateAuthorityURLs(); len(u) != 1 || u[0].URL != "http://127.0.0.1:8080" || u[0].MajorAPIVersion != 1 {
		t.Fatalf("CA urls %+v", u)
	}
	if u := got.RekorLogURLs(); len(u) != 1 || u[0].MajorAPIVersion != 2 {
		t.Fatalf("log urls %+v", u)
	}
	if u := got.TimestampAuthorityURLs(); len(u) != 1 || u[0].URL != "http://127.0.0.1:8080/api/v1/timestamp" {
		t.Fatalf("TSA urls %+v", u)
	}
	if _, err := (SigningConfig{Logs: []Service{{URL: "nohost", MajorAPIVersion: 2, Start: start}}}).Marshal(); err == nil {
		t.Fatal("a log without host accepted")
	}
	if _, err := (SigningConfig{Logs: []Service{{URL: "http://x", Start: start}}}).Marshal(); err == nil {
		t.Fatal("API version 0 accepted")
	}
}
