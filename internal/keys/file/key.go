package file

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Scheme is the URI scheme of file keys, with its colon.
const Scheme = "file:"

// PEMType is the PEM block type of a PKCS#8 private key.
const PEMType = "PRIVATE KEY"

// maxKeyFile bounds how much of a key file is read: a P-256 PKCS#8 PEM is
// about 240 bytes.
const maxKeyFile = 64 << 10

// Key is an ECDSA P-256 private key loaded from a file. It implements
// crypto.Signer and is safe for concurrent use.
type Key struct {
	priv *ecdsa.PrivateKey
	uri  string
	path string
}

// Public returns the key's *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return &k.priv.PublicKey }

// URI returns the key's file: URI.
func (k *Key) URI() string { return k.uri }

// Path returns the key file's path.
func (k *Key) Path() string { return k.path }

// Sign signs digest (the hash of the message, of the size opts.HashFunc()
// names) and returns an ASN.1 DER ECDSA signature. rand may be nil.
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, fmt.Errorf("signing with key file %s: %w", k.path, err)
	}
	return k.priv.Sign(rand, digest, opts)
}

// SignContext is Sign for callers that pass a context: it returns ctx's error
// if ctx is already done, and otherwise signs (which takes microseconds).
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.Sign(nil, digest, opts)
}

func checkDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil {
		return errors.New("no signer options: pass the digest's hash, e.g. crypto.SHA256")
	}
	h := opts.HashFunc()
	if h == 0 {
		return errors.New("ECDSA signs a digest: opts must name its hash")
	}
	if h.Size() != len(digest) {
		return fmt.Errorf("digest is %d bytes; %v digests are %d", len(digest), h, h.Size())
	}
	return nil
}

// PathFromURI returns the path a file: URI names: "file:" followed by an
// absolute or relative path, or "file://" followed by an absolute path (an
// empty or "localhost" authority). The path is taken as written, without
// percent-decoding.
func PathFromURI(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, Scheme)
	if !ok {
		return "", fmt.Errorf("key URI %q does not start with %q", uri, Scheme)
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		after = strings.TrimPrefix(after, "localhost")
		if !strings.HasPrefix(after, "/") {
			return "", fmt.Errorf("key URI %q names a host; want file:/path or file:///path", uri)
		}
		rest = after
	}
	if rest == "" {
		return "", fmt.Errorf("key URI %q has no path", uri)
	}
	if strings.ContainsRune(rest, 0) {
		return "", fmt.Errorf("key URI %q contains a NUL byte", uri)
	}
	return rest, nil
}

// ParsePrivateKey parses one PEM block of type "PRIVATE KEY" holding a PKCS#8
// ECDSA P-256 private key; anything after the block must be white space.
// Errors say what was found instead; they never include key material.
func ParsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	parsed, err := parsePKCS8PEM(data)
	if err != nil {
		return nil, err
	}
	k, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T; want ECDSA P-256", parsed)
	}
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key is ECDSA %s; want ECDSA P-256", k.Curve.Params().Name)
	}
	return k, nil
}

func parsePKCS8PEM(data []byte) (any, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != PEMType {
		return nil, fmt.Errorf("PEM block is %q; want %q (PKCS#8)", block.Type, PEMType)
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("PEM block has headers (encrypted keys are not supported)")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("unexpected data after the PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8: %w", err)
	}
	return k, nil
}

// MarshalPrivateKey encodes k as a PKCS#8 PEM block, the form Generate writes.
func MarshalPrivateKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshalling PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PEMType, Bytes: der}), nil
}
