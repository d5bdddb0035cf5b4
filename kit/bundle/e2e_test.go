package bundle_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/dsse"
)

// memTree is an in-memory RFC 6962 tree of leaf hashes.
type memTree struct{ leaves [][]byte }

// rangeHash returns the Merkle hash of leaves [begin, end).
func (m *memTree) rangeHash(t testing.TB, begin, end uint64) []byte {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	// A subtree hash is the root of a tree made of just its leaves.
	r := rf.NewEmptyRange(0)
	for _, l := range m.leaves[begin:end] {
		if err := r.Append(l, nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func (m *memTree) root(t testing.TB) []byte { return m.rangeHash(t, 0, uint64(len(m.leaves))) }

// inclusion returns the RFC 6962 inclusion proof of leaf index.
func (m *memTree) inclusion(t testing.TB, index uint64) [][]byte {
	size := uint64(len(m.leaves))
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		begin, end := id.Coverage()
		hashes[i] = m.rangeHash(t, begin, min(end, size))
	}
	out, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// e2eFixture is everything the end-to-end test builds.
type e2eFixture struct {
	signer         *ecdsa.PrivateKey
	envelope       *dsse.Envelope
	keyHint        string
	entry          bundle.Entry
	bundleJSON     []byte
	trustedRoot    []byte
	artifactDigest []byte
	logKey         *ecdsa.PrivateKey
}

// buildE2E goes from an artifact digest to a Sigstore bundle without the
// daemon: statement, DSSE signature, hashedrekord leaf, RFC 6962 tree,
// signed checkpoint, bundle and trusted root. It is the reference for how
// the parts fit together.
// With tamperSig set, the envelope signature is corrupted BEFORE it is
// logged, so the log entry is consistent and only the signature check can
// catch it.
func buildE2E(t testing.TB, tamperSig bool) *e2eFixture {
	t.Helper()
	f := &e2eFixture{}
	var err error
	// 1. The artifact and the in-toto statement about it.
	artifact := sha256.Sum256([]byte("the artifact's bytes"))
	f.artifactDigest = artifact[:]
	stmt, err := dsse.NewStatement([]dsse.ResourceDescriptor{{
		Name:   "artifact.bin",
		Digest: map[string]string{"sha256": hex.EncodeToString(artifact[:])},
	}}, "https://stellaops.example/attestation/test/v1", []byte(`{"note":"e2e"}`))
	if err != nil {
		t.Fatal(err)
	}
	// 2. Sign it as a DSSE envelope with the signing key.
	if f.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if f.envelope, err = dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: f.signer}); err != nil {
		t.Fatal(err)
	}
	if tamperSig {
		f.envelope.Signatures[0].Sig[len(f.envelope.Signatures[0].Sig)/2] ^= 0x01
	}
	// 3. The log leaf: hashedrekord over SHA-256(PAE) with the signature.
	paeDigest := sha256.Sum256(f.envelope.PAE())
	details, err := bundle.KeyDetails(f.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(f.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	body, err := bundle.HashedRekord{
		Digest: paeDigest[:], Signature: f.envelope.Signatures[0].Sig,
		PublicKeyDER: pkix, KeyDetails: details,
	}.CanonicalBody()
	if err != nil {
		t.Fatal(err)
	}
	leaf := bundle.LeafHash(body)
	// 4. A log of 11 leaves with ours at index 6, its root and our proof.
	const index = 6
	tree := &memTree{}
	for i := range 11 {
		if i == index {
			tree.leaves = append(tree.leaves, leaf[:])
			continue
		}
		other := bundle.LeafHash([]byte(fmt.Sprintf("other entry %d", i)))
		tree.leaves = append(tree.leaves, other[:])
	}
	rootHash := tree.root(t)
	// 5. The checkpoint, signed by the log key (a separate ECDSA P-256 key).
	if f.logKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	const origin = "localhost" // = host of the trusted root's baseUrl
	ns, err := bundle.NewNoteSigner(origin, f.logKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := bundle.SignCheckpoint(&bundle.Checkpoint{Origin: origin, Size: uint64(len(tree.leaves)), Hash: rootHash}, ns)
	if err != nil {
		t.Fatal(err)
	}
	logID, err := bundle.LogID(origin, f.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	f.entry = bundle.Entry{
		LogIndex: index, LogID: logID, Body: body,
		Proof: bundle.InclusionProof{
			LogIndex: index, TreeSize: uint64(len(tree.leaves)), RootHash: rootHash,
			Hashes: tree.inclusion(t, index), Checkpoint: string(cp),
		},
	}
	// 6. The bundle and the trusted root.
	if f.keyHint, err = bundle.KeyHint(f.signer.Public()); err != nil {
		t.Fatal(err)
	}
	if f.bundleJSON, err = bundle.NewDSSE(f.envelope, f.keyHint, f.entry); err != nil {
		t.Fatal(err)
	}
	if f.trustedRoot, err = bundle.NewTrustedRoot(bundle.TransparencyLog{
		BaseURL:   "http://localhost:8080",
		PublicKey: f.logKey.Public(),
		Start:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

// verifySigstoreGo verifies a bundle the way cosign v3 does with --key and
// --trusted-root: sigstore-go v1.3.0, one transparency log entry required,
// no timestamps (a key-signed Rekor v2 bundle has none), the signer's key
// found through the bundle's key hint, and the artifact digest checked
// against the statement's subjects.
func verifySigstoreGo(bundleJSON, trustedRootJSON []byte, signer crypto.PublicKey, artifactDigest []byte) error {
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(bundleJSON); err != nil {
		return fmt.Errorf("sigstore-go bundle: %w", err)
	}
	tr, err := root.NewTrustedRootFromJSON(trustedRootJSON)
	if err != nil {
		return fmt.Errorf("sigstore-go trusted root: %w", err)
	}
	sv, err := signature.LoadVerifier(signer, crypto.SHA256)
	if err != nil {
		return err
	}
	hint, err := bundle.KeyHint(signer)
	if err != nil {
		return err
	}
	keys := root.NewTrustedPublicKeyMaterialFromMapping(map[string]*root.ExpiringKey{
		hint: root.NewExpiringKey(sv, time.Time{}, time.Time{}),
	})
	v, err := verify.NewVerifier(root.TrustedMaterialCollection{tr, keys},
		verify.WithTransparencyLog(1), verify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	_, err = v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha256", artifactDigest), verify.WithKey()))
	return err
}

func TestEndToEndSigstoreGo(t *testing.T) {
	f := buildE2E(t, false)
	if err := verifySigstoreGo(f.bundleJSON, f.trustedRoot, f.signer.Public(), f.artifactDigest); err != nil {
		t.Fatalf("sigstore-go refuses the bundle: %v\n%s", err, f.bundleJSON)
	}
	// Our own offline checks agree.
	b, err := bundle.Parse(f.bundleJSON)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := bundle.NewNoteVerifier("localhost", f.logKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Entries[0].Verify(nv); err != nil {
		t.Fatalf("Entry.Verify: %v", err)
	}
	if _, err := dsse.Verify(b.Envelope, 1, f.signer.Public()); err != nil {
		t.Fatalf("dsse.Verify: %v", err)
	}

	rebuild := func(t *testing.T, env *dsse.Envelope, e bundle.Entry) []byte {
		t.Helper()
		out, err := bundle.NewDSSE(env, f.keyHint, e)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cloneEntry := func() bundle.Entry {
		e := f.entry
		e.Proof.Hashes = make([][]byte, len(f.entry.Proof.Hashes))
		for i, h := range f.entry.Proof.Hashes {
			e.Proof.Hashes[i] = bytes.Clone(h)
		}
		return e
	}
	otherDigest := sha256.Sum256([]byte("another artifact"))
	tamper := []struct {
		name   string
		bundle func(t *testing.T) []byte
		digest []byte
	}{
		{name: "envelope signature byte flipped", bundle: func(t *testing.T) []byte {
			env := *f.envelope
			sig := bytes.Clone(env.Signatures[0].Sig)
			sig[len(sig)/2] ^= 0x01
			env.Signatures = []dsse.Signature{{Sig: sig}}
			return rebuild(t, &env, f.entry)
		}},
		{name: "proof hash byte flipped", bundle: func(t *testing.T) []byte {
			e := cloneEntry()
			e.Proof.Hashes[1][0] ^= 0x01
			return rebuild(t, f.envelope, e)
		}},
		{name: "checkpoint signature byte flipped", bundle: func(t *testing.T) []byte {
			e := cloneEntry()
			e.Proof.Checkpoint = flipNoteSignature(t, e.Proof.Checkpoint)
			return rebuild(t, f.envelope, e)
		}},
		{name: "another artifact digest", bundle: func(*testing.T) []byte { return f.bundleJSON }, digest: otherDigest[:]},
	}
	t.Run("envelope signature flipped before logging", func(t *testing.T) {
		g := buildE2E(t, true)
		err := verifySigstoreGo(g.bundleJSON, g.trustedRoot, g.signer.Public(), g.artifactDigest)
		if err == nil {
			t.Fatal("sigstore-go accepted a bad envelope signature")
		}
		t.Logf("refused as expected: %v", err)
	})
	// sigstore-go (and so cosign) hands the envelope to go-securesystemslib,
	// which skips a signature whose keyid is set and differs from the SSH
	// SHA256 fingerprint of the key. The keyid is not signed, so this is a
	// property of the verifier, not of the signature: sign bundle envelopes
	// with an empty keyid (or that fingerprint).
	t.Run("keyid other than empty or SSH fingerprint is refused by sigstore-go", func(t *testing.T) {
		env := *f.envelope
		env.Signatures = []dsse.Signature{{KeyID: "tenant-a/key-1", Sig: f.envelope.Signatures[0].Sig}}
		if err := verifySigstoreGo(rebuild(t, &env, f.entry), f.trustedRoot, f.signer.Public(), f.artifactDigest); err == nil {
			t.Fatal("sigstore-go accepted a foreign keyid; the note in this test is out of date")
		}
		fp, err := ssldsse.SHA256KeyID(f.signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		env.Signatures[0].KeyID = fp
		if err := verifySigstoreGo(rebuild(t, &env, f.entry), f.trustedRoot, f.signer.Public(), f.artifactDigest); err != nil {
			t.Fatalf("SSH fingerprint keyid: %v", err)
		}
	})
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			digest := f.artifactDigest
			if tt.digest != nil {
				digest = tt.digest
			}
			err := verifySigstoreGo(tt.bundle(t), f.trustedRoot, f.signer.Public(), digest)
			if err == nil {
				t.Fatal("sigstore-go accepted a tampered bundle")
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

// flipNoteSignature flips one bit of the (first) signature in a signed note.
func flipNoteSignature(t testing.TB, signed string) string {
	t.Helper()
	i := strings.Index(signed, "\n\n")
	lines := strings.Split(strings.TrimSuffix(signed[i+2:], "\n"), "\n")
	fields := strings.Fields(lines[0])
	sig, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-3] ^= 0x01
	lines[0] = fields[0] + " " + fields[1] + " " + base64.StdEncoding.EncodeToString(sig)
	return signed[:i+2] + strings.Join(lines, "\n") + "\n"
}
