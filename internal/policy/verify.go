package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// releaseKey is a trusted scanner release key with its identifier: the
// SHA-256 of its PKIX DER encoding, in hex (what the audit trail records).
type releaseKey struct {
	pub crypto.PublicKey
	id  string
}

// minRSABits is the smallest RSA modulus accepted as a release key.
const minRSABits = 2048

// newReleaseKey checks that pub is a supported key type and computes its id.
func newReleaseKey(pub crypto.PublicKey) (releaseKey, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return releaseKey{}, fmt.Errorf("ECDSA curve %s is not P-256 or P-384", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return releaseKey{}, fmt.Errorf("Ed25519 key of %d bytes", len(k))
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return releaseKey{}, fmt.Errorf("RSA key of %d bits is below %d", k.N.BitLen(), minRSABits)
		}
	default:
		return releaseKey{}, fmt.Errorf("unsupported key type %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return releaseKey{}, fmt.Errorf("encoding key: %w", err)
	}
	sum := sha256.Sum256(der)
	return releaseKey{pub: pub, id: hex.EncodeToString(sum[:])}, nil
}

// KeyID returns the identifier the checker records for a release key: the
// lowercase hex SHA-256 of its PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	k, err := newReleaseKey(pub)
	if err != nil {
		return "", err
	}
	return k.id, nil
}

// hashesFor lists the hashes a signature by pub may be computed over, the
// preferred first: the curve's own hash for ECDSA (P-384 with SHA-384) and
// SHA-256, which cosign uses for every key it generates; SHA-256 for RSA.
func hashesFor(pub crypto.PublicKey) []crypto.Hash {
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P384() {
		return []crypto.Hash{crypto.SHA384, crypto.SHA256}
	}
	return []crypto.Hash{crypto.SHA256}
}

// verifyMessage reports whether sig is a signature by pub over msg: ECDSA
// (ASN.1 DER) or RSA (PKCS #1 v1.5 or PSS) over a hash of msg, or Ed25519
// over msg itself.
func verifyMessage(pub crypto.PublicKey, msg, sig []byte) bool {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return ed25519.Verify(k, msg, sig)
	}
	for _, h := range hashesFor(pub) {
		hh := h.New()
		hh.Write(msg)
		if verifyDigest(pub, h, hh.Sum(nil), sig) {
			return true
		}
	}
	return false
}

// verifyDigest reports whether sig is an ECDSA or RSA signature by pub over
// digest, a hash of kind h. Ed25519 cannot verify a digest: false.
func verifyDigest(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	if len(digest) != h.Size() {
		return false
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, h, digest, sig) == nil {
			return true
		}
		return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	}
	return false
}

// findKey returns the first trusted key whose check accepts.
func findKey(keys []releaseKey, check func(pub crypto.PublicKey) bool) (releaseKey, bool) {
	for _, k := range keys {
		if check(k.pub) {
			return k, true
		}
	}
	return releaseKey{}, false
}
