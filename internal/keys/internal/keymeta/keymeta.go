// Package keymeta holds what every key backend of internal/keys shares: the
// sentinel errors callers branch on, the Info record that List returns, and the
// key ID and algorithm names derived from a public key. It exists so that the
// backends and the dispatching package agree without importing one another.
package keymeta

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrNotFound reports that the key a URI names does not exist (no file, no
// matching private key object in the token).
var ErrNotFound = errors.New("key not found")

// ErrExists reports that Generate refused to replace a key that already exists.
var ErrExists = errors.New("key already exists")

// ErrPKCS11Unavailable is returned for pkcs11: URIs by a binary built with
// CGO_ENABLED=0: PKCS#11 modules are C libraries loaded through cgo.
var ErrPKCS11Unavailable = errors.New("pkcs11: URIs need a stellad built with cgo (CGO_ENABLED=1); this binary was built without it")

// Info describes one key found by List.
type Info struct {
	// URI opens the key (without any pin-value).
	URI string
	// KeyID is the lowercase hex SHA-256 of the public key's PKIX DER encoding.
	KeyID string
	// Algorithm names the key type, for example "ECDSA P-256"; see Algorithm.
	Algorithm string
}

// KeyID returns the lowercase hex SHA-256 of pub's PKIX (SubjectPublicKeyInfo)
// DER encoding, or an error when pub cannot be marshalled.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshalling public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Algorithm names pub's key type for display: "ECDSA P-256", "ECDSA P-384",
// "RSA 2048", "Ed25519", or "unknown" for anything else.
func Algorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	default:
		return "unknown"
	}
}

// AlgorithmECDSAP256 is Algorithm's name for the one key type stellad signs with.
const AlgorithmECDSAP256 = "ECDSA P-256"
