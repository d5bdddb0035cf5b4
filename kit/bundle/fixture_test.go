package bundle

import (
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stellaops/stellad/kit/dsse"
)

// fixture builds a deterministic envelope, leaf, signed checkpoint and entry
// for golden files and fuzz seeds: a two-leaf log with the entry at index 1.
type fixtureT struct {
	env     *dsse.Envelope
	hr      HashedRekord
	body    []byte
	entry   Entry
	hint    string
	logKey  detSigner
	root    []byte
	tlogRaw TransparencyLog
}

func fixture(tb testing.TB) *fixtureT {
	tb.Helper()
	f := &fixtureT{}
	signer := detSigner{testP256(tb, "fixture signer")}
	stmt, err := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "a", Digest: map[string]string{"sha256": "5b3513f580c8397212ff2c8f459c199efc0c90e4354a5f3533adf0a3fff3a530"}}}, "https://example.com/p/v1", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if f.env, err = dsse.Sign(nil, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: signer}); err != nil {
		tb.Fatal(err)
	}
	d := sha256.Sum256(f.env.PAE())
	der, _ := x509.MarshalPKIXPublicKey(signer.Public())
	f.hr = HashedRekord{Digest: d[:], Signature: f.env.Signatures[0].Sig, PublicKeyDER: der, KeyDetails: KeyDetailsECDSAP256}
	if f.body, err = f.hr.CanonicalBody(); err != nil {
		tb.Fatal(err)
	}
	leaf := LeafHash(f.body)
	other := LeafHash([]byte("other"))
	// Tree of two leaves: ours at index 1, root = H(1 || other || leaf).
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(other[:])
	h.Write(leaf[:])
	f.root = h.Sum(nil)
	f.logKey = detSigner{testP256(tb, "fixture log")}
	ns, err := NewNoteSigner("localhost", f.logKey)
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := SignCheckpoint(&Checkpoint{Origin: "localhost", Size: 2, Hash: f.root}, ns)
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := LogID("localhost", f.logKey.Public())
	f.entry = Entry{LogIndex: 1, LogID: id, Body: f.body, Proof: InclusionProof{
		LogIndex: 1, TreeSize: 2, RootHash: f.root, Hashes: [][]byte{other[:]}, Checkpoint: string(cp),
	}}
	if f.hint, err = KeyHint(signer.Public()); err != nil {
		tb.Fatal(err)
	}
	f.tlogRaw = TransparencyLog{BaseURL: "http://localhost:8080", PublicKey: f.logKey.Public(), Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return f
}
