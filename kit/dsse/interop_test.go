package dsse

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// sslVerifier adapts an ECDSA public key to go-securesystemslib's
// dsse.Verifier, implemented here from the DSSE spec independently of
// VerifySignature.
type sslVerifier struct{ pub *ecdsa.PublicKey }

func (v sslVerifier) Verify(_ context.Context, data, sig []byte) error {
	d := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(v.pub, d[:], sig) {
		return ErrBadSignature
	}
	return nil
}
func (v sslVerifier) KeyID() (string, error)   { return "", nil }
func (v sslVerifier) Public() crypto.PublicKey { return v.pub }

func TestInteropSecureSystemsLib(t *testing.T) {
	k := testECDSA(t, elliptic.P256(), "interop")
	// go-securesystemslib skips signatures whose keyid differs from the
	// verifier's, so use its keyid convention (SHA-256 of the PKIX key).
	keyID, err := ssldsse.SHA256KeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	e, err := Sign(rand.Reader, PayloadTypeInToto, testStatement(t), KeySigner{KeyID: keyID, Signer: k})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var theirs ssldsse.Envelope
	if err := json.Unmarshal(raw, &theirs); err != nil {
		t.Fatal(err)
	}
	if string(ssldsse.PAE(theirs.PayloadType, e.Payload)) != string(e.PAE()) {
		t.Fatal("PAE differs from go-securesystemslib")
	}
	ev, err := ssldsse.NewEnvelopeVerifier(sslVerifier{&k.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(context.Background(), &theirs); err != nil {
		t.Fatalf("go-securesystemslib refuses our envelope: %v", err)
	}
	other := testECDSA(t, elliptic.P256(), "other")
	ev2, _ := ssldsse.NewEnvelopeVerifier(sslVerifier{&other.PublicKey})
	if _, err := ev2.Verify(context.Background(), &theirs); err == nil {
		t.Fatal("go-securesystemslib accepted our envelope with another key")
	}
}

func TestInteropInTotoAttestation(t *testing.T) {
	for name, stmt := range map[string][]byte{
		"full":  testStatement(t),
		"empty": mustStatement(t, nil),
	} {
		t.Run(name, func(t *testing.T) {
			var s intoto.Statement
			if err := protojson.Unmarshal(stmt, &s); err != nil {
				t.Fatalf("protojson.Unmarshal: %v", err)
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("in-toto Validate: %v", err)
			}
			if s.GetType() != StatementTypeV1 || len(s.GetSubject()) == 0 {
				t.Fatalf("decoded %v", &s)
			}
		})
	}
}

func mustStatement(tb testing.TB, predicate json.RawMessage) []byte {
	tb.Helper()
	out, err := NewStatement([]ResourceDescriptor{{Name: "x", Digest: map[string]string{"sha256": testDigest}}}, "https://example.com/p", predicate)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
