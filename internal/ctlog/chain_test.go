package ctlog

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// seedChain returns a valid (precertificate, issuer) pair for fuzz seeds.
func seedChain(t testing.TB) (pre, issuer []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seed CA"},
		NotBefore: now, NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	issuer, err = x509.CreateCertificate(rand.Reader, ca, ca, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(issuer)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), NotBefore: now, NotAfter: now.Add(time.Minute),
		EmailAddresses:  []string{"a@example.internal"},
		ExtraExtensions: []pkix.Extension{{Id: oidPoison, Critical: true, Value: asn1Null}},
	}
	pre, err = x509.CreateCertificate(rand.Reader, leaf, caCert, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return pre, issuer
}

// FuzzParsePreChain feeds arbitrary (precertificate, issuer) pairs to the chain parsers: they
// never panic, and whatever parsePreChain accepts yields a TBS without the poison that the
// issuer's key hash and fingerprints describe.
func FuzzParsePreChain(f *testing.F) {
	pre, issuer := seedChain(f)
	f.Add(pre, issuer)
	f.Add(issuer, issuer)
	f.Add(pre[:len(pre)/2], issuer)
	f.Add([]byte{0x30, 0x00}, []byte{})
	f.Fuzz(func(t *testing.T, leaf, iss []byte) {
		s, err := parsePreChain([][]byte{leaf, iss})
		if _, ferr := parseFinalChain([][]byte{leaf, iss}); ferr == nil && err == nil {
			t.Fatal("a chain was accepted both as a precertificate and as a final certificate")
		}
		if err != nil {
			return
		}
		if !s.precert || !bytes.Equal(s.leaf, leaf) || len(s.issuers) != 1 || s.fingerprints[0] != sha256Sum(iss) {
			t.Fatalf("submission does not describe its chain: %+v", s)
		}
		tbs, err := ctx509.ParseTBSCertificate(s.signed)
		if ctx509.IsFatal(err) {
			t.Fatalf("accepted chain yields an unparsable TBS: %v", err)
		}
		if tbs.IsPrecertificate() {
			t.Fatal("TBS still carries the poison")
		}
	})
}

func TestParseResource(t *testing.T) {
	tests := []struct {
		path    string
		want    string
		kind    resourceKind
		wantErr bool
	}{
		{path: "/checkpoint", want: "checkpoint", kind: kindCheckpoint},
		{path: "checkpoint", want: "checkpoint", kind: kindCheckpoint},
		{path: "/tile/0/000", want: "tile/0/000", kind: kindTile},
		{path: "/tile/1/x001/234.p/17", want: "tile/1/x001/234.p/17", kind: kindTile},
		{path: "/tile/data/000.p/3", want: "tile/data/000.p/3", kind: kindData},
		{path: "/tile/data/x001/x234/067", want: "tile/data/x001/x234/067", kind: kindData},
		{path: "/issuer/" + hex64, want: "issuer/" + hex64, kind: kindIssuer},
		{path: "/issuer/" + upper64, wantErr: true},
		{path: "/issuer/abc", wantErr: true},
		{path: "/issuer/../checkpoint", wantErr: true},
		{path: "/tile/entries/000", wantErr: true},
		{path: "/tile/data/x000/001", wantErr: true},
		{path: "/tile/data/000.p/0", wantErr: true},
		{path: "/tile/data/000.p/256", wantErr: true},
		{path: "/tile/64/000", wantErr: true},
		{path: "/tile/00/000", wantErr: true},
		{path: "/tile/0/1", wantErr: true},
		{path: "/.ctlog.lock", wantErr: true},
		{path: "/.state/treeState", wantErr: true},
		{path: "/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r, err := parseResource(tc.path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (r.rel != tc.want || r.kind != tc.kind) {
				t.Fatalf("got %q kind %d, want %q kind %d", r.rel, r.kind, tc.want, tc.kind)
			}
		})
	}
}

const (
	hex64   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	upper64 = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
)

// FuzzParseResource checks that every accepted request path maps to a canonical relative path
// inside the log directory.
func FuzzParseResource(f *testing.F) {
	for _, s := range []string{"/checkpoint", "/tile/0/x001/234.p/17", "/tile/data/000", "/issuer/" + hex64, "/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := parseResource(p)
		if err != nil {
			return
		}
		if bytes.Contains([]byte(r.rel), []byte("..")) || r.rel == "" || r.rel[0] == '/' {
			t.Fatalf("%q maps to %q", p, r.rel)
		}
	})
}

func TestNoteSignerRefusesExtensionLines(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := newNoteSigner("localhost/ct", [32]byte{}, k, time.Now)
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, body := range []string{
		"localhost/ct\n1\n" + root + "\nextension\n",
		"other/origin\n1\n" + root + "\n",
		"localhost/ct\n-1\n" + root + "\n",
		"localhost/ct\n1\nAAAA\n",
	} {
		if _, err := s.Sign([]byte(body)); err == nil {
			t.Errorf("Sign accepted %q", body)
		}
	}
	if _, err := s.Sign([]byte("localhost/ct\n1\n" + root + "\n")); err != nil {
		t.Errorf("Sign refused a valid body: %v", err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
