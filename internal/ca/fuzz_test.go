package ca_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/refusal"
)

// FuzzDecodeRequest feeds DecodeRequest arbitrary bodies: it must never
// panic, must refuse with one of the package's codes, and whatever it accepts
// must carry a key the CA certifies and survive VerifyPossession.
func FuzzDecodeRequest(f *testing.F) {
	key := newP256(f)
	h := sha256.Sum256([]byte("alice@example.org"))
	proof, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkRequest("ECDSA", pemOf(f, key.Public()), proof))
	f.Add(csrRequest(f, key, true))
	f.Add(csrRequest(f, key, false))
	f.Add([]byte(`{"credentials":{"oidc_identity_token":"x"},"public_key_request":{"public_key":{"algorithm":2,"content":""},"proof_of_possession":"AA"}}`))
	f.Add([]byte(`{"certificateSigningRequest":null}`))
	f.Add([]byte(`{"publicKeyRequest":{"publicKey":{"algorithm":"ECDSA","content":"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"},"proofOfPossession":"AA=="}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	codes := map[string]bool{ca.CodeBadRequest: true, ca.CodeBadKey: true, ca.CodeProofFailed: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ca.DecodeRequest(body)
		if err != nil {
			var re *refusal.Error
			if !errors.As(err, &re) || !codes[re.Code] {
				t.Fatalf("DecodeRequest error is not a CA refusal: %v", err)
			}
			return
		}
		if req.PublicKey() == nil {
			t.Fatal("accepted request without a key")
		}
		if err := req.VerifyPossession("alice@example.org"); err != nil {
			var re *refusal.Error
			if !errors.As(err, &re) || !codes[re.Code] {
				t.Fatalf("VerifyPossession error is not a CA refusal: %v", err)
			}
		}
	})
}
