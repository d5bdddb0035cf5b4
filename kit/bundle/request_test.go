package bundle

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	v1 "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	pb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"google.golang.org/protobuf/encoding/protojson"
)

// cosignRequest builds the create-entry request the Rekor v2 client that
// cosign v3 uses sends (rekor-tiles pkg/client/write: protojson of
// CreateEntryRequest).
func cosignRequest(t *testing.T, digest, sig []byte, details string, pkixDER, certDER []byte) []byte {
	t.Helper()
	verifier := &pb.Verifier{KeyDetails: v1.PublicKeyDetails(v1.PublicKeyDetails_value[details])}
	if certDER != nil {
		verifier.Verifier = &pb.Verifier_X509Certificate{X509Certificate: &v1.X509Certificate{RawBytes: certDER}}
	} else {
		verifier.Verifier = &pb.Verifier_PublicKey{PublicKey: &pb.PublicKey{RawBytes: pkixDER}}
	}
	req := &pb.CreateEntryRequest{Spec: &pb.CreateEntryRequest_HashedRekordRequestV002{
		HashedRekordRequestV002: &pb.HashedRekordRequestV002{Digest: digest, Signature: &pb.Signature{Content: sig, Verifier: verifier}}}}
	out, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHashedRekordRequest parses requests as cosign sends them, verifies
// their signatures and checks that the leaf is the one Rekor v2 would log.
func TestHashedRekordRequest(t *testing.T) {
	msg := []byte("artifact")
	d256 := sha256.Sum256(msg)
	d512 := sha512.Sum512(msg)
	p256 := testP256(t, "writer")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(s crypto.Signer, d []byte, o crypto.SignerOpts) []byte {
		sig, err := s.Sign(rand.Reader, d, o)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	der := func(pub crypto.PublicKey) []byte {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		digest  []byte
		sig     []byte
		details string
		pub     []byte
		cert    []byte
		wantErr error
	}{
		{name: "ECDSA P-256 key", digest: d256[:], sig: sign(p256, d256[:], crypto.SHA256), details: KeyDetailsECDSAP256, pub: der(p256.Public())},
		{name: "certificate", digest: d256[:], sig: sign(p256, d256[:], crypto.SHA256), details: KeyDetailsECDSAP256, cert: selfSigned(t, p256)},
		{name: "RSA 2048", digest: d256[:], sig: sign(rsaKey, d256[:], crypto.SHA256), details: KeyDetailsRSA2048, pub: der(rsaKey.Public())},
		{name: "Ed25519ph", digest: d512[:], sig: sign(edPriv, d512[:], &ed25519.Options{Hash: crypto.SHA512}), details: KeyDetailsEd25519PH, pub: der(edPub)},
		{name: "signature over another digest", digest: d256[:], sig: sign(p256, make([]byte, 32), crypto.SHA256), details: KeyDetailsECDSAP256, pub: der(p256.Public()), wantErr: ErrBadSignature},
		{name: "key details lie", digest: d256[:], sig: sign(rsaKey, d256[:], crypto.SHA256), details: KeyDetailsECDSAP256, pub: der(rsaKey.Public()), wantErr: ErrUnsupportedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := cosignRequest(t, tt.digest, tt.sig, tt.details, tt.pub, tt.cert)
			h, err := ParseHashedRekordRequest(req)
			if err != nil {
				t.Fatalf("ParseHashedRekordRequest: %v", err)
			}
			err = h.VerifySignature()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("VerifySignature = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			body, err := h.CanonicalBody()
			if err != nil {
				t.Fatal(err)
			}
			var rreq pb.CreateEntryRequest
			if err := protojson.Unmarshal(req, &rreq); err != nil {
				t.Fatal(err)
			}
			if want := rekorBody(t, rreq.GetHashedRekordRequestV002()); string(body) != string(want) {
				t.Fatalf("leaf differs from Rekor v2's\n got: %s\nwant: %s", body, want)
			}
		})
	}
}

func TestHashedRekordRequestRefused(t *testing.T) {
	d := sha256.Sum256([]byte("x"))
	good := string(cosignRequest(t, d[:], []byte{1}, KeyDetailsECDSAP256, []byte{2}, nil))
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "request"},
		{"not an object", `[]`, "request"},
		{"unknown member", `{"hashedRekordRequestV002":{},"x":1}`, "x"},
		{"dsse", `{"dsseRequestV002":{}}`, "dsseRequestV002"},
		{"nothing", `{}`, "missing"},
		{"short digest", `{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AQ==","verifier":{"publicKey":{"rawBytes":"Ag=="},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`, "digest"},
		{"unknown key details", strings.Replace(good, KeyDetailsECDSAP256, "PKIX_FANCY", 1), "PKIX_FANCY"},
		{"both verifiers", `{"hashedRekordRequestV002":{"digest":"` + b64(d[:]) + `","signature":{"content":"AQ==","verifier":{"publicKey":{"rawBytes":"Ag=="},"x509Certificate":{"rawBytes":"Ag=="},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`, "exactly one"},
		{"duplicate key", `{"hashedRekordRequestV002":{},"hashedRekordRequestV002":{}}`, "duplicate"},
		{"trailing", good + `{}`, "request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHashedRekordRequest([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to name %q", err, tt.want)
			}
		})
	}
	if _, err := ParseHashedRekordRequest(make([]byte, MaxRequestSize+1)); err == nil {
		t.Fatal("oversized request accepted")
	}
}

func b64(b []byte) string {
	return base64.StdEncoding.EncodeToString(b)
}

func FuzzParseHashedRekordRequest(f *testing.F) {
	d := sha256.Sum256([]byte("x"))
	f.Add([]byte(`{"hashedRekordRequestV002":{"digest":"` + b64(d[:]) + `","signature":{"content":"AQ==","verifier":{"publicKey":{"rawBytes":"Ag=="},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`))
	f.Add([]byte(`{"dsseRequestV002":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHashedRekordRequest(data)
		if err != nil {
			return
		}
		_ = h.VerifySignature()
		body, err := h.CanonicalBody()
		if err != nil {
			t.Fatalf("a parsed request has no canonical body: %v", err)
		}
		back, err := ParseHashedRekord(body)
		if err != nil {
			t.Fatalf("the canonical body of a parsed request does not parse: %v", err)
		}
		if again, _ := back.CanonicalBody(); string(again) != string(body) {
			t.Fatal("canonical body not stable")
		}
	})
}
