package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestKeyDetails(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	r1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	r2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name    string
		pub     crypto.PublicKey
		want    string
		wantErr error
	}{
		{"P-256", testP256(t, "x").Public(), KeyDetailsECDSAP256, nil},
		{"P-384", p384.Public(), KeyDetailsECDSAP384, nil},
		{"RSA 2048", r2048.Public(), KeyDetailsRSA2048, nil},
		{"RSA 1024", r1024.Public(), "", ErrUnsupportedKey},
		{"P-224", p224.Public(), "", ErrUnsupportedKey},
		{"Ed25519 (pure, refused by Rekor v2 hashedrekord)", testEd25519("x").Public(), "", ErrUnsupportedKey},
		{"nil", nil, "", ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeyDetails(tt.pub)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("KeyDetails = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCanonicalBodyGolden(t *testing.T) {
	f := fixture(t)
	golden(t, "hashedrekord.golden", f.body)
	h, err := ParseHashedRekord(f.body)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := h.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("PublicKey = %T", pub)
	}
	want := sha256.Sum256(append([]byte{0}, f.body...))
	if LeafHash(f.body) != want {
		t.Fatal("LeafHash is not SHA-256(0x00 || body)")
	}
}

func TestHashedRekordErrors(t *testing.T) {
	f := fixture(t)
	tests := []struct {
		name string
		h    HashedRekord
	}{
		{"empty signature", HashedRekord{Digest: f.hr.Digest, PublicKeyDER: f.hr.PublicKeyDER, KeyDetails: KeyDetailsECDSAP256}},
		{"short digest", HashedRekord{Digest: f.hr.Digest[:31], Signature: f.hr.Signature, PublicKeyDER: f.hr.PublicKeyDER, KeyDetails: KeyDetailsECDSAP256}},
		{"P-384 with a SHA-256 digest", HashedRekord{Digest: f.hr.Digest, Signature: f.hr.Signature, PublicKeyDER: f.hr.PublicKeyDER, KeyDetails: KeyDetailsECDSAP384}},
		{"no verifier", HashedRekord{Digest: f.hr.Digest, Signature: f.hr.Signature, KeyDetails: KeyDetailsECDSAP256}},
		{"two verifiers", HashedRekord{Digest: f.hr.Digest, Signature: f.hr.Signature, PublicKeyDER: f.hr.PublicKeyDER, CertificateDER: []byte{1}, KeyDetails: KeyDetailsECDSAP256}},
		{"pure Ed25519", HashedRekord{Digest: f.hr.Digest, Signature: f.hr.Signature, PublicKeyDER: f.hr.PublicKeyDER, KeyDetails: "PKIX_ED25519"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.h.CanonicalBody(); err == nil {
				t.Fatal("CanonicalBody succeeded")
			}
		})
	}
	b := string(f.body)
	parse := []struct {
		name, in, wantErr string
	}{
		{"not canonical (space)", strings.Replace(b, `{"apiVersion"`, `{ "apiVersion"`, 1), "not in canonical form"},
		{"not canonical (member order)", strings.Replace(b, `"apiVersion":"0.0.2","kind":"hashedrekord"`, `"kind":"hashedrekord","apiVersion":"0.0.2"`, 1), "not in canonical form"},
		{"other kind", strings.Replace(b, `"kind":"hashedrekord"`, `"kind":"dsse"`, 1), "entry.kind"},
		{"other version", strings.Replace(b, `"0.0.2"`, `"0.0.1"`, 1), "entry.apiVersion"},
		{"algorithm mismatch", strings.Replace(b, `SHA2_256`, `SHA2_384`, 1), "does not match keyDetails"},
		{"unknown field", strings.Replace(b, `"kind":"hashedrekord"`, `"kind":"hashedrekord","x":1`, 1), `unknown field "x"`},
		{"duplicate field", strings.Replace(b, `"kind":"hashedrekord"`, `"kind":"hashedrekord","kind":"hashedrekord"`, 1), `duplicate field "kind"`},
		{"unknown key details", strings.Replace(b, KeyDetailsECDSAP256, "PKIX_ED25519", 1), "keyDetails"},
		{"trailing space", b + " ", "not in canonical form"},
		{"trailing value", b + "{}", "trailing data"},
	}
	for _, tt := range parse {
		t.Run("parse "+tt.name, func(t *testing.T) {
			_, err := ParseHashedRekord([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseHashedRekord error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
