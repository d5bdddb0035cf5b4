package ctlog

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// ErrInvalidChain is wrapped by AddPreChain and AddChain errors that mean the submitted chain
// was refused (unparsable DER, missing or malformed poison, an issuer that did not sign its
// subject, ...): the caller's fault, never the log's. Callers answer 400.
var ErrInvalidChain = errors.New("ctlog: invalid chain")

// Limits on submitted chains. The leaf data Tessera stores for a precertificate holds the TBS
// and the precertificate itself; static-ct-api entries may not exceed 256 KiB.
const (
	maxChainLen  = 8
	maxCertBytes = 64 << 10
)

var (
	// oidPoison is the RFC 6962 §3.1 precertificate poison extension.
	oidPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	// oidPrecertSigning is the RFC 6962 §3.1 Precertificate Signing Certificate EKU.
	oidPrecertSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 4}
	// asn1Null is the DER encoding of ASN.1 NULL, the poison extension's value.
	asn1Null = []byte{0x05, 0x00}
)

// submission is a validated chain, ready to become a static-ct-api entry.
type submission struct {
	precert bool
	// leaf is chain[0] as submitted (the precertificate or the certificate).
	leaf []byte
	// signed is what the SCT and the Merkle leaf commit to: the certificate DER, or for a
	// precertificate its TBSCertificate with the poison removed (RFC 6962 §3.2).
	signed []byte
	// issuerKeyHash is SHA-256 of the issuer's SubjectPublicKeyInfo (precertificates only).
	issuerKeyHash [32]byte
	// issuers is chain[1:] as submitted, and fingerprints their SHA-256 hashes.
	issuers      [][]byte
	fingerprints [][32]byte
}

// invalid wraps ErrInvalidChain with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidChain, fmt.Sprintf(format, args...))
}

// parsePreChain validates a precertificate chain: chain[0] a precertificate carrying exactly one
// poison extension (critical, ASN.1 NULL), chain[1] the CA certificate that signed it directly
// (a Precertificate Signing Certificate is refused), and every further certificate the signer
// of the one before. It does not check validity periods or anchor the chain in a root set: the
// log is embedded and fed only by the appliance's own CA.
func parsePreChain(chain [][]byte) (*submission, error) {
	certs, err := parseCerts(chain)
	if err != nil {
		return nil, err
	}
	if len(certs) < 2 {
		return nil, invalid("a precertificate chain needs the precertificate and its issuer")
	}
	leaf, issuer := certs[0], certs[1]
	n := 0
	for _, e := range leaf.Extensions {
		if !e.Id.Equal(oidPoison) {
			continue
		}
		n++
		if !e.Critical || !bytes.Equal(e.Value, asn1Null) {
			return nil, invalid("precertificate poison extension must be critical and ASN.1 NULL")
		}
	}
	if n != 1 {
		return nil, invalid("chain[0] carries %d poison extensions, want exactly 1", n)
	}
	for _, oid := range issuer.UnknownExtKeyUsage {
		if oid.Equal(oidPrecertSigning) {
			return nil, invalid("precertificate signing certificates are not supported; the CA must sign the precertificate itself")
		}
	}
	if err := checkLinks(certs); err != nil {
		return nil, err
	}
	tbs, err := ctx509.BuildPrecertTBS(leaf.RawTBSCertificate, nil)
	if err != nil {
		return nil, invalid("removing the poison from the precertificate: %v", err)
	}
	s := newSubmission(chain)
	s.precert = true
	s.signed = tbs
	s.issuerKeyHash = sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	return s, nil
}

// parseFinalChain validates a certificate chain: chain[0] a certificate without poison and, if
// present, each further certificate the signer of the one before.
func parseFinalChain(chain [][]byte) (*submission, error) {
	certs, err := parseCerts(chain)
	if err != nil {
		return nil, err
	}
	if len(certs) < 1 {
		return nil, invalid("empty chain")
	}
	for _, e := range certs[0].Extensions {
		if e.Id.Equal(oidPoison) {
			return nil, invalid("chain[0] is a precertificate; use AddPreChain")
		}
	}
	if err := checkLinks(certs); err != nil {
		return nil, err
	}
	s := newSubmission(chain)
	s.signed = s.leaf
	return s, nil
}

// parseCerts parses every DER certificate of chain strictly (crypto/x509).
func parseCerts(chain [][]byte) ([]*x509.Certificate, error) {
	if len(chain) > maxChainLen {
		return nil, invalid("chain of %d certificates, at most %d accepted", len(chain), maxChainLen)
	}
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		if len(der) > maxCertBytes {
			return nil, invalid("chain[%d] is %d bytes, at most %d accepted", i, len(der), maxCertBytes)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, invalid("parsing chain[%d]: %v", i, err)
		}
		certs[i] = c
	}
	return certs, nil
}

// checkLinks checks that certs[i+1] is a CA that signed certs[i], for every i.
func checkLinks(certs []*x509.Certificate) error {
	for i := 0; i+1 < len(certs); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return invalid("chain[%d] did not sign chain[%d]: %v", i+1, i, err)
		}
	}
	return nil
}

// newSubmission fills the fields common to both entry types.
func newSubmission(chain [][]byte) *submission {
	s := &submission{leaf: chain[0], issuers: chain[1:]}
	for _, der := range s.issuers {
		s.fingerprints = append(s.fingerprints, sha256.Sum256(der))
	}
	return s
}
