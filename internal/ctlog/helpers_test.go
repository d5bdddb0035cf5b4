package ctlog_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/stellaops/stellad/internal/ctlog"
)

var (
	oidPoison  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	// testEpoch is the fixed clock of the tests.
	testEpoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// testCA is a self-signed CA that issues directly, like internal/ca.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"stellad test"}},
		NotBefore:             testEpoch.Add(-time.Hour),
		NotAfter:              testEpoch.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{key: k, cert: c}
}

// leafTemplate is a Fulcio-like code-signing certificate template; poison or SCT list goes
// into ExtraExtensions, so both land last in the same position.
func leafTemplate(serial int64) *x509.Certificate {
	u, _ := url.Parse("https://ci.example.internal/workflows/build")
	return &x509.Certificate{
		SerialNumber:   big.NewInt(serial),
		NotBefore:      testEpoch,
		NotAfter:       testEpoch.Add(10 * time.Minute),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses: []string{"dev@example.internal"},
		URIs:           []*url.URL{u},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: []byte{0x0c, 0x03, 'i', 'd', 'p'}},
		},
	}
}

// issue signs tmpl (plus extra extensions) for a fresh subject key with ca.
func (ca *testCA) issue(t testing.TB, tmpl *x509.Certificate, subject crypto.PublicKey, extra ...pkix.Extension) []byte {
	t.Helper()
	c := *tmpl
	c.ExtraExtensions = append(append([]pkix.Extension(nil), tmpl.ExtraExtensions...), extra...)
	der, err := x509.CreateCertificate(rand.Reader, &c, ca.cert, subject, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func poison() pkix.Extension {
	return pkix.Extension{Id: oidPoison, Critical: true, Value: []byte{0x05, 0x00}}
}

// sctListExtension is the final certificate's embedded SCT list: an OCTET STRING holding the
// TLS-encoded SignedCertificateTimestampList.
func sctListExtension(t testing.TB, scts ...[]byte) pkix.Extension {
	t.Helper()
	var list ctx509.SignedCertificateTimestampList
	for _, s := range scts {
		list.SCTList = append(list.SCTList, ctx509.SerializedSCT{Val: s})
	}
	tlsList, err := cttls.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal(tlsList)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSCTList, Value: v}
}

func parseSCT(t testing.TB, b []byte) *ct.SignedCertificateTimestamp {
	t.Helper()
	var sct ct.SignedCertificateTimestamp
	rest, err := cttls.Unmarshal(b, &sct)
	if err != nil || len(rest) != 0 {
		t.Fatalf("parsing SCT: %v (%d trailing bytes)", err, len(rest))
	}
	return &sct
}

func ctParse(t testing.TB, der []byte) *ctx509.Certificate {
	t.Helper()
	c, err := ctx509.ParseCertificate(der)
	if ctx509.IsFatal(err) {
		t.Fatal(err)
	}
	return c
}

// openLog opens a log in dir with signer and the fixed test clock.
func openLog(t testing.TB, dir string, signer crypto.Signer) *ctlog.Log {
	t.Helper()
	l, err := ctlog.New(context.Background(), ctlog.Config{
		Dir:    dir,
		Origin: "localhost/ct",
		Signer: signer,
		Now:    func() time.Time { return testEpoch },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeLog(t, l) }) // Close is idempotent: a failed test still stops Tessera
	return l
}

func closeLog(t testing.TB, l *ctlog.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}
