package dsse

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
)

// ErrUnsupportedKey is returned (wrapped) for a key type or curve this
// package does not sign or verify with.
var ErrUnsupportedKey = errors.New("dsse: unsupported key")

// ErrBadSignature is returned (wrapped) by VerifySignature when a signature
// does not verify.
var ErrBadSignature = errors.New("dsse: signature does not verify")

// HashFor returns the hash that signatures by pub are computed over:
// SHA-256, SHA-384 or SHA-512 for ECDSA P-256, P-384 or P-521, SHA-256 for
// RSA, and 0 for Ed25519, which signs the message itself.
func HashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, nil
		case elliptic.P384():
			return crypto.SHA384, nil
		case elliptic.P521():
			return crypto.SHA512, nil
		}
		return 0, fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		return crypto.SHA256, nil
	case ed25519.PublicKey:
		return 0, nil
	}
	return 0, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// SignPAE signs pae with s: ECDSA over the curve's hash of pae (ASN.1 DER
// signature), RSA PKCS#1 v1.5 over SHA-256 of pae, Ed25519 over pae itself.
// s may be any crypto.Signer (file key, PKCS#11); rand is passed through.
func SignPAE(rand io.Reader, s crypto.Signer, pae []byte) ([]byte, error) {
	pub := s.Public()
	h, err := HashFor(pub)
	if err != nil {
		return nil, err
	}
	msg := pae
	if h != 0 {
		hh := h.New()
		hh.Write(pae)
		msg = hh.Sum(nil)
	}
	var opts crypto.SignerOpts = h
	sig, err := s.Sign(rand, msg, opts)
	if err != nil {
		return nil, fmt.Errorf("dsse: signing: %w", err)
	}
	return sig, nil
}

// KeySigner pairs a crypto.Signer with the keyid written next to its
// signature (empty for none).
type KeySigner struct {
	KeyID  string
	Signer crypto.Signer
}

// Sign returns an envelope over payload with one signature per signer, in
// the order given. It fails if there is no signer or any signature fails.
func Sign(rand io.Reader, payloadType string, payload []byte, signers ...KeySigner) (*Envelope, error) {
	if payloadType == "" {
		return nil, errors.New("dsse: sign: empty payloadType")
	}
	if len(signers) == 0 {
		return nil, errors.New("dsse: sign: no signers")
	}
	pae := PAE(payloadType, payload)
	e := &Envelope{PayloadType: payloadType, Payload: payload, Signatures: make([]Signature, len(signers))}
	for i, ks := range signers {
		if ks.Signer == nil {
			return nil, fmt.Errorf("dsse: sign: signer %d is nil", i)
		}
		sig, err := SignPAE(rand, ks.Signer, pae)
		if err != nil {
			return nil, fmt.Errorf("signer %d (keyid %q): %w", i, ks.KeyID, err)
		}
		e.Signatures[i] = Signature{KeyID: ks.KeyID, Sig: sig}
	}
	return e, nil
}

// VerifySignature checks sig over pae with pub, using the algorithm SignPAE
// uses for that key type. It returns nil, ErrUnsupportedKey or
// ErrBadSignature (wrapped).
func VerifySignature(pub crypto.PublicKey, pae, sig []byte) error {
	h, err := HashFor(pub)
	if err != nil {
		return err
	}
	var digest []byte
	if h != 0 {
		hh := h.New()
		hh.Write(pae)
		digest = hh.Sum(nil)
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	case ed25519.PublicKey:
		ok = len(k) == ed25519.PublicKeySize && ed25519.Verify(k, pae, sig)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// AcceptedKey records that keys[Index] verified Signatures[SignatureIndex].
type AcceptedKey struct {
	Index          int
	SignatureIndex int
}

// ThresholdError reports that fewer distinct trusted keys than Need
// verified a signature of the envelope.
type ThresholdError struct {
	Need, Got int
}

// Error implements error.
func (e *ThresholdError) Error() string {
	return fmt.Sprintf("dsse: %d of %d required keys verified", e.Got, e.Need)
}

// Verify checks e against the trusted keys and succeeds when at least
// threshold DISTINCT keys each verify at least one signature. Keyids are
// ignored: every key is tried against every signature, and a key listed twice
// counts once. It returns the accepted keys (also alongside a
// *ThresholdError when short), or an error for threshold < 1.
func Verify(e *Envelope, threshold int, keys ...crypto.PublicKey) ([]AcceptedKey, error) {
	if threshold < 1 {
		return nil, fmt.Errorf("dsse: verify: threshold %d < 1", threshold)
	}
	if e == nil || len(e.Signatures) == 0 {
		return nil, &ThresholdError{Need: threshold}
	}
	pae := e.PAE()
	var accepted []AcceptedKey
	type equaler interface{ Equal(crypto.PublicKey) bool }
keys:
	for i, k := range keys {
		if k == nil {
			continue
		}
		for _, a := range accepted {
			if eq, ok := keys[a.Index].(equaler); ok && eq.Equal(k) {
				continue keys
			}
		}
		for j, s := range e.Signatures {
			if VerifySignature(k, pae, s.Sig) == nil {
				accepted = append(accepted, AcceptedKey{Index: i, SignatureIndex: j})
				break
			}
		}
	}
	if len(accepted) < threshold {
		return accepted, &ThresholdError{Need: threshold, Got: len(accepted)}
	}
	return accepted, nil
}
