package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/stellaops/stellad/internal/ca"
)

// t0 is the fixed "now" of every test.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// fakeCT is a real, if tiny, RFC 6962 precertificate logger: it checks the
// precertificate chain the CA sends (poison present, precert signed by the
// next certificate) and signs a v1 SCT over the precert entry with its own
// ECDSA P-256 key, exactly as a CT log does. It keeps no tree.
type fakeCT struct {
	key   *ecdsa.PrivateKey
	logID [32]byte
	now   func() time.Time

	mu     sync.Mutex
	chains [][][]byte
	fail   error  // returned by AddPreChain when set
	mangle []byte // returned instead of an SCT when set
}

func newFakeCT(t testing.TB, now func() time.Time) *fakeCT {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeCT{key: key, logID: sha256.Sum256(spki), now: now}
}

func (f *fakeCT) AddPreChain(ctx context.Context, chain [][]byte) ([]byte, error) {
	f.mu.Lock()
	f.chains = append(f.chains, chain)
	fail, mangle := f.fail, f.mangle
	f.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	if mangle != nil {
		return mangle, nil
	}
	if len(chain) < 2 {
		return nil, errors.New("fakeCT: chain needs the precert and its issuer")
	}
	certs := make([]*ctx509.Certificate, len(chain))
	for i, der := range chain {
		c, err := ctx509.ParseCertificate(der)
		if err != nil && !isNonFatal(err) {
			return nil, fmt.Errorf("fakeCT: parsing chain[%d]: %w", i, err)
		}
		certs[i] = c
	}
	if !certs[0].IsPrecertificate() {
		return nil, errors.New("fakeCT: chain[0] has no poison extension")
	}
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return nil, fmt.Errorf("fakeCT: chain[%d] is not signed by chain[%d]: %w", i, i+1, err)
		}
	}
	ts := uint64(f.now().UnixMilli())
	leaf, err := ct.MerkleTreeLeafFromChain(certs, ct.PrecertLogEntryType, ts)
	if err != nil {
		return nil, fmt.Errorf("fakeCT: %w", err)
	}
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: f.logID}, Timestamp: ts}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		return nil, fmt.Errorf("fakeCT: %w", err)
	}
	sig, err := cttls.CreateSignature(*f.key, cttls.SHA256, input)
	if err != nil {
		return nil, fmt.Errorf("fakeCT: %w", err)
	}
	sct.Signature = ct.DigitallySigned(sig)
	return cttls.Marshal(sct)
}

func isNonFatal(err error) bool {
	var nfe ctx509.NonFatalErrors
	return errors.As(err, &nfe)
}

func (f *fakeCT) public() crypto.PublicKey { return &f.key.PublicKey }

func (f *fakeCT) lastChain() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.chains) == 0 {
		return nil
	}
	return f.chains[len(f.chains)-1]
}

// testCA is a CA with a fresh ECDSA P-256 root, a fake CT log and the fixed
// clock t0.
type testCA struct {
	*ca.CA
	key  *ecdsa.PrivateKey
	root *x509.Certificate
	ct   *fakeCT
}

func newTestCA(t testing.TB, edit func(*ca.Config)) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ca.NewRootCertificate(key, "stellad test CA", t0.Add(-time.Hour), 10*365*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := newFakeCT(t, fixedClock(t0))
	cfg := ca.Config{Signer: key, Certificate: root, CT: log, Now: fixedClock(t0)}
	if edit != nil {
		edit(&cfg)
	}
	c, err := ca.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{CA: c, key: key, root: root, ct: log}
}

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
