package verify_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/stellaops/stellad/kit/verify"
)

// TestKitBundleGolden verifies the golden bundle that kit/bundle (the code the
// daemon builds bundles with) produces, against its golden trusted root. The
// signer key and artifact digest are read from the bundle itself (the logged
// body and the statement), so this checks format agreement, not trust.
func TestKitBundleGolden(t *testing.T) {
	b, err := os.ReadFile("../bundle/testdata/bundle.golden")
	if err != nil {
		t.Skipf("kit/bundle golden files not present: %v", err)
	}
	tr, err := os.ReadFile("../bundle/testdata/trusted_root.golden")
	if err != nil {
		t.Skipf("kit/bundle golden trusted root not present: %v", err)
	}
	var doc struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				CanonicalizedBody string `json:"canonicalizedBody"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
		DsseEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.VerificationMaterial.TlogEntries) == 0 {
		t.Fatalf("golden bundle: %v", err)
	}
	body, _ := base64.StdEncoding.DecodeString(doc.VerificationMaterial.TlogEntries[0].CanonicalizedBody)
	var entry struct {
		Spec struct {
			HashedRekordV002 struct {
				Signature struct {
					Verifier struct {
						PublicKey struct {
							RawBytes []byte `json:"rawBytes"`
						} `json:"publicKey"`
					} `json:"verifier"`
				} `json:"signature"`
			} `json:"hashedRekordV002"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(body, &entry); err != nil {
		t.Fatalf("golden body: %v", err)
	}
	key, err := x509.ParsePKIXPublicKey(entry.Spec.HashedRekordV002.Signature.Verifier.PublicKey.RawBytes)
	if err != nil {
		t.Fatalf("golden body key: %v", err)
	}
	payload, _ := base64.StdEncoding.DecodeString(doc.DsseEnvelope.Payload)
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || len(st.Subject) == 0 {
		t.Fatalf("golden statement: %v", err)
	}
	digest, err := hex.DecodeString(st.Subject[0].Digest["sha256"])
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Verify(b, verify.Options{TrustedRoot: tr, Key: key, ArtifactDigest: digest})
	if err != nil {
		t.Fatalf("kit/verify refuses kit/bundle's golden bundle: %v", err)
	}
	if res.LogOrigin != "localhost" {
		t.Errorf("origin %q", res.LogOrigin)
	}
}
