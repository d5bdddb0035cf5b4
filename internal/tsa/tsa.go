package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"
)

// DefaultPolicy is the TSA policy OID stamped into every token when
// Config.Policy is empty: 1.3.6.1.4.1.32473.3161.1, arc 3161.1 under IANA
// private enterprise number 32473, which RFC 5612 reserves for documentation
// and examples. It is a placeholder until StellaOps registers a private
// enterprise number of its own; a site that has one (or must use its own
// policy) sets Config.Policy. Verifiers ignore the policy unless told to
// expect one.
var DefaultPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 3161, 1}

// DefaultAccuracy is the accuracy stated in tokens when Config.Accuracy is
// zero: genTime is the clock truncated to the second.
const DefaultAccuracy = time.Second

// MaxQuerySize is the largest TimeStampReq Respond reads, in bytes. A query
// with a SHA-512 digest, a 160-bit nonce and a policy OID is under 150 bytes;
// the margin is for clients that add a long nonce. The HTTP layer should cut
// the body at MaxQuerySize+1 and hand what it read to Respond, which rejects
// it with badDataFormat.
const MaxQuerySize = 4096

// ErrOutsideValidity is wrapped by the error of Respond (with a systemFailure
// answer) when Config.Now() lies outside the validity window of a certificate
// of the chain: the TSA must not issue tokens no verifier would accept. A
// health check can branch on it with errors.Is to raise a rotation alarm.
var ErrOutsideValidity = errors.New("tsa: clock outside the certificate chain's validity")

// Config configures a TSA. Signer and Chain are required; New fills the rest.
type Config struct {
	// Signer is the TSA's signing key (ECDSA P-256/384/521 or RSA). Only its
	// Sign method is called, so a PKCS#11 key works.
	Signer crypto.Signer
	// Chain is the TSA's certificate chain: the leaf (the certificate of
	// Signer's public key) first, then intermediates, the self-signed root
	// last. At least the leaf and the root.
	Chain []*x509.Certificate
	// Policy is the TSA policy OID of every token (RFC 3161 §2.4.2, TSTInfo
	// policy); queries that ask for another policy are rejected with
	// unacceptedPolicy. Empty means DefaultPolicy.
	Policy asn1.ObjectIdentifier
	// Accuracy is the accuracy stated in every token; zero means
	// DefaultAccuracy. It must be positive and below one hour.
	Accuracy time.Duration
	// Now is the TSA's clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of token serial numbers; nil means crypto/rand.
	// Reads are serialised by the TSA, so it need not be safe for
	// concurrent use.
	Rand io.Reader
	// Logger receives a debug line per rejected query; nil discards.
	Logger *slog.Logger
}

// TSA is a configured time-stamping authority. Make one with New.
type TSA struct {
	signer   crypto.Signer
	hash     crypto.Hash // digest of the CMS signature, from the key type
	sigAlg   algorithmIdentifier
	chain    []*x509.Certificate
	chainPEM []byte
	leaf     *x509.Certificate
	policy   asn1.ObjectIdentifier
	accuracy accuracy
	now      func() time.Time
	log      *slog.Logger

	randMu sync.Mutex
	rand   io.Reader

	// Precomputed from the leaf: the ESS signing-certificate-v2 attribute
	// value and the TSTInfo tsa field.
	essAttr []byte
	tsaName asn1.RawValue
	// validity is the intersection of the chain's validity windows.
	notBefore, notAfter time.Time
}

// New validates cfg and returns a TSA. It fails, naming the fault, when
// Signer or Chain is missing; when the leaf's public key is not Signer's;
// when the leaf is a CA, has an extended key usage other than exactly
// timeStamping, or does not mark that extension critical (RFC 3161 §2.3);
// when the leaf's key usage, if present, lacks digitalSignature; when the
// chain does not verify up to its last certificate as the root at Now(); or
// when the key type is neither ECDSA nor RSA.
func New(cfg Config) (*TSA, error) {
	if cfg.Signer == nil {
		return nil, errors.New("tsa: no signer")
	}
	if len(cfg.Chain) < 2 {
		return nil, fmt.Errorf("tsa: certificate chain has %d certificates; want the TSA leaf, any intermediates and the root", len(cfg.Chain))
	}
	for i, c := range cfg.Chain {
		if c == nil {
			return nil, fmt.Errorf("tsa: certificate %d of the chain is nil", i)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Policy) == 0 {
		cfg.Policy = DefaultPolicy
	}
	if _, err := asn1.Marshal(cfg.Policy); err != nil {
		return nil, fmt.Errorf("tsa: policy %v: %w", cfg.Policy, err)
	}
	if cfg.Accuracy == 0 {
		cfg.Accuracy = DefaultAccuracy
	}
	if cfg.Accuracy < 0 || cfg.Accuracy >= time.Hour {
		return nil, fmt.Errorf("tsa: accuracy %v outside (0, 1h)", cfg.Accuracy)
	}

	leaf := cfg.Chain[0]
	hash, err := signatureHash(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cfg.Signer.Public()) {
		return nil, fmt.Errorf("tsa: leaf certificate %q is not for the signer's public key", leaf.Subject)
	}
	if err := checkLeaf(leaf); err != nil {
		return nil, err
	}
	now := cfg.Now()
	if err := verifyChain(cfg.Chain, now); err != nil {
		return nil, err
	}

	t := &TSA{
		signer:   cfg.Signer,
		hash:     hash,
		sigAlg:   signatureAlgorithm(cfg.Signer.Public(), hash),
		chain:    append([]*x509.Certificate(nil), cfg.Chain...),
		leaf:     leaf,
		policy:   append(asn1.ObjectIdentifier(nil), cfg.Policy...),
		accuracy: accuracyOf(cfg.Accuracy),
		now:      cfg.Now,
		log:      cfg.Logger,
		rand:     cfg.Rand,
	}
	t.notBefore, t.notAfter = leaf.NotBefore, leaf.NotAfter
	var buf bytes.Buffer
	for _, c := range t.chain {
		if c.NotBefore.After(t.notBefore) {
			t.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(t.notAfter) {
			t.notAfter = c.NotAfter
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return nil, fmt.Errorf("tsa: encoding chain: %w", err)
		}
	}
	t.chainPEM = buf.Bytes()
	if t.essAttr, err = essCertIDv2Attr(leaf); err != nil {
		return nil, err
	}
	if t.tsaName, err = tsaGeneralName(leaf); err != nil {
		return nil, err
	}
	return t, nil
}

// checkLeaf applies RFC 3161 §2.3 and sigstore's verifier's rules to the TSA
// certificate.
func checkLeaf(leaf *x509.Certificate) error {
	if leaf.IsCA {
		return fmt.Errorf("tsa: leaf certificate %q is a CA; the TSA needs an end-entity certificate", leaf.Subject)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(leaf.UnknownExtKeyUsage) != 0 {
		return fmt.Errorf("tsa: leaf certificate %q: extended key usage must be timeStamping only (RFC 3161 §2.3)", leaf.Subject)
	}
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
		}
	}
	if !critical {
		return fmt.Errorf("tsa: leaf certificate %q: the extended key usage extension must be critical (RFC 3161 §2.3)", leaf.Subject)
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("tsa: leaf certificate %q: key usage lacks digitalSignature", leaf.Subject)
	}
	return nil
}

// verifyChain checks that chain[0] verifies up to the self-signed
// chain[len-1] through chain[1:len-1] for time stamping at now.
func verifyChain(chain []*x509.Certificate, now time.Time) error {
	root := chain[len(chain)-1]
	if err := root.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("tsa: last certificate of the chain %q is not a self-signed root: %w", root.Subject, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range chain[1 : len(chain)-1] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return fmt.Errorf("tsa: verifying the chain of %q at %s: %w", chain[0].Subject, now.UTC().Format(time.RFC3339), err)
	}
	for i := 1; i < len(chain); i++ {
		if err := chain[i-1].CheckSignatureFrom(chain[i]); err != nil {
			return fmt.Errorf("tsa: certificate %d (%q) is not signed by certificate %d (%q): the chain must be in order, leaf first", i-1, chain[i-1].Subject, i, chain[i].Subject)
		}
	}
	return nil
}

// signatureHash picks the CMS digest for the key: SHA-384 for P-384,
// SHA-512 for P-521, SHA-256 otherwise.
func signatureHash(pub crypto.PublicKey) (crypto.Hash, error) {
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
		return 0, fmt.Errorf("tsa: unsupported ECDSA curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, fmt.Errorf("tsa: RSA key of %d bits; want at least 2048", k.N.BitLen())
		}
		return crypto.SHA256, nil
	}
	return 0, fmt.Errorf("tsa: unsupported key type %T; want ECDSA or RSA", pub)
}

// Chain returns the TSA's certificate chain, leaf first, root last: the
// order of a trusted_root.json timestampAuthorities certChain. The slice is
// a copy; the certificates are shared and must not be modified.
func (t *TSA) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), t.chain...)
}

// ChainPEM returns the chain as concatenated PEM CERTIFICATE blocks, leaf
// first, root last: the file `cosign trusted-root create --tsa
// "url=...,certificate-chain=FILE"` reads. The slice is a copy.
func (t *TSA) ChainPEM() []byte {
	return bytes.Clone(t.chainPEM)
}

// Policy returns the policy OID stamped into every token.
func (t *TSA) Policy() asn1.ObjectIdentifier {
	return append(asn1.ObjectIdentifier(nil), t.policy...)
}

// ParseChainPEM parses concatenated PEM CERTIFICATE blocks (the output of
// ChainPEM, or an operator's chain file) in file order. It fails on any other
// block type, on trailing non-PEM bytes other than white space, and when
// there is no certificate.
func ParseChainPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("tsa: chain PEM block %d is %q; want CERTIFICATE", len(certs)+1, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tsa: chain PEM certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("tsa: chain PEM: %d bytes after certificate %d are not PEM", len(rest), len(certs))
	}
	if len(certs) == 0 {
		return nil, errors.New("tsa: chain PEM holds no certificate")
	}
	return certs, nil
}

// serial draws a positive 128-bit token serial number from the TSA's Rand.
// Random serials need no state across restarts or replicas; two tokens share
// one with probability about n²/2¹²⁹.
func (t *TSA) serial() (*big.Int, error) {
	t.randMu.Lock()
	defer t.randMu.Unlock()
	return randomSerial(t.rand)
}

// keyID returns the RFC 7093 §2 method 1 key identifier of pub: the leftmost
// 160 bits of the SHA-256 of the subjectPublicKey bits.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
