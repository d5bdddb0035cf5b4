package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// keylessT0 is the signing time of the keyless fixture. It is the wall
// clock, not a fixed date, because digitorus/pkcs7 writes the wall clock as
// the timestamp's CMS signing time, which sigstore-go checks against the TSA
// certificate's validity.
var keylessT0 = time.Now().UTC().Truncate(time.Second)

const (
	keylessIdentity = "release-bot@builds.example"
	keylessIssuer   = "https://authority.example"
)

var (
	oidFulcioIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidCTPoison       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	oidSCTList        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
	oidTSAPolicy      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 3161, 1}
)

// keylessFixture is a keyless bundle and the private Sigstore that vouches
// for it: a CA, its CT log, a TSA and a transparency log.
type keylessFixture struct {
	envelope       *dsse.Envelope
	certDER        []byte
	entry          bundle.Entry
	timestamps     [][]byte
	bundleJSON     []byte
	trustedRoot    []byte
	artifactDigest []byte
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
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

func selfSigned(t testing.TB, k *ecdsa.PrivateKey, name string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"stellad"}},
		NotBefore: keylessT0.Add(-24 * time.Hour), NotAfter: keylessT0.Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return mustCert(t, tmpl, tmpl, k.Public(), k)
}

// embeddedSCT logs the precertificate of tmpl (RFC 6962 §3.1) in a CT log
// with key ctKey and returns the SCT list extension of the final certificate.
func embeddedSCT(t testing.TB, tmpl, caCert *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, ctKey *ecdsa.PrivateKey) pkix.Extension {
	t.Helper()
	pre := *tmpl
	pre.ExtraExtensions = append(append([]pkix.Extension(nil), tmpl.ExtraExtensions...),
		pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	preCert := mustCert(t, &pre, caCert, pub, caKey)
	ctPre, err := ctx509.ParseCertificate(preCert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	ctCA, err := ctx509.ParseCertificate(caCert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	when := uint64(keylessT0.UnixMilli())
	leaf, err := ct.MerkleTreeLeafFromChain([]*ctx509.Certificate{ctPre, ctCA}, ct.PrecertLogEntryType, when)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ctKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	sct := ct.SignedCertificateTimestamp{SCTVersion: ct.V1, LogID: ct.LogID{KeyID: sha256.Sum256(spki)}, Timestamp: when}
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

// buildKeyless signs a statement keyless the way the appliance does: an
// ephemeral key, a certificate from the CA with an embedded SCT, the DSSE
// signature logged as a hashedrekord whose verifier is the certificate, and
// an RFC 3161 timestamp over the signature bytes.
func buildKeyless(t testing.TB) *keylessFixture {
	t.Helper()
	f := &keylessFixture{}
	caKey, ctKey, tsaRootKey, tsaKey, logKey := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	caCert := selfSigned(t, caKey, "stellad CA")
	tsaRoot := selfSigned(t, tsaRootKey, "stellad TSA root")
	tsaLeaf := mustCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "stellad TSA", Organization: []string{"stellad"}},
		NotBefore: keylessT0.Add(-time.Hour), NotAfter: keylessT0.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, tsaRoot, tsaKey.Public(), tsaRootKey)
	// RFC 3161 §2.3: the TSA's extended key usage is critical.
	for i := range tsaLeaf.Extensions {
		if tsaLeaf.Extensions[i].Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) && !tsaLeaf.Extensions[i].Critical {
			tsaLeaf = criticalEKU(t, tsaLeaf, tsaRoot, tsaKey.Public(), tsaRootKey)
			break
		}
	}

	// The ephemeral key and its certificate.
	eph := newKey(t)
	issuerExt, err := asn1.MarshalWithParams(keylessIssuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x5eed), NotBefore: keylessT0.Add(-time.Second), NotAfter: keylessT0.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		EmailAddresses:  []string{keylessIdentity},
		ExtraExtensions: []pkix.Extension{{Id: oidFulcioIssuerV2, Value: issuerExt}},
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, embeddedSCT(t, tmpl, caCert, caKey, eph.Public(), ctKey))
	leaf := mustCert(t, tmpl, caCert, eph.Public(), caKey)
	f.certDER = leaf.Raw

	// The statement, signed with the ephemeral key.
	artifact := sha256.Sum256([]byte("a keyless artifact"))
	f.artifactDigest = artifact[:]
	stmt, err := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "artifact.bin", Digest: map[string]string{"sha256": hex.EncodeToString(artifact[:])}}},
		"https://stellaops.example/attestation/keyless/v1", []byte(`{"note":"keyless"}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.envelope, err = dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: eph}); err != nil {
		t.Fatal(err)
	}
	sig := f.envelope.Signatures[0].Sig

	// The log entry: the certificate is the verifier.
	pae := sha256.Sum256(f.envelope.PAE())
	body, err := bundle.HashedRekord{Digest: pae[:], Signature: sig, CertificateDER: leaf.Raw, KeyDetails: bundle.KeyDetailsECDSAP256}.CanonicalBody()
	if err != nil {
		t.Fatal(err)
	}
	lh := bundle.LeafHash(body)
	const index = 2
	tree := &memTree{}
	for i := range 5 {
		if i == index {
			tree.leaves = append(tree.leaves, lh[:])
			continue
		}
		other := bundle.LeafHash([]byte(fmt.Sprintf("other entry %d", i)))
		tree.leaves = append(tree.leaves, other[:])
	}
	rootHash := tree.root(t)
	ns, err := bundle.NewNoteSigner("localhost", logKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := bundle.SignCheckpoint(&bundle.Checkpoint{Origin: "localhost", Size: uint64(len(tree.leaves)), Hash: rootHash}, ns)
	if err != nil {
		t.Fatal(err)
	}
	logID, err := bundle.LogID("localhost", logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	f.entry = bundle.Entry{LogIndex: index, LogID: logID, Body: body, Proof: bundle.InclusionProof{
		LogIndex: index, TreeSize: uint64(len(tree.leaves)), RootHash: rootHash, Hashes: tree.inclusion(t, index), Checkpoint: string(cp),
	}}

	// The timestamp over SHA-256 of the signature bytes.
	sigDigest := sha256.Sum256(sig)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: sigDigest[:], Time: keylessT0, Policy: oidTSAPolicy}
	resp, err := ts.CreateResponseWithOpts(tsaLeaf, tsaKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	f.timestamps = [][]byte{resp}

	if f.bundleJSON, err = bundle.NewDSSEWithCertificate(f.envelope, f.certDER, f.entry, f.timestamps); err != nil {
		t.Fatal(err)
	}
	start := keylessT0.Add(-time.Hour)
	if f.trustedRoot, err = (bundle.TrustedRoot{
		Logs:                   []bundle.TransparencyLog{{BaseURL: "http://localhost:8080", PublicKey: logKey.Public(), Start: start}},
		CertificateAuthorities: []bundle.CertificateAuthority{{URI: "http://localhost:8080", Chain: []*x509.Certificate{caCert}, Start: start}},
		CTLogs:                 []bundle.CTLog{{BaseURL: "http://localhost:8080/ct", PublicKey: ctKey.Public(), Start: start}},
		TimestampAuthorities:   []bundle.CertificateAuthority{{URI: "http://localhost:8080/api/v1/timestamp", Chain: []*x509.Certificate{tsaLeaf, tsaRoot}, Start: start}},
	}).Marshal(); err != nil {
		t.Fatal(err)
	}
	return f
}

// criticalEKU re-issues c with its extended key usage marked critical.
func criticalEKU(t testing.TB, c, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: c.SerialNumber, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter, KeyUsage: c.KeyUsage,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	return mustCert(t, tmpl, parent, pub, parentKey)
}

// verifyKeyless verifies the way cosign v3 verify-blob-attestation does with
// --trusted-root, --certificate-identity and --certificate-oidc-issuer and
// without --insecure-ignore-sct: one log entry, one signed timestamp, one
// SCT, the identity in the certificate.
func verifyKeyless(bundleJSON, trustedRootJSON, artifactDigest []byte, identity, issuer string) error {
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return fmt.Errorf("sigstore-go bundle: %w", err)
	}
	tr, err := root.NewTrustedRootFromJSON(trustedRootJSON)
	if err != nil {
		return fmt.Errorf("sigstore-go trusted root: %w", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1), verify.WithSignedCertificateTimestamps(1))
	if err != nil {
		return err
	}
	id, err := verify.NewShortCertificateIdentity(issuer, "", identity, "")
	if err != nil {
		return err
	}
	_, err = v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", artifactDigest), verify.WithCertificateIdentity(id)))
	return err
}

func TestNewDSSEWithCertificateSigstoreGo(t *testing.T) {
	f := buildKeyless(t)
	if err := verifyKeyless(f.bundleJSON, f.trustedRoot, f.artifactDigest, keylessIdentity, keylessIssuer); err != nil {
		t.Fatalf("sigstore-go refuses the keyless bundle: %v\n%s", err, f.bundleJSON)
	}
	other := sha256.Sum256([]byte("another artifact"))
	tamperedSig := *f.envelope
	sig := bytes.Clone(f.envelope.Signatures[0].Sig)
	sig[len(sig)/2] ^= 1
	tamperedSig.Signatures = []dsse.Signature{{Sig: sig}}
	rebuilt := func(env *dsse.Envelope, ts [][]byte) []byte {
		b, err := bundle.NewDSSEWithCertificate(env, f.certDER, f.entry, ts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name             string
		bundle, digest   []byte
		identity, issuer string
	}{
		{"another identity", f.bundleJSON, f.artifactDigest, "someone-else@builds.example", keylessIssuer},
		{"another issuer", f.bundleJSON, f.artifactDigest, keylessIdentity, "https://other.example"},
		{"another artifact", f.bundleJSON, other[:], keylessIdentity, keylessIssuer},
		{"no timestamp", rebuilt(f.envelope, nil), f.artifactDigest, keylessIdentity, keylessIssuer},
		{"signature changed", rebuilt(&tamperedSig, f.timestamps), f.artifactDigest, keylessIdentity, keylessIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyKeyless(tc.bundle, f.trustedRoot, tc.digest, tc.identity, tc.issuer)
			if err == nil {
				t.Fatal("sigstore-go accepted it")
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

func TestNewDSSEWithCertificateRoundTrip(t *testing.T) {
	f := buildKeyless(t)
	again, err := bundle.NewDSSEWithCertificate(f.envelope, f.certDER, f.entry, f.timestamps)
	if err != nil || !bytes.Equal(again, f.bundleJSON) {
		t.Fatalf("not deterministic: %v", err)
	}
	b, err := bundle.Parse(f.bundleJSON)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if b.KeyHint != "" || len(b.Certificates) != 1 || !bytes.Equal(b.Certificates[0], f.certDER) {
		t.Fatalf("parsed certificates %d, key hint %q", len(b.Certificates), b.KeyHint)
	}
	if len(b.Timestamps) != 1 || !bytes.Equal(b.Timestamps[0], f.timestamps[0]) {
		t.Fatalf("parsed %d timestamps", len(b.Timestamps))
	}
	rt, err := bundle.NewDSSEWithCertificate(b.Envelope, b.Certificates[0], b.Entries[0], b.Timestamps)
	if err != nil || !bytes.Equal(rt, f.bundleJSON) {
		t.Fatalf("NewDSSEWithCertificate(Parse(x)) != x: %v", err)
	}
	// Member names and order are protojson's (what cosign v3 writes, less
	// protojson's deliberately unstable whitespace).
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(f.bundleJSON, &pb); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if pb.GetVerificationMaterial().GetCertificate() == nil || len(pb.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) != 1 {
		t.Fatal("protojson does not see the certificate and the timestamp")
	}
	pj, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, pj); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), f.bundleJSON) {
		t.Fatalf("differs from protojson:\n ours: %s\nproto: %s", f.bundleJSON, compact.Bytes())
	}
}

func TestNewDSSEWithCertificateErrors(t *testing.T) {
	f := buildKeyless(t)
	two := *f.envelope
	two.Signatures = []dsse.Signature{f.envelope.Signatures[0], f.envelope.Signatures[0]}
	noProof := f.entry
	noProof.Proof.Checkpoint = ""
	for _, tc := range []struct {
		name string
		env  *dsse.Envelope
		cert []byte
		e    bundle.Entry
		ts   [][]byte
	}{
		{"no certificate", f.envelope, nil, f.entry, f.timestamps},
		{"not a certificate", f.envelope, []byte{0x30, 0x03, 0x02, 0x01, 0x01}, f.entry, f.timestamps},
		{"empty timestamp", f.envelope, f.certDER, f.entry, [][]byte{nil}},
		{"two signatures", &two, f.certDER, f.entry, f.timestamps},
		{"no proof", f.envelope, f.certDER, noProof, f.timestamps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := bundle.NewDSSEWithCertificate(tc.env, tc.cert, tc.e, tc.ts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// BenchmarkNewDSSEWithCertificate measures encoding a keyless bundle (once
// per keyless signature on the signing path).
func BenchmarkNewDSSEWithCertificate(b *testing.B) {
	f := buildKeyless(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bundle.NewDSSEWithCertificate(f.envelope, f.certDER, f.entry, f.timestamps); err != nil {
			b.Fatal(err)
		}
	}
}
