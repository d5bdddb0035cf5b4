package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// MaxRequestSize bounds a Rekor v2 create-entry request body.
const MaxRequestSize = 128 << 10

// ErrBadSignature is returned (wrapped) by HashedRekord.VerifySignature when
// the signature does not verify over the digest with the entry's key.
var ErrBadSignature = errors.New("bundle: signature does not verify")

// ParseHashedRekordRequest decodes the body of a Rekor v2
// POST /api/v2/log/entries request carrying a hashedrekord v0.0.2 entry, as
// cosign v3 sends it (protobuf JSON of rekor.v2.CreateEntryRequest):
//
//	{"hashedRekordRequestV002": {"digest": B64, "signature": {"content": B64,
//	  "verifier": {"publicKey": {"rawBytes": B64} | "x509Certificate": {"rawBytes": B64},
//	  "keyDetails": NAME}}}}
//
// Field names are the lowerCamel JSON names; unknown fields, duplicate keys,
// trailing data, other entry kinds (dsseRequestV002: this log takes DSSE as a
// hashedrekord of its PAE, as cosign sends it), unsupported key details and
// digests of the wrong length are refused, naming the field. It does not
// verify the signature: see VerifySignature.
//
// Written by hand rather than with the rekor-tiles request types: those live
// in a package that also holds its gRPC service, which would link gRPC into
// the daemon for one small JSON object.
func ParseHashedRekordRequest(data []byte) (*HashedRekord, error) {
	if len(data) > MaxRequestSize {
		return nil, fmt.Errorf("hashedrekord request: %d bytes exceeds %d", len(data), MaxRequestSize)
	}
	top, err := strictjson.ReadObject(data, "request", "hashedRekordRequestV002", "dsseRequestV002")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	if _, ok := top["dsseRequestV002"]; ok {
		return nil, errors.New("hashedrekord request: dsseRequestV002 entries are not accepted; log a DSSE envelope as a hashedrekord of its PAE")
	}
	raw, ok := top["hashedRekordRequestV002"]
	if !ok {
		return nil, errors.New("hashedrekord request: hashedRekordRequestV002: missing")
	}
	hr, err := strictjson.ReadObject(raw, "hashedRekordRequestV002", "digest", "signature")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	sig, err := strictjson.ReadObject(hr["signature"], "hashedRekordRequestV002.signature", "content", "verifier")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	ver, err := strictjson.ReadObject(sig["verifier"], "signature.verifier", "keyDetails", "publicKey", "x509Certificate")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	var h HashedRekord
	if h.KeyDetails, err = strictjson.ReadString(ver["keyDetails"], "verifier.keyDetails"); err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	if h.Digest, err = readBytes(hr["digest"], "hashedRekordRequestV002.digest"); err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	if h.Signature, err = readBytes(sig["content"], "signature.content"); err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	if raw, ok := ver["publicKey"]; ok {
		pk, err := strictjson.ReadObject(raw, "verifier.publicKey", "rawBytes")
		if err != nil {
			return nil, fmt.Errorf("hashedrekord request: %w", err)
		}
		if h.PublicKeyDER, err = readBytes(pk["rawBytes"], "publicKey.rawBytes"); err != nil {
			return nil, fmt.Errorf("hashedrekord request: %w", err)
		}
	}
	if raw, ok := ver["x509Certificate"]; ok {
		c, err := strictjson.ReadObject(raw, "verifier.x509Certificate", "rawBytes")
		if err != nil {
			return nil, fmt.Errorf("hashedrekord request: %w", err)
		}
		if h.CertificateDER, err = readBytes(c["rawBytes"], "x509Certificate.rawBytes"); err != nil {
			return nil, fmt.Errorf("hashedrekord request: %w", err)
		}
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("hashedrekord request: %w", err)
	}
	return &h, nil
}

// VerifySignature checks that the entry's key has the type and size its
// KeyDetails name and that Signature verifies over Digest with it: ECDSA
// (ASN.1 signature over the prehashed digest), RSA PKCS #1 v1.5 with SHA-256,
// or Ed25519ph (SHA-512 prehash), as Rekor v2 verifies hashedrekord
// requests. A certificate's validity is not checked (a log records what was
// signed; verifiers judge the certificate at the signing time). Errors wrap
// ErrUnsupportedKey or ErrBadSignature.
func (h *HashedRekord) VerifySignature() error {
	if err := h.check(); err != nil {
		return err
	}
	pub, err := h.PublicKey()
	if err != nil {
		return err
	}
	switch h.KeyDetails {
	case KeyDetailsEd25519PH:
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("%w: keyDetails %s with a %T key", ErrUnsupportedKey, h.KeyDetails, pub)
		}
		if err := ed25519.VerifyWithOptions(k, h.Digest, h.Signature, &ed25519.Options{Hash: crypto.SHA512}); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil
	}
	details, err := KeyDetails(pub)
	if err != nil {
		return err
	}
	if details != h.KeyDetails {
		return fmt.Errorf("%w: keyDetails %s but the key is %s", ErrUnsupportedKey, h.KeyDetails, details)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return fmt.Errorf("%w: curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		if !ecdsa.VerifyASN1(k, h.Digest, h.Signature) {
			return ErrBadSignature
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, h.Digest, h.Signature); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	return nil
}

// Certificate parses CertificateDER; it returns nil and no error when the
// entry names a bare public key.
func (h *HashedRekord) Certificate() (*x509.Certificate, error) {
	if len(h.CertificateDER) == 0 {
		return nil, nil
	}
	c, err := x509.ParseCertificate(h.CertificateDER)
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: parsing certificate: %w", err)
	}
	return c, nil
}

// MarshalEntry returns e as a Sigstore TransparencyLogEntry in protobuf JSON
// (the answer of Rekor v2's POST /api/v2/log/entries and the element of a
// bundle's tlogEntries): logIndex, logId.keyId, kindVersion, inclusionProof
// with the checkpoint envelope, and canonicalizedBody. The same inputs give
// the same bytes.
func MarshalEntry(e Entry) ([]byte, error) {
	if (e.Kind != "" && e.Kind != KindHashedRekord) || (e.Version != "" && e.Version != VersionHashedRekord) {
		return nil, fmt.Errorf("bundle: log entry kind %s/%s, want hashedrekord/0.0.2", e.Kind, e.Version)
	}
	if err := checkEntry(&e); err != nil {
		return nil, fmt.Errorf("bundle: log entry: %w", err)
	}
	b := make([]byte, 0, 256+len(e.Proof.Checkpoint)+4*len(e.Body)/3+48*len(e.Proof.Hashes))
	return appendEntry(b, &e), nil
}
