package tsa

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// NewChain is the ceremony helper that certifies a TSA: it makes a
// self-signed root CA certificate for root ("NAME Root", path length 0, key
// usage certSign and cRLSign) and a TSA leaf certificate for leaf (subject
// NAME, signed by root, extended key usage timeStamping only and critical as
// RFC 3161 §2.3 requires, key usage digitalSignature, subject and authority
// key identifiers per RFC 7093 §2 method 1). Both are valid from now
// (truncated to the second) for validity; serial numbers are 128 random bits
// from rand. It returns {leaf, root}, the order Config.Chain and
// trusted_root.json want. Only the signers' Sign and Public methods are
// called, so both keys may live in an HSM.
//
// The daemon calls it on first start in development; in production an
// operator runs it once with the HSM-held keys, keeps the root key offline
// afterwards, and installs the PEM chain (see docs/tsa.md).
func NewChain(root, leaf crypto.Signer, name string, now time.Time, validity time.Duration, rand io.Reader) ([]*x509.Certificate, error) {
	if root == nil || leaf == nil {
		return nil, errors.New("tsa: NewChain needs a root and a leaf signer")
	}
	if name == "" {
		return nil, errors.New("tsa: NewChain needs a name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("tsa: NewChain validity %v is not positive", validity)
	}
	if rand == nil {
		return nil, errors.New("tsa: NewChain needs a source of randomness")
	}
	notBefore := now.UTC().Truncate(time.Second)
	notAfter := notBefore.Add(validity)

	rootID, err := keyID(root.Public())
	if err != nil {
		return nil, fmt.Errorf("tsa: root public key: %w", err)
	}
	leafID, err := keyID(leaf.Public())
	if err != nil {
		return nil, fmt.Errorf("tsa: leaf public key: %w", err)
	}
	rootSerial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	leafSerial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          rootSerial,
		Subject:               pkix.Name{CommonName: name + " Root"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          rootID,
	}
	rootDER, err := x509.CreateCertificate(rand, rootTmpl, rootTmpl, root.Public(), root)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the root certificate of %q: %w", name, err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("tsa: parsing the root certificate of %q: %w", name, err)
	}

	// crypto/x509 always marks the extended key usage non-critical, so the
	// extension is supplied ready-made (ExtraExtensions override it).
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the extended key usage: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          leafSerial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		ExtraExtensions:       []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          leafID,
		AuthorityKeyId:        rootID,
	}
	leafDER, err := x509.CreateCertificate(rand, leafTmpl, rootCert, leaf.Public(), root)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing the leaf certificate of %q: %w", name, err)
	}
	leafCert, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("tsa: parsing the leaf certificate of %q: %w", name, err)
	}
	return []*x509.Certificate{leafCert, rootCert}, nil
}

// randomSerial draws a positive 128-bit certificate serial number.
func randomSerial(rand io.Reader) (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("tsa: drawing a certificate serial number: %w", err)
		}
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}
