package dsse

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

func TestSignVerifyKeyTypes(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		signer  crypto.Signer
		wantErr error
	}{
		{name: "ECDSA P-256", signer: testECDSA(t, elliptic.P256(), "a")},
		{name: "ECDSA P-384", signer: testECDSA(t, elliptic.P384(), "b")},
		{name: "ECDSA P-521", signer: testECDSA(t, elliptic.P521(), "c")},
		{name: "RSA 2048", signer: rsaKey},
		{name: "Ed25519", signer: testEd25519("d")},
		{name: "ECDSA P-224 refused", signer: p224, wantErr: ErrUnsupportedKey},
	}
	payload := []byte(`{"hello":"world"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Sign(rand.Reader, PayloadTypeInToto, payload, KeySigner{KeyID: "k", Signer: tt.signer})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sign error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			pae := e.PAE()
			if err := VerifySignature(tt.signer.Public(), pae, e.Signatures[0].Sig); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			bad := append([]byte(nil), e.Signatures[0].Sig...)
			bad[len(bad)/2] ^= 1
			if err := VerifySignature(tt.signer.Public(), pae, bad); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("flipped signature: %v", err)
			}
			other := append([]byte(nil), pae...)
			other[len(other)-2] ^= 1
			if err := VerifySignature(tt.signer.Public(), other, e.Signatures[0].Sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("altered PAE: %v", err)
			}
			if _, err := Verify(e, 1, tt.signer.Public()); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestSignECDSAHashPerCurve(t *testing.T) {
	// A P-384 signature must be over SHA-384 of the PAE, not SHA-256.
	k := testECDSA(t, elliptic.P384(), "hash check")
	pae := PAE("t", []byte("x"))
	sig, err := SignPAE(rand.Reader, k, pae)
	if err != nil {
		t.Fatal(err)
	}
	d := crypto.SHA384.New()
	d.Write(pae)
	if !ecdsa.VerifyASN1(&k.PublicKey, d.Sum(nil), sig) {
		t.Fatal("P-384 signature is not over SHA-384(PAE)")
	}
}

func TestVerifyThreshold(t *testing.T) {
	k1 := testECDSA(t, elliptic.P256(), "k1")
	k2 := testECDSA(t, elliptic.P256(), "k2")
	k3 := testEd25519("k3")
	outsider := testECDSA(t, elliptic.P256(), "outsider")
	payload := []byte("payload")
	// k1 signs with k2's keyid, and k2 with none: keyids must not matter.
	e, err := Sign(rand.Reader, "t", payload,
		KeySigner{KeyID: "k2", Signer: k1}, KeySigner{Signer: k2}, KeySigner{KeyID: "x", Signer: outsider})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		threshold int
		keys      []crypto.PublicKey
		want      []AcceptedKey
		wantErr   *ThresholdError
	}{
		{name: "1 of 1", threshold: 1, keys: []crypto.PublicKey{k1.Public()}, want: []AcceptedKey{{0, 0}}},
		{name: "2 of 3", threshold: 2, keys: []crypto.PublicKey{k3.Public(), k2.Public(), k1.Public()}, want: []AcceptedKey{{1, 1}, {2, 0}}},
		{name: "2 of 2, one missing", threshold: 2, keys: []crypto.PublicKey{k1.Public(), k3.Public()}, want: []AcceptedKey{{0, 0}}, wantErr: &ThresholdError{Need: 2, Got: 1}},
		{name: "same key twice counts once", threshold: 2, keys: []crypto.PublicKey{k1.Public(), k1.Public()}, want: []AcceptedKey{{0, 0}}, wantErr: &ThresholdError{Need: 2, Got: 1}},
		{name: "equal key as another value", threshold: 2, keys: []crypto.PublicKey{k1.Public(), &ecdsa.PublicKey{Curve: k1.Curve, X: k1.X, Y: k1.Y}}, want: []AcceptedKey{{0, 0}}, wantErr: &ThresholdError{Need: 2, Got: 1}},
		{name: "no trusted key signed", threshold: 1, keys: []crypto.PublicKey{k3.Public()}, wantErr: &ThresholdError{Need: 1, Got: 0}},
		{name: "no keys", threshold: 1, wantErr: &ThresholdError{Need: 1, Got: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(e, tt.threshold, tt.keys...)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.wantErr != nil {
				var te *ThresholdError
				if !errors.As(err, &te) || *te != *tt.wantErr {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("accepted = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("accepted = %v, want %v", got, tt.want)
				}
			}
		})
	}
	if _, err := Verify(e, 0, k1.Public()); err == nil {
		t.Fatal("threshold 0 accepted")
	}
}

func TestSignErrors(t *testing.T) {
	if _, err := Sign(rand.Reader, "t", nil); err == nil {
		t.Fatal("Sign without signers succeeded")
	}
	if _, err := Sign(rand.Reader, "", nil, KeySigner{Signer: testEd25519("x")}); err == nil {
		t.Fatal("Sign with empty payloadType succeeded")
	}
	if _, err := Sign(rand.Reader, "t", nil, KeySigner{}); err == nil {
		t.Fatal("Sign with nil signer succeeded")
	}
}
