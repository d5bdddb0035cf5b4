package bundle

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	v1 "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	rekornote "github.com/sigstore/rekor-tiles/v2/pkg/note"
	"github.com/sigstore/rekor-tiles/v2/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stellaops/stellad/kit/dsse"
)

// rekorBody is what the Rekor v2 server (rekor-tiles v2.3.0,
// internal/server/service.go) stores for a hashedrekord request: ToLogEntry,
// protojson.Marshal, then RFC 8785.
func rekorBody(t *testing.T, req *pb.HashedRekordRequestV002) []byte {
	t.Helper()
	reg, err := signature.NewAlgorithmRegistryConfig([]v1.PublicKeyDetails{
		v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256, v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256,
		v1.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256, v1.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
		v1.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384, v1.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512,
		v1.PublicKeyDetails_PKIX_ED25519, v1.PublicKeyDetails_PKIX_ED25519_PH,
	})
	if err != nil {
		t.Fatal(err)
	}
	entry, err := hashedrekord.ToLogEntry(req, reg)
	if err != nil {
		t.Fatalf("rekor-tiles refuses the request: %v", err)
	}
	raw, err := protojson.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func selfSigned(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCanonicalBodyMatchesRekorV2 signs DSSE envelopes with each key type
// Rekor v2 logs and checks that CanonicalBody and LeafHash are byte-identical
// to what rekor-tiles builds and hashes for the same request.
func TestCanonicalBodyMatchesRekorV2(t *testing.T) {
	rsaKey := func(bits int) crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	p256 := testP256(t, "cert key")
	mustEC := func(c elliptic.Curve) crypto.Signer {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tests := []struct {
		name   string
		signer crypto.Signer
		cert   []byte
	}{
		{name: "ECDSA P-256", signer: testP256(t, "rekor interop")},
		{name: "ECDSA P-384", signer: mustEC(elliptic.P384())},
		{name: "ECDSA P-521", signer: mustEC(elliptic.P521())},
		{name: "RSA 2048", signer: rsaKey(2048)},
		{name: "RSA 3072", signer: rsaKey(3072)},
		{name: "certificate", signer: p256, cert: selfSigned(t, p256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, []byte(`{"a":"b"}`), dsse.KeySigner{Signer: tt.signer})
			if err != nil {
				t.Fatal(err)
			}
			h, _ := dsse.HashFor(tt.signer.Public())
			d := h.New()
			d.Write(env.PAE())
			details, err := KeyDetails(tt.signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			pkixDER, err := x509.MarshalPKIXPublicKey(tt.signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			ours := HashedRekord{Digest: d.Sum(nil), Signature: env.Signatures[0].Sig, KeyDetails: details}
			verifier := &pb.Verifier{KeyDetails: v1.PublicKeyDetails(v1.PublicKeyDetails_value[details])}
			if tt.cert != nil {
				ours.CertificateDER = tt.cert
				verifier.Verifier = &pb.Verifier_X509Certificate{X509Certificate: &v1.X509Certificate{RawBytes: tt.cert}}
			} else {
				ours.PublicKeyDER = pkixDER
				verifier.Verifier = &pb.Verifier_PublicKey{PublicKey: &pb.PublicKey{RawBytes: pkixDER}}
			}
			sig := &pb.Signature{Content: ours.Signature, Verifier: verifier}
			want := rekorBody(t, &pb.HashedRekordRequestV002{Digest: ours.Digest, Signature: sig})
			got, err := ours.CanonicalBody()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("CanonicalBody differs from Rekor v2\n got: %s\nwant: %s", got, want)
			}
			wantLeaf, err := hashedrekord.ToEntryHash(ours.Digest, sig)
			if err != nil {
				t.Fatal(err)
			}
			if leaf := LeafHash(got); string(leaf[:]) != string(wantLeaf) {
				t.Fatalf("LeafHash %x, rekor-tiles %x", leaf, wantLeaf)
			}
			back, err := ParseHashedRekord(want)
			if err != nil {
				t.Fatalf("ParseHashedRekord(rekor body): %v", err)
			}
			if again, _ := back.CanonicalBody(); string(again) != string(want) {
				t.Fatal("parse/encode round trip changed the body")
			}
		})
	}
}

// TestNoteInteropRekorV2 checks checkpoints both ways against rekor-tiles'
// pkg/note (which sigstore-go uses) and, for Ed25519, x/mod/sumdb/note.
func TestNoteInteropRekorV2(t *testing.T) {
	const origin = "log.example"
	body := "log.example\n42\nqGdW5Ys6p7Bz8jJVtZeqbOw0IT7K3Ff3TMf6lvOkhk8=\n"
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"ECDSA P-256", testP256(t, "log key")},
		{"Ed25519", testEd25519("log key")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sv, err := signature.LoadSignerVerifier(tc.key, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			theirSigner, err := rekornote.NewNoteSigner(context.Background(), origin, sv)
			if err != nil {
				t.Fatal(err)
			}
			theirVerifier, err := rekornote.NewNoteVerifier(origin, sv)
			if err != nil {
				t.Fatal(err)
			}
			ourSigner, err := NewNoteSigner(origin, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			ourVerifier, err := NewNoteVerifier(origin, tc.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if ourSigner.KeyHash() != theirSigner.KeyHash() || ourVerifier.KeyHash() != theirVerifier.KeyHash() {
				t.Fatalf("key hash %08x, rekor-tiles %08x", ourSigner.KeyHash(), theirSigner.KeyHash())
			}
			ours, err := note.Sign(&note.Note{Text: body}, ourSigner)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := note.Open(ours, note.VerifierList(theirVerifier)); err != nil {
				t.Fatalf("rekor-tiles cannot verify our checkpoint: %v", err)
			}
			theirs, err := note.Sign(&note.Note{Text: body}, theirSigner)
			if err != nil {
				t.Fatal(err)
			}
			c, err := VerifyCheckpoint(theirs, ourVerifier)
			if err != nil {
				t.Fatalf("we cannot verify rekor-tiles' checkpoint: %v", err)
			}
			if c.Origin != origin || c.Size != 42 {
				t.Fatalf("checkpoint %+v", c)
			}
			if pub, ok := tc.key.Public().(ed25519.PublicKey); ok {
				vkey, err := note.NewEd25519VerifierKey(origin, pub)
				if err != nil {
					t.Fatal(err)
				}
				std, err := note.NewVerifier(vkey)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := note.Open(ours, note.VerifierList(std)); err != nil {
					t.Fatalf("x/mod/sumdb/note cannot verify our Ed25519 checkpoint: %v", err)
				}
			}
		})
	}
}
