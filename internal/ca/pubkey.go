package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
)

// RSA modulus sizes the CA certifies. The upper bound keeps the cost of a
// proof-of-possession check bounded for an unauthenticated body.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// checkPublicKey accepts the keys the CA certifies: ECDSA on P-256 or P-384,
// RSA of 2048 to 4096 bits, and Ed25519. Anything else is a CodeBadKey
// refusal.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return badKey("empty ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return badKey("ECDSA curve %s is not accepted; want P-256 or P-384", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return badKey("empty RSA key")
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return badKey("RSA key of %d bits is not accepted; want %d to %d bits", bits, minRSABits, maxRSABits)
		}
		return nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return badKey("Ed25519 key of %d bytes", len(k))
		}
		return nil
	case nil:
		return badKey("no public key")
	}
	return badKey("public key type %T is not accepted; want ECDSA P-256/P-384, RSA or Ed25519", pub)
}

// keyAlgorithm names pub's family the way Fulcio's PublicKeyAlgorithm enum
// does ("ECDSA", "RSA_PSS", "ED25519").
func keyAlgorithm(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA_PSS"
	case ed25519.PublicKey:
		return "ED25519"
	}
	return ""
}
