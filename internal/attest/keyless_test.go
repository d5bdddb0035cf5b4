package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/timestamp-authority/v2/pkg/verification"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/signer"
	"github.com/stellaops/stellad/internal/tsa"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// keylessFixture is a fixture plus a second service on the same store and
// log that has a real CA (without CT log: its SCTs are the e2e test's) and
// a real TSA.
type keylessFixture struct {
	*fixture
	keyless  *Service
	caCert   *x509.Certificate
	tsaChain []*x509.Certificate
}

func newKeylessFixture(t testing.TB) *keylessFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, t.TempDir(), mustKey(t), mustKey(t))
	now := time.Now()
	caKey := mustKey(t)
	caCert, err := ca.NewRootCertificate(caKey, "test CA", now.Add(-time.Hour), 24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	authority, err := ca.New(ca.Config{Signer: caKey, Certificate: caCert, AllowNoSCT: true})
	if err != nil {
		t.Fatal(err)
	}
	tsaKey := mustKey(t)
	chain, err := tsa.NewChain(mustKey(t), tsaKey, "test TSA", now.Add(-time.Hour), 24*time.Hour, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := tsa.New(tsa.Config{Signer: tsaKey, Chain: chain})
	if err != nil {
		t.Fatal(err)
	}
	k, err := signer.NewKey(f.key, "file:test.pem", bundle.KeyDetails)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := signer.NewSet(k, nil)
	logID, err := bundle.LogID("localhost", f.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, Config{DB: f.db, Log: f.log, Keys: set, LogID: logID, Certifier: authority, Timestamper: ts})
	if err != nil {
		t.Fatal(err)
	}
	return &keylessFixture{fixture: f, keyless: svc, caCert: caCert, tsaChain: chain}
}

var keylessCaller = &authn.Principal{Subject: "build-bot", Issuer: "https://authority.example", Tenant: "default"}

func TestSignKeyless(t *testing.T) {
	ctx := context.Background()
	f := newKeylessFixture(t)
	// A key-signed entry first, so that the keyless one's proof has hashes.
	if _, err := f.svc.Sign(ctx, Call{}, SignRequest{Subjects: subject("warm-up"), PredicateType: predicateType}); err != nil {
		t.Fatal(err)
	}
	is, err := f.keyless.SignKeyless(ctx, Call{Caller: keylessCaller, RequestID: "r1"}, SignRequest{Subjects: subject("keyless"), PredicateType: predicateType})
	if err != nil {
		t.Fatalf("SignKeyless: %v", err)
	}
	bd, err := bundle.Parse(is.Bundle)
	if err != nil {
		t.Fatalf("parsing the keyless bundle: %v", err)
	}
	if bd.KeyHint != "" || len(bd.Certificates) != 1 || len(bd.Timestamps) != 1 || len(bd.Entries) != 1 {
		t.Fatalf("bundle: hint %q, %d certificates, %d timestamps, %d entries", bd.KeyHint, len(bd.Certificates), len(bd.Timestamps), len(bd.Entries))
	}
	leaf, err := x509.ParseCertificate(bd.Certificates[0])
	if err != nil {
		t.Fatal(err)
	}
	// The certificate: issued by the CA to the caller's identity.
	if err := leaf.CheckSignatureFrom(f.caCert); err != nil {
		t.Fatalf("certificate not issued by the CA: %v", err)
	}
	if !strings.Contains(string(leaf.RawTBSCertificate), keylessCaller.Subject) || !strings.Contains(string(leaf.RawTBSCertificate), keylessCaller.Issuer) {
		t.Fatal("certificate does not name the caller's subject and issuer")
	}
	// The envelope verifies with the certified key; it is not the tenant's.
	if _, err := dsse.Verify(bd.Envelope, 1, leaf.PublicKey); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	if leaf.PublicKey.(*ecdsa.PublicKey).Equal(f.key.Public()) {
		t.Fatal("keyless signature made with the tenant's key")
	}
	// The log entry's verifier is the certificate, and it is in the log.
	hr, err := bundle.ParseHashedRekord(bd.Entries[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hr.CertificateDER, leaf.Raw) || hr.PublicKeyDER != nil {
		t.Fatal("the log entry's verifier is not the certificate")
	}
	if err := bd.Entries[0].Verify(f.logVer); err != nil {
		t.Fatalf("log entry: %v", err)
	}
	// The timestamp covers the signature bytes and verifies with the TSA's chain.
	ts, err := verification.VerifyTimestampResponse(bd.Timestamps[0], bytes.NewReader(bd.Envelope.Signatures[0].Sig),
		verification.VerifyOpts{TSACertificate: f.tsaChain[0], Roots: f.tsaChain[len(f.tsaChain)-1:], Intermediates: f.tsaChain[1 : len(f.tsaChain)-1]})
	if err != nil {
		t.Fatalf("timestamp: %v", err)
	}
	if ts.Time.Before(leaf.NotBefore) || ts.Time.After(leaf.NotAfter) {
		t.Fatalf("timestamp %v outside the certificate's validity [%v, %v]", ts.Time, leaf.NotBefore, leaf.NotAfter)
	}
	// The ephemeral key is registered under the certificate's serial.
	var uri string
	if err := f.db.Read().QueryRow(`SELECT k.uri FROM signing_keys k JOIN entries e ON e.key_id = k.key_id WHERE e.uuid = ?`, is.UUID).Scan(&uri); err != nil {
		t.Fatal(err)
	}
	if uri != "keyless:"+leaf.SerialNumber.Text(16) {
		t.Fatalf("key uri %q", uri)
	}

	// Fetched again (also by a service without CA or TSA), listed and
	// exported: the same bytes.
	for name, svc := range map[string]*Service{"keyless": f.keyless, "plain": f.svc} {
		e, err := svc.Get(ctx, Call{}, is.UUID)
		if err != nil {
			t.Fatalf("%s Get: %v", name, err)
		}
		if !bytes.Equal(e.Bundle, is.Bundle) {
			t.Fatalf("%s Get returned another bundle", name)
		}
	}
	all, _, err := f.svc.List(ctx, Call{}, ListQuery{})
	if err != nil || len(all) != 2 || all[1].UUID != is.UUID {
		t.Fatalf("List: %+v, %v", all, err)
	}
	exported, err := f.svc.Bundles(ctx, 0, 2)
	if err != nil || len(exported) != 2 || !bytes.Equal(exported[1], is.Bundle) {
		t.Fatalf("Bundles: %d, %v", len(exported), err)
	}
	// A second keyless signature gets another key and certificate.
	is2, err := f.keyless.SignKeyless(ctx, Call{Caller: keylessCaller}, SignRequest{Subjects: subject("keyless"), PredicateType: predicateType})
	if err != nil {
		t.Fatal(err)
	}
	bd2, err := bundle.Parse(is2.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(bd2.Certificates[0], bd.Certificates[0]) || is2.UUID == is.UUID {
		t.Fatal("two keyless signatures share a certificate")
	}
}

func TestSignKeylessRefusals(t *testing.T) {
	ctx := context.Background()
	f := newKeylessFixture(t)
	req := SignRequest{Subjects: subject("x"), PredicateType: predicateType}
	tests := []struct {
		name    string
		svc     *Service
		caller  *Caller
		req     SignRequest
		wantErr error
	}{
		{"no CA or TSA", f.svc, keylessCaller, req, ErrKeylessUnavailable},
		{"no caller", f.keyless, nil, req, ErrInvalidRequest},
		{"unix peer (no issuer)", f.keyless, &Caller{Subject: "unix:uid=0", Binding: authn.BindingUnix}, req, ErrInvalidRequest},
		{"no subjects", f.keyless, keylessCaller, SignRequest{PredicateType: predicateType}, ErrInvalidRequest},
		{"bad statement", f.keyless, keylessCaller, SignRequest{Statement: []byte(`{"_type":"nope"}`)}, ErrInvalidStatement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.svc.SignKeyless(ctx, Call{Caller: tt.caller}, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	// An identity the CA cannot write is the CA's refusal, not an internal error.
	_, err := f.keyless.SignKeyless(ctx, Call{Caller: &Caller{Subject: "bad\x00subject", Issuer: "https://authority.example"}}, req)
	if err == nil || reasonCode(err) == "internal" {
		t.Fatalf("control character in the subject: %v (reason %s)", err, reasonCode(err))
	}
	// Nothing was logged.
	if all, _, err := f.svc.List(ctx, Call{}, ListQuery{}); err != nil || len(all) != 0 {
		t.Fatalf("refusals logged %d entries (%v)", len(all), err)
	}
}

// BenchmarkSignKeyless measures keyless signing without admission (key
// generation, certificate without CT log, signature, timestamp, log append,
// the one insert) with 64 concurrent callers, next to BenchmarkSign.
func BenchmarkSignKeyless(b *testing.B) {
	f := newKeylessFixture(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := f.keyless.SignKeyless(ctx, Call{Caller: keylessCaller}, SignRequest{Subjects: subject(fmt.Sprint(i)), PredicateType: predicateType}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "attestations/s")
}
