package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
	"github.com/stellaops/stellad/kit/verify/verifytest"
)

// The certificate fixture is a keyless bundle made the way the appliance
// makes one (ephemeral key, certificate with an embedded SCT and the Fulcio
// issuer extension, DSSE signature, hashedrekord entry whose verifier is the
// certificate, RFC 3161 timestamp over the signature) and the private
// Sigstore that vouches for it: CA, CT log, TSA and transparency log.

const (
	certIdentityValue = "release-bot@builds.example"
	certIssuerValue   = "https://authority.example"
	certPredicateType = "https://slsa.dev/provenance/v1"
)

var (
	oidFulcioIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidCTPoison       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidTSAPolicy      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 3161, 1}
)

// certFixtureConfig varies one thing of the fixture.
type certFixtureConfig struct {
	// badSignature logs and timestamps a DSSE signature with one bit
	// flipped: only the signature check can fail.
	badSignature bool
	// timestampAfter moves the signed time this far after the
	// certificate's start (10 minutes of validity).
	timestampAfter time.Duration
}

// certFixture is a keyless bundle, its artifact, and the keys of the
// services that vouch for it (to build trusted roots that do not).
type certFixture struct {
	bundleJSON []byte
	artifact   []byte
	serial     *big.Int
	logIndex   uint64
	t0         time.Time

	log                      *verifytest.Log
	caCert, tsaLeaf, tsaRoot *x509.Certificate
	ctKey                    *ecdsa.PrivateKey
}

func genKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rootCert(t testing.TB, k *ecdsa.PrivateKey, name string, t0 time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"stellad test"}},
		NotBefore: t0.Add(-24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return issue(t, tmpl, tmpl, k.Public(), k)
}

// sctExtension logs tmpl's precertificate (RFC 6962 §3.1) with ctKey and
// returns the SCT list extension for the final certificate.
func sctExtension(t testing.TB, tmpl, ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, ctKey *ecdsa.PrivateKey, when time.Time) pkix.Extension {
	t.Helper()
	pre := *tmpl
	pre.ExtraExtensions = append(append([]pkix.Extension(nil), tmpl.ExtraExtensions...),
		pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	preCert := issue(t, &pre, ca, pub, caKey)
	ctPre, err := ctx509.ParseCertificate(preCert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	ctCA, err := ctx509.ParseCertificate(ca.Raw)
	if err != nil {
		t.Fatal(err)
	}
	ms := uint64(when.UnixMilli())
	leaf, err := ct.MerkleTreeLeafFromChain([]*ctx509.Certificate{ctPre, ctCA}, ct.PrecertLogEntryType, ms)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ctKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: sha256.Sum256(spki)}, Timestamp: ms}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: *leaf})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(input)
	sig, err := ctKey.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sct.Signature = ct.DigitallySigned{Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA}, Signature: sig}
	raw, err := cttls.Marshal(sct)
	if err != nil {
		t.Fatal(err)
	}
	list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: raw}}})
	if err != nil {
		t.Fatal(err)
	}
	value, err := asn1.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSCTList, Value: value}
}

func newCertFixture(t testing.TB, cfg certFixtureConfig) *certFixture {
	t.Helper()
	// The wall clock, not a fixed date: digitorus/pkcs7 writes the wall
	// clock as the timestamp's CMS signing time, which sigstore-go checks
	// against the TSA certificate's validity.
	t0 := time.Now().UTC().Truncate(time.Second)
	f := &certFixture{t0: t0, artifact: []byte("an artifact signed keyless\n"), serial: big.NewInt(0x5eed42)}
	caKey, tsaRootKey, tsaKey := genKey(t), genKey(t), genKey(t)
	f.ctKey = genKey(t)
	f.caCert = rootCert(t, caKey, "stellad test CA", t0)
	f.tsaRoot = rootCert(t, tsaRootKey, "stellad test TSA root", t0)
	// RFC 3161 §2.3: the TSA's only extended key usage, marked critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		t.Fatal(err)
	}
	f.tsaLeaf = issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "stellad test TSA", Organization: []string{"stellad test"}},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}, f.tsaRoot, tsaKey.Public(), tsaRootKey)

	eph := genKey(t)
	issuerExt, err := asn1.MarshalWithParams(certIssuerValue, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: f.serial, NotBefore: t0, NotAfter: t0.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses:  []string{certIdentityValue},
		ExtraExtensions: []pkix.Extension{{Id: oidFulcioIssuerV2, Value: issuerExt}},
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, sctExtension(t, tmpl, f.caCert, caKey, eph.Public(), f.ctKey, t0))
	leaf := issue(t, tmpl, f.caCert, eph.Public(), caKey)

	digest := sha256.Sum256(f.artifact)
	stmt, err := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "artifact.bin", Digest: map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
		certPredicateType, []byte(`{"builder":"unit"}`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: eph})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.badSignature {
		env.Signatures[0].Sig[len(env.Signatures[0].Sig)/2] ^= 1
	}
	sig := env.Signatures[0].Sig

	// The log entry, proven in a tree with other entries around it.
	if f.log, err = verifytest.NewLog("http://log.stellad.test:8080", nil, nil); err != nil {
		t.Fatal(err)
	}
	pae := sha256.Sum256(env.PAE())
	body, err := bundle.HashedRekord{Digest: pae[:], Signature: sig, CertificateDER: leaf.Raw, KeyDetails: bundle.KeyDetailsECDSAP256}.CanonicalBody()
	if err != nil {
		t.Fatal(err)
	}
	f.log.AppendFiller(3)
	f.logIndex = f.log.Append(body)
	f.log.AppendFiller(2)
	proven := &verifytest.Fixture{LeafIndex: f.logIndex}
	if err := f.log.Prove(proven, f.log.Size()); err != nil {
		t.Fatal(err)
	}
	logID, err := bundle.LogID(f.log.Origin, f.log.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	entry := bundle.Entry{LogIndex: f.logIndex, LogID: logID, Body: body, Proof: bundle.InclusionProof{
		LogIndex: f.logIndex, TreeSize: proven.TreeSize, RootHash: proven.RootHash, Hashes: proven.Hashes, Checkpoint: proven.Checkpoint,
	}}

	sigDigest := sha256.Sum256(sig)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: sigDigest[:], Time: t0.Add(cfg.timestampAfter), Policy: oidTSAPolicy}
	resp, err := ts.CreateResponseWithOpts(f.tsaLeaf, tsaKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if f.bundleJSON, err = bundle.NewDSSEWithCertificate(env, leaf.Raw, entry, [][]byte{resp}); err != nil {
		t.Fatal(err)
	}
	return f
}

// trustedRoot is a trusted root naming the fixture's services; edit
// replaces some of them first.
func (f *certFixture) trustedRoot(t testing.TB, edit func(*bundle.TrustedRoot)) []byte {
	t.Helper()
	start := f.t0.Add(-time.Hour)
	tr := bundle.TrustedRoot{
		Logs:                   []bundle.TransparencyLog{{BaseURL: f.log.BaseURL, PublicKey: f.log.Key.Public(), Start: start}},
		CertificateAuthorities: []bundle.CertificateAuthority{{URI: "http://log.stellad.test:8080", Chain: []*x509.Certificate{f.caCert}, Start: start}},
		CTLogs:                 []bundle.CTLog{{BaseURL: "http://log.stellad.test:8080/ct", PublicKey: f.ctKey.Public(), Start: start}},
		TimestampAuthorities:   []bundle.CertificateAuthority{{URI: "http://log.stellad.test:8080/api/v1/timestamp", Chain: []*x509.Certificate{f.tsaLeaf, f.tsaRoot}, Start: start}},
	}
	if edit != nil {
		edit(&tr)
	}
	b, err := tr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *certFixture) digest() []byte {
	d := sha256.Sum256(f.artifact)
	return d[:]
}

func TestVerifyCertBundle(t *testing.T) {
	f := newCertFixture(t, certFixtureConfig{})
	opts := certVerifyOptions{TrustedRoot: f.trustedRoot(t, nil), Identity: certIdentityValue, Issuer: certIssuerValue,
		PredicateType: certPredicateType, ArtifactDigest: f.digest()}
	res, ci, err := verifyCertBundle(f.bundleJSON, opts)
	if err != nil {
		t.Fatalf("verifyCertBundle: %v", err)
	}
	if ci.Identity != certIdentityValue || ci.Issuer != certIssuerValue || ci.CertificateSerial != "5eed42" || !ci.SignedTime.Equal(f.t0) {
		t.Errorf("identity %+v, want %s, %s, serial 5eed42, signed %s", ci, certIdentityValue, certIssuerValue, f.t0)
	}
	if res.LogIndex != f.logIndex || res.TreeSize != f.log.Size() || res.LogOrigin != "log.stellad.test" ||
		res.PredicateType != certPredicateType || len(res.Subjects) != 1 || res.Subjects[0].Name != "artifact.bin" {
		t.Errorf("result %+v", res)
	}

	// Fixtures of their own, each with one fault.
	badSig := newCertFixture(t, certFixtureConfig{badSignature: true})
	late := newCertFixture(t, certFixtureConfig{timestampAfter: 20 * time.Minute})
	other := sha256.Sum256([]byte("another artifact"))
	with := func(edit func(*certVerifyOptions)) certVerifyOptions { o := opts; edit(&o); return o }
	for _, tc := range []struct {
		name      string
		bundle    []byte
		opts      certVerifyOptions
		wantCheck string
	}{
		{"another identity", f.bundleJSON, with(func(o *certVerifyOptions) { o.Identity = "someone-else@builds.example" }), checkIdentity},
		{"another issuer", f.bundleJSON, with(func(o *certVerifyOptions) { o.Issuer = "https://other.example" }), checkIssuer},
		{"another artifact", f.bundleJSON, with(func(o *certVerifyOptions) { o.ArtifactDigest = other[:] }), checkSubject},
		{"another predicate type", f.bundleJSON, with(func(o *certVerifyOptions) { o.PredicateType = "https://spdx.dev/Document" }), checkPredicateType},
		{"another CA", f.bundleJSON, with(func(o *certVerifyOptions) {
			o.TrustedRoot = f.trustedRoot(t, func(tr *bundle.TrustedRoot) {
				tr.CertificateAuthorities[0].Chain = []*x509.Certificate{rootCert(t, genKey(t), "another CA", f.t0)}
			})
		}), checkChain},
		{"no CT log", f.bundleJSON, with(func(o *certVerifyOptions) {
			o.TrustedRoot = f.trustedRoot(t, func(tr *bundle.TrustedRoot) { tr.CTLogs = nil })
		}), checkSCT},
		{"another CT log", f.bundleJSON, with(func(o *certVerifyOptions) {
			o.TrustedRoot = f.trustedRoot(t, func(tr *bundle.TrustedRoot) { tr.CTLogs[0].PublicKey = genKey(t).Public() })
		}), checkSCT},
		{"another TSA", f.bundleJSON, with(func(o *certVerifyOptions) {
			o.TrustedRoot = f.trustedRoot(t, func(tr *bundle.TrustedRoot) {
				tr.TimestampAuthorities[0].Chain = []*x509.Certificate{f.tsaLeaf, rootCert(t, genKey(t), "another TSA root", f.t0)}
			})
		}), checkTimestamp},
		{"another log key", f.bundleJSON, with(func(o *certVerifyOptions) {
			o.TrustedRoot = f.trustedRoot(t, func(tr *bundle.TrustedRoot) { tr.Logs[0].PublicKey = genKey(t).Public() })
		}), checkInclusion},
		{"changed payload", tamperPayload(t, f.bundleJSON), opts, checkInclusion},
		{"signature", badSig.bundleJSON, with(func(o *certVerifyOptions) { o.TrustedRoot = badSig.trustedRoot(t, nil) }), checkSignature},
		{"signed after the certificate expired", late.bundleJSON, with(func(o *certVerifyOptions) { o.TrustedRoot = late.trustedRoot(t, nil) }), checkChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := verifyCertBundle(tc.bundle, tc.opts)
			var ce *certCheckError
			if !errors.As(err, &ce) || !errors.Is(err, errVerifyFailed) {
				t.Fatalf("error %v, want a failed %s check", err, tc.wantCheck)
			}
			if ce.Check != tc.wantCheck {
				t.Fatalf("failed check %q (%v), want %q", ce.Check, err, tc.wantCheck)
			}
			if exitCode(err) != exitVerifyFailed {
				t.Fatalf("exit code %d for %v", exitCode(err), err)
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

// tamperPayload flips one byte of the statement inside the bundle's envelope.
func tamperPayload(t testing.TB, bundleJSON []byte) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(payload), "unit")
	payload[i] = 'U'
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAttestVerifyCertificate runs stellactl attest verify on a certificate
// bundle: exit 0 with the identity printed, 1 naming the failed check, 2 for
// flags that do not fit the bundle's kind.
func TestAttestVerifyCertificate(t *testing.T) {
	f := newCertFixture(t, certFixtureConfig{})
	dir := t.TempDir()
	b := writeFile(t, dir, "keyless.bundle", f.bundleJSON)
	tr := writeFile(t, dir, "trusted_root.json", f.trustedRoot(t, nil))
	subject := writeFile(t, dir, "artifact.bin", f.artifact)
	other := writeFile(t, dir, "other.bin", []byte("not the artifact"))
	tampered := writeFile(t, dir, "tampered.bundle", tamperPayload(t, f.bundleJSON))
	verifyArgs := func(bundle, identity, issuer, subject string, extra ...string) []string {
		args := []string{"attest", "verify", "--bundle", bundle, "--trusted-root", tr}
		if identity != "" {
			args = append(args, "--certificate-identity", identity)
		}
		if issuer != "" {
			args = append(args, "--certificate-oidc-issuer", issuer)
		}
		return append(append(args, extra...), subject)
	}

	r := stellactl(t, verifyArgs(b, certIdentityValue, certIssuerValue, subject, "--predicate-type", certPredicateType)...)
	r.expect(t, exitOK)
	for _, want := range []string{"Verified OK", "predicate type: " + certPredicateType, "subject: artifact.bin sha256:",
		"identity: " + certIdentityValue, "issuer: " + certIssuerValue, "certificate serial: 5eed42",
		"signed time: " + f.t0.Format(time.RFC3339), "log index: 3", "tree size: 6", "log origin: log.stellad.test"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	r = stellactl(t, verifyArgs(b, certIdentityValue, certIssuerValue, subject, "--json")...)
	r.expect(t, exitOK)
	var js struct {
		Identity, Issuer, CertificateSerial, PredicateType string
		SignedTime                                         time.Time
		LogIndex, TreeSize                                 uint64
		WitnessedMode                                      string
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	if js.Identity != certIdentityValue || js.Issuer != certIssuerValue || js.CertificateSerial != "5eed42" ||
		!js.SignedTime.Equal(f.t0) || js.LogIndex != 3 || js.TreeSize != 6 || js.PredicateType != certPredicateType || js.WitnessedMode != "off" {
		t.Errorf("--json output %s", r.stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"another identity", verifyArgs(b, "someone-else@builds.example", certIssuerValue, subject), exitVerifyFailed, []string{"identity:", "someone-else@builds.example"}},
		{"another issuer", verifyArgs(b, certIdentityValue, "https://other.example", subject), exitVerifyFailed, []string{"issuer:", "https://other.example"}},
		{"another artifact", verifyArgs(b, certIdentityValue, certIssuerValue, other), exitVerifyFailed, []string{"subject:"}},
		{"another predicate type", verifyArgs(b, certIdentityValue, certIssuerValue, subject, "--predicate-type", "https://spdx.dev/Document"), exitVerifyFailed, []string{"predicate type:"}},
		{"changed envelope", verifyArgs(tampered, certIdentityValue, certIssuerValue, subject), exitVerifyFailed, []string{"inclusion:", tampered}},
		{"with --key", verifyArgs(b, "", "", subject, "--key", tr), exitBadInput, []string{"--key", "carries a certificate"}},
		{"no issuer", verifyArgs(b, certIdentityValue, "", subject), exitBadInput, []string{"--certificate-oidc-issuer", "carries a certificate"}},
		{"no identity", verifyArgs(b, "", certIssuerValue, subject), exitBadInput, []string{"--certificate-identity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stellactl(t, tc.args...).expect(t, tc.code, tc.want...)
		})
	}

	// A key-based bundle with a certificate identity is a usage error; with
	// --key it verifies as before.
	ff := newFixtureFiles(t)
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--certificate-identity", certIdentityValue,
		"--certificate-oidc-issuer", certIssuerValue, ff.subject).expect(t, exitBadInput, "--certificate-identity", "carries no certificate")
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key,
		"--certificate-oidc-issuer", certIssuerValue, ff.subject).expect(t, exitBadInput, "--certificate-oidc-issuer", "carries no certificate")
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key, ff.subject).expect(t, exitOK)
}

// TestAttestVerifyCertificateWitnessed ties a certificate bundle's
// checkpoint to a witnessed mirrored checkpoint, as for key bundles: a
// mirror of the same log passes --witnessed require, a split view fails.
func TestAttestVerifyCertificateWitnessed(t *testing.T) {
	f := newCertFixture(t, certFixtureConfig{})
	dir := t.TempDir()
	b := writeFile(t, dir, "keyless.bundle", f.bundleJSON)
	tr := writeFile(t, dir, "trusted_root.json", f.trustedRoot(t, nil))
	subject := writeFile(t, dir, "artifact.bin", f.artifact)
	w := verifytest.NewWitness("witness.example", 7, f.t0)
	policy := writeFile(t, dir, "witness-policy", verifytest.Policy(1, w))
	mirror := func(l *verifytest.Log) string {
		t.Helper()
		l.AppendFiller(3)
		cp, err := l.Checkpoint(l.Size(), w)
		if err != nil {
			t.Fatal(err)
		}
		files := l.Tiles(l.Size())
		files["checkpoint"] = []byte(cp)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
			if !ok {
				http.NotFound(rw, r)
				return
			}
			rw.Write(body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	fork := f.log.Fork(2)
	fork.AppendFiller(5)
	args := func(url string) []string {
		return []string{"attest", "verify", "--bundle", b, "--trusted-root", tr, "--certificate-identity", certIdentityValue,
			"--certificate-oidc-issuer", certIssuerValue, "--mirror", url, "--witness-policy", policy, "--witnessed", "require", subject}
	}
	r := stellactl(t, args(mirror(f.log))...)
	r.expect(t, exitOK)
	for _, want := range []string{"identity: " + certIdentityValue, "witnessed: mirrored checkpoint of size 9", "witness.example"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	stellactl(t, args(mirror(fork))...).expect(t, exitVerifyFailed, "split view")
}

// FuzzVerifyCertBundle feeds bundle bytes to the certificate path: it never
// panics, and whatever verifies is about the fixture's identity and artifact.
func FuzzVerifyCertBundle(f *testing.F) {
	fx := newCertFixture(f, certFixtureConfig{})
	opts := certVerifyOptions{TrustedRoot: fx.trustedRoot(f, nil), Identity: certIdentityValue, Issuer: certIssuerValue, ArtifactDigest: fx.digest()}
	f.Add(fx.bundleJSON)
	f.Add(tamperPayload(f, fx.bundleJSON))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"MA=="}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bundleHasCertificate(b)
		res, ci, err := verifyCertBundle(b, opts)
		if err != nil {
			return
		}
		if ci.Identity != certIdentityValue || len(res.Subjects) == 0 {
			t.Fatalf("verified a bundle for %q with %d subjects", ci.Identity, len(res.Subjects))
		}
	})
}

func BenchmarkVerifyCertBundle(b *testing.B) {
	f := newCertFixture(b, certFixtureConfig{})
	opts := certVerifyOptions{TrustedRoot: f.trustedRoot(b, nil), Identity: certIdentityValue, Issuer: certIssuerValue, ArtifactDigest: f.digest()}
	for b.Loop() {
		if _, _, err := verifyCertBundle(f.bundleJSON, opts); err != nil {
			b.Fatal(err)
		}
	}
}
