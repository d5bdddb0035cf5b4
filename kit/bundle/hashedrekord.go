package bundle

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/stellaops/stellad/kit/internal/strictjson"
)

// ErrUnsupportedKey is returned (wrapped) for a key Rekor v2 would not log
// or this package cannot use.
var ErrUnsupportedKey = errors.New("bundle: unsupported key")

// Key details names (sigstore common.v1.PublicKeyDetails) Rekor v2 accepts
// for hashedrekord entries.
const (
	KeyDetailsECDSAP256 = "PKIX_ECDSA_P256_SHA_256"
	KeyDetailsECDSAP384 = "PKIX_ECDSA_P384_SHA_384"
	KeyDetailsECDSAP521 = "PKIX_ECDSA_P521_SHA_512"
	KeyDetailsRSA2048   = "PKIX_RSA_PKCS1V15_2048_SHA256"
	KeyDetailsRSA3072   = "PKIX_RSA_PKCS1V15_3072_SHA256"
	KeyDetailsRSA4096   = "PKIX_RSA_PKCS1V15_4096_SHA256"
	KeyDetailsEd25519PH = "PKIX_ED25519_PH"
)

// hashAlgorithm maps key details to the hashedrekord data.algorithm name and
// digest length.
var hashAlgorithm = map[string]struct {
	name string
	size int
}{
	KeyDetailsECDSAP256: {"SHA2_256", 32},
	KeyDetailsECDSAP384: {"SHA2_384", 48},
	KeyDetailsECDSAP521: {"SHA2_512", 64},
	KeyDetailsRSA2048:   {"SHA2_256", 32},
	KeyDetailsRSA3072:   {"SHA2_256", 32},
	KeyDetailsRSA4096:   {"SHA2_256", 32},
	KeyDetailsEd25519PH: {"SHA2_512", 64},
}

// KeyDetails returns the Rekor v2 key details name for a DSSE signing key:
// PKIX_ECDSA_P256_SHA_256 (P-384, P-521 likewise) or
// PKIX_RSA_PKCS1V15_{2048,3072,4096}_SHA256. Ed25519 keys are refused with
// ErrUnsupportedKey: a hashedrekord entry needs a prehashed signature
// (Rekor v2 takes Ed25519 only as Ed25519ph), while DSSE Ed25519 signs the
// PAE itself, so such a signature can never be logged.
func KeyDetails(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyDetailsECDSAP256, nil
		case elliptic.P384():
			return KeyDetailsECDSAP384, nil
		case elliptic.P521():
			return KeyDetailsECDSAP521, nil
		}
		return "", fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048:
			return KeyDetailsRSA2048, nil
		case 3072:
			return KeyDetailsRSA3072, nil
		case 4096:
			return KeyDetailsRSA4096, nil
		}
		return "", fmt.Errorf("%w: RSA-%d", ErrUnsupportedKey, k.N.BitLen())
	case ed25519.PublicKey:
		return "", fmt.Errorf("%w: Ed25519 DSSE signatures are not prehashed; Rekor v2 logs Ed25519 only as Ed25519ph", ErrUnsupportedKey)
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// HashedRekord is a Rekor v2 hashedrekord v0.0.2 log entry. Digest is the
// hash the signature covers (for DSSE: of the PAE), with the hash function
// KeyDetails implies (SHA-256 for P-256 and RSA). Exactly one of
// PublicKeyDER (PKIX) and CertificateDER (X.509) is set.
type HashedRekord struct {
	Digest         []byte
	Signature      []byte
	PublicKeyDER   []byte
	CertificateDER []byte
	KeyDetails     string
}

func (h *HashedRekord) check() error {
	if len(h.Signature) == 0 {
		return errors.New("hashedrekord: empty signature")
	}
	alg, ok := hashAlgorithm[h.KeyDetails]
	if !ok {
		return fmt.Errorf("hashedrekord: keyDetails %q: %w", h.KeyDetails, ErrUnsupportedKey)
	}
	if len(h.Digest) != alg.size {
		return fmt.Errorf("hashedrekord: digest of %d bytes, %s needs %d", len(h.Digest), h.KeyDetails, alg.size)
	}
	if (len(h.PublicKeyDER) == 0) == (len(h.CertificateDER) == 0) {
		return errors.New("hashedrekord: need exactly one of public key and certificate")
	}
	return nil
}

// CanonicalBody returns the entry as the Rekor v2 server stores it: the
// protobuf JSON of Entry{kind: hashedrekord, apiVersion: 0.0.2} canonicalised
// by RFC 8785. The public key or certificate is not parsed here; the caller
// vouches that it matches KeyDetails (see KeyDetails).
func (h HashedRekord) CanonicalBody() ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	alg := hashAlgorithm[h.KeyDetails]
	n := 200 + 4*(len(h.Digest)+len(h.Signature)+len(h.PublicKeyDER)+len(h.CertificateDER))/3
	b := make([]byte, 0, n)
	b = append(b, `{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"`...)
	b = append(b, alg.name...)
	b = append(b, `","digest":`...)
	b = strictjson.AppendBase64(b, h.Digest)
	b = append(b, `},"signature":{"content":`...)
	b = strictjson.AppendBase64(b, h.Signature)
	b = append(b, `,"verifier":{"keyDetails":"`...)
	b = append(b, h.KeyDetails...)
	if len(h.PublicKeyDER) > 0 {
		b = append(b, `","publicKey":{"rawBytes":`...)
		b = strictjson.AppendBase64(b, h.PublicKeyDER)
	} else {
		b = append(b, `","x509Certificate":{"rawBytes":`...)
		b = strictjson.AppendBase64(b, h.CertificateDER)
	}
	return append(b, "}}}}}}"...), nil
}

// ParseHashedRekord decodes a canonical hashedrekord v0.0.2 body. It refuses
// anything CanonicalBody would not have written byte for byte (unknown or
// repeated fields, other kinds or versions, a digest algorithm that does not
// match keyDetails, non-canonical JSON), so a parsed entry re-encodes to the
// same leaf.
func ParseHashedRekord(body []byte) (*HashedRekord, error) {
	top, err := strictjson.ReadObject(body, "entry", "apiVersion", "kind", "spec")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	kind, err := strictjson.ReadString(top["kind"], "entry.kind")
	if err != nil || kind != "hashedrekord" {
		return nil, fmt.Errorf("hashedrekord: entry.kind: want hashedrekord (%v)", err)
	}
	ver, err := strictjson.ReadString(top["apiVersion"], "entry.apiVersion")
	if err != nil || ver != "0.0.2" {
		return nil, fmt.Errorf("hashedrekord: entry.apiVersion: want 0.0.2 (%v)", err)
	}
	spec, err := strictjson.ReadObject(top["spec"], "entry.spec", "hashedRekordV002")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	hr, err := strictjson.ReadObject(spec["hashedRekordV002"], "entry.spec.hashedRekordV002", "data", "signature")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	data, err := strictjson.ReadObject(hr["data"], "hashedRekordV002.data", "algorithm", "digest")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	sig, err := strictjson.ReadObject(hr["signature"], "hashedRekordV002.signature", "content", "verifier")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	ver2, err := strictjson.ReadObject(sig["verifier"], "signature.verifier", "keyDetails", "publicKey", "x509Certificate")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	var h HashedRekord
	if h.KeyDetails, err = strictjson.ReadString(ver2["keyDetails"], "verifier.keyDetails"); err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	alg, ok := hashAlgorithm[h.KeyDetails]
	if !ok {
		return nil, fmt.Errorf("hashedrekord: verifier.keyDetails %q: %w", h.KeyDetails, ErrUnsupportedKey)
	}
	algName, err := strictjson.ReadString(data["algorithm"], "data.algorithm")
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	if algName != alg.name {
		return nil, fmt.Errorf("hashedrekord: data.algorithm %q does not match keyDetails %s", algName, h.KeyDetails)
	}
	if h.Digest, err = readBytes(data["digest"], "data.digest"); err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	if h.Signature, err = readBytes(sig["content"], "signature.content"); err != nil {
		return nil, fmt.Errorf("hashedrekord: %w", err)
	}
	if raw, ok := ver2["publicKey"]; ok {
		pk, err := strictjson.ReadObject(raw, "verifier.publicKey", "rawBytes")
		if err != nil {
			return nil, fmt.Errorf("hashedrekord: %w", err)
		}
		if h.PublicKeyDER, err = readBytes(pk["rawBytes"], "publicKey.rawBytes"); err != nil {
			return nil, fmt.Errorf("hashedrekord: %w", err)
		}
	}
	if raw, ok := ver2["x509Certificate"]; ok {
		c, err := strictjson.ReadObject(raw, "verifier.x509Certificate", "rawBytes")
		if err != nil {
			return nil, fmt.Errorf("hashedrekord: %w", err)
		}
		if h.CertificateDER, err = readBytes(c["rawBytes"], "x509Certificate.rawBytes"); err != nil {
			return nil, fmt.Errorf("hashedrekord: %w", err)
		}
	}
	canon, err := h.CanonicalBody()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, body) {
		return nil, errors.New("hashedrekord: body is not in canonical form")
	}
	return &h, nil
}

// PublicKey parses PublicKeyDER, or the certificate's key when
// CertificateDER is set.
func (h *HashedRekord) PublicKey() (crypto.PublicKey, error) {
	if len(h.PublicKeyDER) > 0 {
		pub, err := x509.ParsePKIXPublicKey(h.PublicKeyDER)
		if err != nil {
			return nil, fmt.Errorf("hashedrekord: parsing public key: %w", err)
		}
		return pub, nil
	}
	c, err := x509.ParseCertificate(h.CertificateDER)
	if err != nil {
		return nil, fmt.Errorf("hashedrekord: parsing certificate: %w", err)
	}
	return c.PublicKey, nil
}

// LeafHash returns the RFC 6962 leaf hash of an entry body:
// SHA-256(0x00 || body). Its hex form is the entry's uuid.
func LeafHash(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// readBytes decodes a JSON string holding base64 (either alphabet, padding
// optional, as protobuf JSON allows) and refuses an empty value.
func readBytes(raw []byte, what string) ([]byte, error) {
	if raw == nil {
		return nil, fmt.Errorf("%s: missing", what)
	}
	s, err := strictjson.ReadString(raw, what)
	if err != nil {
		return nil, err
	}
	b, err := strictjson.DecodeBase64(s, what)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty", what)
	}
	return b, nil
}
