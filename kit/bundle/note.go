package bundle

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// noteAlgEd25519 is the signed-note signature type byte of Ed25519.
const noteAlgEd25519 = 1

// validOrigin reports whether name is a valid signed-note key name.
func validOrigin(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.ContainsFunc(name, unicode.IsSpace) && !strings.Contains(name, "+")
}

// LogID returns the identifier sigstore uses for a log key, as Rekor v2
// computes it: SHA-256 of the PKIX DER for ECDSA keys, and for Ed25519 keys
// SHA-256(origin || "\n" || 0x01 || key) (C2SP signed-note key ID). Its
// first 4 bytes are the checkpoint key hash.
func LogID(origin string, pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("bundle: log id: %w", err)
		}
		sum := sha256.Sum256(der)
		return sum[:], nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrUnsupportedKey, len(k))
		}
		h := sha256.New()
		h.Write([]byte(origin + "\n"))
		h.Write([]byte{noteAlgEd25519})
		h.Write(k)
		return h.Sum(nil), nil
	}
	return nil, fmt.Errorf("%w: log key %T", ErrUnsupportedKey, pub)
}

func noteKey(origin string, pub crypto.PublicKey) (uint32, error) {
	if !validOrigin(origin) {
		return 0, fmt.Errorf("bundle: invalid note origin %q", origin)
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve != elliptic.P256() {
		return 0, fmt.Errorf("%w: checkpoint key must be ECDSA P-256 or Ed25519, not %s", ErrUnsupportedKey, k.Curve.Params().Name)
	}
	id, err := LogID(origin, pub)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(id), nil
}

type noteSigner struct {
	name string
	hash uint32
	s    crypto.Signer
	ed   bool
}

func (n *noteSigner) Name() string    { return n.name }
func (n *noteSigner) KeyHash() uint32 { return n.hash }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	if n.ed {
		return n.s.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	d := sha256.Sum256(msg)
	return n.s.Sign(rand.Reader, d[:], crypto.SHA256)
}

// NewNoteSigner returns a note.Signer for checkpoints of the log named
// origin. An ECDSA P-256 key signs as Rekor v2 does (ASN.1 signature over
// SHA-256 of the note text, key hash from the PKIX DER); an Ed25519 key signs
// in the standard x/mod/sumdb/note form. Each Sign call calls s.Sign once.
func NewNoteSigner(origin string, s crypto.Signer) (note.Signer, error) {
	pub := s.Public()
	hash, err := noteKey(origin, pub)
	if err != nil {
		return nil, err
	}
	_, ed := pub.(ed25519.PublicKey)
	return &noteSigner{name: origin, hash: hash, s: s, ed: ed}, nil
}

type noteVerifier struct {
	name   string
	hash   uint32
	verify func(msg, sig []byte) bool
}

func (n *noteVerifier) Name() string                { return n.name }
func (n *noteVerifier) KeyHash() uint32             { return n.hash }
func (n *noteVerifier) Verify(msg, sig []byte) bool { return n.verify(msg, sig) }

// NewNoteVerifier returns the note.Verifier matching NewNoteSigner for the
// log named origin and its public key (ECDSA P-256 or Ed25519).
func NewNoteVerifier(origin string, pub crypto.PublicKey) (note.Verifier, error) {
	hash, err := noteKey(origin, pub)
	if err != nil {
		return nil, err
	}
	v := &noteVerifier{name: origin, hash: hash}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		v.verify = func(msg, sig []byte) bool {
			d := sha256.Sum256(msg)
			return ecdsa.VerifyASN1(k, d[:], sig)
		}
	case ed25519.PublicKey:
		v.verify = func(msg, sig []byte) bool { return ed25519.Verify(k, msg, sig) }
	}
	return v, nil
}
