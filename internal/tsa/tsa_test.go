package tsa_test

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
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/timestamp-authority/v2/pkg/verification"

	"github.com/stellaops/stellad/internal/tsa"
)

// t0 is the fixed clock of every test.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type fixture struct {
	tsa    *tsa.TSA
	chain  []*x509.Certificate
	leaf   crypto.Signer
	now    time.Time
	policy asn1.ObjectIdentifier
}

func genECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixture makes a root and a TSA key, their chain valid for a year from
// t0, and a TSA whose clock reads now (t0 plus an hour and a half-second when
// now is nil).
func newFixture(t testing.TB, leaf crypto.Signer, now *time.Time) *fixture {
	t.Helper()
	root := genECDSA(t, elliptic.P256())
	if leaf == nil {
		leaf = genECDSA(t, elliptic.P256())
	}
	chain, err := tsa.NewChain(root, leaf, "stellad test TSA", t0, 365*24*time.Hour, rand.Reader)
	if err != nil {
		t.Fatalf("NewChain: %v", err)
	}
	clock := t0.Add(time.Hour + 500*time.Millisecond)
	if now != nil {
		clock = *now
	}
	ts, err := tsa.New(tsa.Config{Signer: leaf, Chain: chain, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{tsa: ts, chain: chain, leaf: leaf, now: clock, policy: tsa.DefaultPolicy}
}

func TestNewChainShape(t *testing.T) {
	f := newFixture(t, nil, nil)
	leaf, root := f.chain[0], f.chain[1]
	if !root.IsCA || root.Subject.CommonName != "stellad test TSA Root" || !bytes.Equal(root.RawSubject, root.RawIssuer) {
		t.Errorf("root: IsCA %v, subject %q", root.IsCA, root.Subject)
	}
	if leaf.IsCA || leaf.Subject.CommonName != "stellad test TSA" {
		t.Errorf("leaf: IsCA %v, subject %q", leaf.IsCA, leaf.Subject)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		t.Errorf("leaf EKU %v", leaf.ExtKeyUsage)
	}
	ekuCritical := 0
	for _, e := range leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			if !e.Critical {
				t.Error("leaf EKU not critical")
			}
			ekuCritical++
		}
	}
	if ekuCritical != 1 {
		t.Errorf("leaf has %d EKU extensions; want 1", ekuCritical)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf key usage %v", leaf.KeyUsage)
	}
	if len(leaf.SubjectKeyId) != 20 || !bytes.Equal(leaf.AuthorityKeyId, root.SubjectKeyId) {
		t.Errorf("SKI %x, AKI %x, root SKI %x", leaf.SubjectKeyId, leaf.AuthorityKeyId, root.SubjectKeyId)
	}
	if !leaf.NotBefore.Equal(t0) || !leaf.NotAfter.Equal(t0.Add(365*24*time.Hour)) {
		t.Errorf("leaf validity %s - %s", leaf.NotBefore, leaf.NotAfter)
	}
	if leaf.SerialNumber.BitLen() > 128 || root.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Errorf("serials %v, %v", leaf.SerialNumber, root.SerialNumber)
	}
	// The chain satisfies sigstore's own TSA chain check.
	got, err := tsa.ParseChainPEM(f.tsa.ChainPEM())
	if err != nil {
		t.Fatalf("ParseChainPEM: %v", err)
	}
	if len(got) != 2 || !got[0].Equal(leaf) || !got[1].Equal(root) {
		t.Errorf("ChainPEM does not give back leaf, root")
	}
	if c := f.tsa.Chain(); len(c) != 2 || !c[0].Equal(leaf) {
		t.Errorf("Chain() not leaf first")
	}
}

// verify checks resp with sigstore's timestamp-authority verification, the
// chain given separately (as cosign gets it from trusted_root.json).
func verify(t *testing.T, f *fixture, resp, artifact []byte, nonce *big.Int) *timestamp.Timestamp {
	t.Helper()
	got, err := verification.VerifyTimestampResponse(resp, bytes.NewReader(artifact), verification.VerifyOpts{
		OID:            f.policy,
		TSACertificate: f.chain[0],
		Intermediates:  f.chain[1 : len(f.chain)-1],
		Roots:          f.chain[len(f.chain)-1:],
		Nonce:          nonce,
		CommonName:     f.chain[0].Subject.CommonName,
	})
	if err != nil {
		t.Fatalf("VerifyTimestampResponse: %v", err)
	}
	return got
}

func TestRespondRoundTrip(t *testing.T) {
	artifact := []byte("the signature bytes cosign timestamps")
	tests := []struct {
		name    string
		hash    crypto.Hash
		nonce   *big.Int
		certReq bool
	}{
		{name: "SHA256", hash: crypto.SHA256},
		{name: "SHA256NonceCert", hash: crypto.SHA256, nonce: big.NewInt(0x1234567890), certReq: true},
		{name: "SHA384Cert", hash: crypto.SHA384, certReq: true},
		{name: "SHA512Nonce", hash: crypto.SHA512, nonce: new(big.Int).Lsh(big.NewInt(1), 159)},
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		f := newFixture(t, genECDSA(t, curve), nil)
		for _, tt := range tests {
			t.Run(curve.Params().Name+"/"+tt.name, func(t *testing.T) {
				req, err := timestamp.CreateRequest(bytes.NewReader(artifact), &timestamp.RequestOptions{
					Hash: tt.hash, Certificates: tt.certReq, Nonce: tt.nonce,
				})
				if err != nil {
					t.Fatal(err)
				}
				resp, err := f.tsa.Respond(context.Background(), req)
				if err != nil {
					t.Fatalf("Respond: %v", err)
				}
				got := verify(t, f, resp, artifact, tt.nonce)
				if !got.Time.Equal(f.now.Truncate(time.Second)) {
					t.Errorf("genTime %s; want %s", got.Time, f.now.Truncate(time.Second))
				}
				if got.Accuracy != time.Second {
					t.Errorf("accuracy %v", got.Accuracy)
				}
				if got.HashAlgorithm != tt.hash {
					t.Errorf("hash %v; want %v", got.HashAlgorithm, tt.hash)
				}
				if (tt.nonce == nil) != (got.Nonce == nil) {
					t.Errorf("nonce %v; want %v", got.Nonce, tt.nonce)
				}
				if got.SerialNumber.Sign() <= 0 || got.SerialNumber.BitLen() > 128 {
					t.Errorf("serial %v not a positive 128-bit number", got.SerialNumber)
				}
				if tt.certReq != (len(got.Certificates) == 1) {
					t.Errorf("certReq %v but %d certificates in the token", tt.certReq, len(got.Certificates))
				}
				if tt.certReq && !got.Certificates[0].Equal(f.chain[0]) {
					t.Error("the token's certificate is not the TSA leaf")
				}
			})
		}
	}
}

// TestCosignRequest answers the exact query cosign v3.1.3 sends: SHA-256 of
// the signature, no nonce, certReq false; the token carries no certificate
// and verifies with the chain supplied separately.
func TestCosignRequest(t *testing.T) {
	f := newFixture(t, nil, nil)
	sig := []byte("MEUCIQD...a DER ECDSA signature...")
	req, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: false})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := timestamp.ParseRequest(req)
	if err != nil || parsed.Nonce != nil || parsed.Certificates {
		t.Fatalf("not cosign's request shape: %+v, %v", parsed, err)
	}
	resp, err := f.tsa.Respond(context.Background(), req)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	got := verify(t, f, resp, sig, nil)
	if len(got.Certificates) != 0 {
		t.Errorf("%d certificates in a token for certReq=false", len(got.Certificates))
	}
	want := sha256.Sum256(sig)
	if !bytes.Equal(got.HashedMessage, want[:]) {
		t.Error("hashedMessage is not SHA-256 of the signature")
	}
	// Another artifact does not verify.
	if _, err := verification.VerifyTimestampResponse(resp, strings.NewReader("other"), verification.VerifyOpts{
		TSACertificate: f.chain[0], Roots: f.chain[1:],
	}); err == nil {
		t.Error("the token verified for another artifact")
	}
}

// TestSerialsDiffer answers from 8 goroutines at once: every token verifies
// and no serial number repeats.
func TestSerialsDiffer(t *testing.T) {
	f := newFixture(t, nil, nil)
	req, err := timestamp.CreateRequest(strings.NewReader("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				resp, err := f.tsa.Respond(context.Background(), req)
				if err != nil {
					t.Error(err)
					return
				}
				ts, err := timestamp.ParseResponse(resp)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[ts.SerialNumber.String()] {
					t.Errorf("serial %v issued twice", ts.SerialNumber)
				}
				seen[ts.SerialNumber.String()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 160 {
		t.Errorf("%d distinct serials; want 160", len(seen))
	}
}

func TestRSASigner(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, k, nil)
	req, err := timestamp.CreateRequest(strings.NewReader("rsa"), &timestamp.RequestOptions{Certificates: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.tsa.Respond(context.Background(), req)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	verify(t, f, resp, []byte("rsa"), nil)
}

// tsReq mirrors RFC 3161 TimeStampReq so tests can build malformed queries.
type tsReq struct {
	Version        int
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	ReqPolicy  asn1.ObjectIdentifier `asn1:"optional"`
	Nonce      *big.Int              `asn1:"optional"`
	CertReq    bool                  `asn1:"optional,default:false"`
	Extensions []pkix.Extension      `asn1:"optional,tag:0"`
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func query(t testing.TB, edit func(*tsReq)) []byte {
	t.Helper()
	var r tsReq
	r.Version = 1
	r.MessageImprint.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, Parameters: asn1.NullRawValue}
	r.MessageImprint.HashedMessage = make([]byte, 32)
	if edit != nil {
		edit(&r)
	}
	return mustMarshal(t, r)
}

// statusOf decodes a TimeStampResp's status, failure info bits and text.
func statusOf(t *testing.T, resp []byte) (status int, failBits []int, text []string) {
	t.Helper()
	var r struct {
		Status struct {
			Status       int
			StatusString []asn1.RawValue `asn1:"optional"`
			FailInfo     asn1.BitString  `asn1:"optional"`
		}
		Token asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(resp, &r)
	if err != nil || len(rest) != 0 {
		t.Fatalf("response is not a DER TimeStampResp: %v (%d trailing bytes)", err, len(rest))
	}
	for i := 0; i < r.Status.FailInfo.BitLength; i++ {
		if r.Status.FailInfo.At(i) == 1 {
			failBits = append(failBits, i)
		}
	}
	for _, s := range r.Status.StatusString {
		if s.Tag != asn1.TagUTF8String {
			t.Errorf("statusString tag %d; want UTF8String", s.Tag)
		}
		text = append(text, string(s.Bytes))
	}
	if len(r.Token.FullBytes) != 0 {
		t.Error("a refusal carries a token")
	}
	return r.Status.Status, failBits, text
}

func TestRespondRejects(t *testing.T) {
	f := newFixture(t, nil, nil)
	valid := query(t, nil)
	tests := []struct {
		name  string
		query []byte
		want  tsa.FailureInfo
	}{
		{"Empty", nil, tsa.BadDataFormat},
		{"Garbage", []byte("POST / HTTP/1.1\r\n"), tsa.BadDataFormat},
		{"Truncated", valid[:len(valid)-3], tsa.BadDataFormat},
		{"TrailingData", append(append([]byte{}, valid...), 0), tsa.BadDataFormat},
		{"Oversized", query(t, func(r *tsReq) { r.Nonce = new(big.Int).Lsh(big.NewInt(1), 8*tsa.MaxQuerySize) }), tsa.BadDataFormat},
		{"ShortDigest", query(t, func(r *tsReq) { r.MessageImprint.HashedMessage = make([]byte, 31) }), tsa.BadDataFormat},
		{"LongDigest", query(t, func(r *tsReq) { r.MessageImprint.HashedMessage = make([]byte, 48) }), tsa.BadDataFormat},
		{"SHA384WithSHA256Length", query(t, func(r *tsReq) {
			r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
		}), tsa.BadDataFormat},
		{"SHA1", query(t, func(r *tsReq) {
			r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
			r.MessageImprint.HashedMessage = make([]byte, 20)
		}), tsa.BadAlg},
		{"UnknownHashOID", query(t, func(r *tsReq) { r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 3, 4} }), tsa.BadAlg},
		{"HashParameters", query(t, func(r *tsReq) {
			r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{FullBytes: []byte{0x02, 0x01, 0x05}}
		}), tsa.BadAlg},
		{"Version2", query(t, func(r *tsReq) { r.Version = 2 }), tsa.BadRequest},
		{"OtherPolicy", query(t, func(r *tsReq) { r.ReqPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2} }), tsa.UnacceptedPolicy},
		{"Extensions", query(t, func(r *tsReq) {
			r.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}
		}), tsa.UnacceptedExtension},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.tsa.Respond(context.Background(), tt.query)
			var rej *tsa.RejectError
			if !errors.As(err, &rej) {
				t.Fatalf("error %v; want a *RejectError", err)
			}
			if rej.Info != tt.want {
				t.Errorf("failure info %v; want %v (%s)", rej.Info, tt.want, rej.Reason)
			}
			status, bits, text := statusOf(t, resp)
			if status != 2 || len(bits) != 1 || bits[0] != int(tt.want) {
				t.Errorf("status %d, failInfo bits %v; want 2, [%d]", status, bits, tt.want)
			}
			if len(text) != 1 || text[0] != rej.Reason {
				t.Errorf("statusString %q; want %q", text, rej.Reason)
			}
			// sigstore's client reports the refusal.
			if _, err := timestamp.ParseResponse(resp); err == nil || !strings.Contains(err.Error(), "rejected") {
				t.Errorf("timestamp.ParseResponse: %v; want a rejection", err)
			}
		})
	}
	// The TSA's own policy, asked for explicitly, is granted.
	ok := query(t, func(r *tsReq) { r.ReqPolicy = tsa.DefaultPolicy })
	if _, err := f.tsa.Respond(context.Background(), ok); err != nil {
		t.Errorf("query for the TSA's own policy: %v", err)
	}
	// A query without NULL hash parameters is granted and echoed as sent.
	noNull := query(t, func(r *tsReq) { r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{} })
	resp, err := f.tsa.Respond(context.Background(), noNull)
	if err != nil {
		t.Fatalf("query without NULL parameters: %v", err)
	}
	var sent tsReq
	if _, err := asn1.Unmarshal(noNull, &sent); err != nil {
		t.Fatal(err)
	}
	imprint := mustMarshal(t, sent.MessageImprint)
	if !bytes.Contains(resp, imprint) {
		t.Error("the token does not echo the messageImprint bytes as sent")
	}
}

func TestRespondSystemFailures(t *testing.T) {
	f := newFixture(t, nil, nil)
	req := query(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := f.tsa.Respond(ctx, req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, bits, _ := statusOf(t, resp); len(bits) != 1 || bits[0] != int(tsa.SystemFailure) {
		t.Errorf("cancelled: failInfo %v; want systemFailure", bits)
	}

	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"AfterNotAfter", t0.Add(366 * 24 * time.Hour)},
		{"BeforeNotBefore", t0.Add(-time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := t0.Add(time.Hour)
			ts, err := tsa.New(tsa.Config{Signer: f.leaf, Chain: f.chain, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			clock = tc.now
			resp, err := ts.Respond(context.Background(), req)
			if !errors.Is(err, tsa.ErrOutsideValidity) {
				t.Fatalf("error %v; want ErrOutsideValidity", err)
			}
			var rej *tsa.RejectError
			if errors.As(err, &rej) {
				t.Error("a TSA fault reported as the client's")
			}
			if _, bits, _ := statusOf(t, resp); len(bits) != 1 || bits[0] != int(tsa.SystemFailure) {
				t.Errorf("failInfo %v; want systemFailure", bits)
			}
		})
	}
}

// failingSigner is a real key whose Sign fails, as an HSM that lost its
// session does.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("CKR_DEVICE_ERROR")
}

func TestNewRejectsConfig(t *testing.T) {
	root := genECDSA(t, elliptic.P256())
	leafKey := genECDSA(t, elliptic.P256())
	good, err := tsa.NewChain(root, leafKey, "TSA", t0, 24*time.Hour, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0.Add(time.Hour) }

	// makeLeaf signs a leaf from a template edit, with root as issuer.
	makeLeaf := func(edit func(*x509.Certificate)) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(7),
			Subject:      pkix.Name{CommonName: "bad TSA"},
			NotBefore:    t0,
			NotAfter:     t0.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		}
		edit(tmpl)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, good[1], leafKey.Public(), root)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	critEKU := func(oids ...asn1.ObjectIdentifier) pkix.Extension {
		return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: mustMarshal(t, oids)}
	}
	ts := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	edKey := ed25519.NewKeyFromSeed(make([]byte, 32))

	tests := []struct {
		name string
		cfg  tsa.Config
		want string
	}{
		{"NoSigner", tsa.Config{Chain: good, Now: now}, "no signer"},
		{"NoChain", tsa.Config{Signer: leafKey, Now: now}, "0 certificates"},
		{"LeafOnly", tsa.Config{Signer: leafKey, Chain: good[:1], Now: now}, "1 certificates"},
		{"WrongKey", tsa.Config{Signer: genECDSA(t, elliptic.P256()), Chain: good, Now: now}, "not for the signer's public key"},
		{"Ed25519", tsa.Config{Signer: edKey, Chain: good, Now: now}, "unsupported key type"},
		{"Reversed", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{good[1], good[0]}, Now: now}, "not for the signer's public key"},
		{"EKUNotCritical", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(*x509.Certificate) {}), good[1]}, Now: now}, "must be critical"},
		{"EKUExtra", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{critEKU(ts, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3})}
		}), good[1]}, Now: now}, "timeStamping only"},
		{"EKUUnknownExtra", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{critEKU(ts, asn1.ObjectIdentifier{1, 2, 3, 4})}
		}), good[1]}, Now: now}, "timeStamping only"},
		{"NoEKU", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(c *x509.Certificate) { c.ExtKeyUsage = nil }), good[1]}, Now: now}, "timeStamping only"},
		{"LeafIsCA", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(c *x509.Certificate) {
			c.BasicConstraintsValid, c.IsCA = true, true
			c.ExtraExtensions = []pkix.Extension{critEKU(ts)}
		}), good[1]}, Now: now}, "is a CA"},
		{"KeyUsageCertSignOnly", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{makeLeaf(func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageCertSign
			c.ExtraExtensions = []pkix.Extension{critEKU(ts)}
		}), good[1]}, Now: now}, "lacks digitalSignature"},
		{"RootNotSelfSigned", tsa.Config{Signer: leafKey, Chain: []*x509.Certificate{good[0], good[0]}, Now: now}, "not a self-signed root"},
		{"OtherRoot", tsa.Config{Signer: leafKey, Chain: func() []*x509.Certificate {
			other, err := tsa.NewChain(genECDSA(t, elliptic.P256()), leafKey, "TSA", t0, 24*time.Hour, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return []*x509.Certificate{good[0], other[1]}
		}(), Now: now}, "verifying the chain"},
		{"Expired", tsa.Config{Signer: leafKey, Chain: good, Now: func() time.Time { return t0.Add(25 * time.Hour) }}, "verifying the chain"},
		{"NotYetValid", tsa.Config{Signer: leafKey, Chain: good, Now: func() time.Time { return t0.Add(-time.Minute) }}, "verifying the chain"},
		{"NegativeAccuracy", tsa.Config{Signer: leafKey, Chain: good, Now: now, Accuracy: -time.Second}, "accuracy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tsa.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := tsa.New(tsa.Config{Signer: leafKey, Chain: good, Now: now}); err != nil {
		t.Fatalf("New with the good chain: %v", err)
	}
}

func TestSignerFailure(t *testing.T) {
	f := newFixture(t, nil, nil)
	ts, err := tsa.New(tsa.Config{Signer: failingSigner{f.leaf}, Chain: f.chain, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Respond(context.Background(), query(t, nil))
	if err == nil || !strings.Contains(err.Error(), "CKR_DEVICE_ERROR") {
		t.Fatalf("error %v; want the signer's", err)
	}
	if _, bits, _ := statusOf(t, resp); len(bits) != 1 || bits[0] != int(tsa.SystemFailure) {
		t.Errorf("failInfo %v; want systemFailure", bits)
	}
}

func TestPolicyAndAccuracy(t *testing.T) {
	root := genECDSA(t, elliptic.P256())
	leaf := genECDSA(t, elliptic.P256())
	chain, err := tsa.NewChain(root, leaf, "TSA", t0, time.Hour, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	policy := asn1.ObjectIdentifier{1, 2, 3, 4, 5}
	ts, err := tsa.New(tsa.Config{Signer: leaf, Chain: chain, Policy: policy, Accuracy: 1500*time.Millisecond + 250*time.Microsecond,
		Now: func() time.Time { return t0.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Respond(context.Background(), query(t, func(r *tsReq) { r.ReqPolicy = policy }))
	if err != nil {
		t.Fatal(err)
	}
	got, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Policy.Equal(policy) || got.Accuracy != 1500*time.Millisecond+250*time.Microsecond {
		t.Errorf("policy %v accuracy %v", got.Policy, got.Accuracy)
	}
	if !ts.Policy().Equal(policy) {
		t.Errorf("Policy() %v", ts.Policy())
	}
}

func TestParseChainPEM(t *testing.T) {
	f := newFixture(t, nil, nil)
	pemChain := f.tsa.ChainPEM()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"Empty", nil, "no certificate"},
		{"Key", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "PRIVATE KEY"},
		{"Trailing", append(append([]byte{}, pemChain...), "junk"...), "not PEM"},
		{"BadCert", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tsa.ParseChainPEM(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseChainPEM: %v; want %q", err, tt.want)
			}
		})
	}
	if _, err := tsa.ParseChainPEM(append(pemChain, "\n\n"...)); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

// TestQuery checks that Query writes the bytes cosign's client library
// (digitorus/timestamp, SHA-256, no certificates) writes for the same digest
// and that Respond grants it; bad hashes and lengths are refused.
func TestQuery(t *testing.T) {
	f := newFixture(t, nil, nil)
	sig := []byte("a DER ECDSA signature")
	d := sha256.Sum256(sig)
	q, err := tsa.Query(crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	want, err := timestamp.CreateRequest(bytes.NewReader(sig), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: false})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q, want) {
		t.Fatalf("Query = %x, cosign's request = %x", q, want)
	}
	resp, err := f.tsa.Respond(context.Background(), q)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	if got := verify(t, f, resp, sig, nil); !bytes.Equal(got.HashedMessage, d[:]) {
		t.Error("token over another digest")
	}
	for _, tc := range []struct {
		name   string
		h      crypto.Hash
		digest []byte
	}{
		{"sha1", crypto.SHA1, make([]byte, 20)},
		{"short", crypto.SHA256, d[:31]},
		{"sha384 length", crypto.SHA384, d[:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tsa.Query(tc.h, tc.digest); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if q, err := tsa.Query(crypto.SHA512, make([]byte, 64)); err != nil {
		t.Fatal(err)
	} else if _, err := f.tsa.Respond(context.Background(), q); err != nil {
		t.Fatalf("Respond(SHA-512 query): %v", err)
	}
}
