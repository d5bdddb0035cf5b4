package ca

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Object identifiers the CA writes.
var (
	// OIDIssuer is Fulcio's deprecated issuer extension: the token's iss as
	// raw bytes.
	OIDIssuer = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	// OIDIssuerV2 is Fulcio's issuer extension: the token's iss as a DER
	// UTF8String. cosign's --certificate-oidc-issuer matches it.
	OIDIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	// OIDOtherNameUsername is the type-id of the otherName SAN Fulcio uses for
	// subjects that are neither emails nor URIs (value: UTF8String).
	OIDOtherNameUsername = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 7}
	// OIDCTPoison marks a precertificate (RFC 6962 §3.1): critical, ASN.1 NULL.
	OIDCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
	// OIDSCTList carries the embedded SCT list (RFC 6962 §3.3).
	OIDSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// Bounds on identity strings, far above any real token claim.
const (
	maxSubjectLen = 1024
	maxIssuerLen  = 1024
)

// Issue issues a certificate binding pub to id and returns the chain, leaf
// first, then the CA's certificate and Config.Chain. The caller has verified
// the identity token and the proof of possession.
//
// With a CT log configured it signs a precertificate (the poison extension in
// place of the SCT list), logs it with AddPreChain (precert, then the CA's
// chain), and signs the final certificate with the returned SCT embedded; the
// two TBSCertificates differ only in that last extension.
//
// A key the CA does not certify is a CodeBadKey refusal; an identity that
// cannot be written (empty, too long, invalid UTF-8, a non-ASCII email) is a
// CodeBadRequest refusal. Other errors — a CA certificate that expires before
// the leaf would, a signer or CT log failure, a malformed SCT — are the
// appliance's own; ctx bounds the CT call and, for signers that offer
// SignContext, the wait for an HSM session.
func (c *CA) Issue(ctx context.Context, id Identity, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	tmpl, err := c.template(id, pub)
	if err != nil {
		return nil, err
	}
	signer := contextSigner(ctx, c.signer)

	if c.ct != nil {
		pre := *tmpl
		pre.ExtraExtensions = append(append([]pkix.Extension(nil), tmpl.ExtraExtensions...), poisonExtension())
		preDER, err := x509.CreateCertificate(c.rand, &pre, c.cert, pub, signer)
		if err != nil {
			return nil, fmt.Errorf("signing precertificate: %w", err)
		}
		chain := make([][]byte, 0, 1+len(c.rawChain))
		chain = append(chain, preDER)
		chain = append(chain, c.rawChain...)
		sct, err := c.ct.AddPreChain(ctx, chain)
		if err != nil {
			return nil, fmt.Errorf("logging precertificate %s: %w", tmpl.SerialNumber.Text(16), err)
		}
		ext, err := sctListExtension(sct)
		if err != nil {
			return nil, fmt.Errorf("embedding the SCT of precertificate %s: %w", tmpl.SerialNumber.Text(16), err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}

	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate just issued: %w", err)
	}
	if c.ct != nil && c.ctKey != nil {
		if err := verifyEmbeddedSCT(c.ctKey, leaf.Raw, c.cert.Raw); err != nil {
			return nil, fmt.Errorf("checking the SCT of certificate %s: %w", tmpl.SerialNumber.Text(16), err)
		}
	}
	c.log.Debug("certificate issued", "serial", tmpl.SerialNumber.Text(16), "issuer", id.Issuer,
		"not_after", leaf.NotAfter, "sct", c.ct != nil)

	out := make([]*x509.Certificate, 0, 1+len(c.chain))
	out = append(out, leaf)
	return append(out, c.chain...), nil
}

// template builds the leaf template common to the precertificate and the
// final certificate.
func (c *CA) template(id Identity, pub crypto.PublicKey) (*x509.Certificate, error) {
	if err := checkIdentity(id); err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, badKey("encoding public key: %v", err)
	}
	serial, err := randomSerial(c.rand)
	if err != nil {
		return nil, err
	}
	notBefore := c.now().UTC().Truncate(time.Second)
	notAfter := notBefore.Add(c.validity)
	if notBefore.Before(c.cert.NotBefore) || notAfter.After(c.cert.NotAfter) {
		return nil, fmt.Errorf("the CA certificate (valid %s to %s) does not cover a certificate valid %s to %s",
			c.cert.NotBefore.UTC().Format(time.RFC3339), c.cert.NotAfter.UTC().Format(time.RFC3339),
			notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339))
	}

	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(spki),
		AuthorityKeyId:        c.cert.SubjectKeyId,
	}
	if err := setSubjectAltName(tmpl, id); err != nil {
		return nil, err
	}
	v2, err := asn1.MarshalWithParams(id.Issuer, "utf8")
	if err != nil {
		return nil, badRequest("encoding issuer: %v", err)
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions,
		pkix.Extension{Id: OIDIssuer, Value: []byte(id.Issuer)},
		pkix.Extension{Id: OIDIssuerV2, Value: v2},
	)
	return tmpl, nil
}

func checkIdentity(id Identity) error {
	switch {
	case id.Subject == "":
		return badRequest("identity has no subject")
	case len(id.Subject) > maxSubjectLen:
		return badRequest("identity subject is longer than %d bytes", maxSubjectLen)
	case !utf8.ValidString(id.Subject) || hasControl(id.Subject):
		return badRequest("identity subject is not printable UTF-8")
	case id.Issuer == "":
		return badRequest("identity has no issuer")
	case len(id.Issuer) > maxIssuerLen:
		return badRequest("identity issuer is longer than %d bytes", maxIssuerLen)
	case !utf8.ValidString(id.Issuer) || hasControl(id.Issuer):
		return badRequest("identity issuer is not printable UTF-8")
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// setSubjectAltName puts id in the one SAN a verifier reads: an rfc822Name for
// a verified email, a URI when Subject is an absolute URI that survives the
// round trip through url.URL and X.509 parsing unchanged, and otherwise
// Fulcio's username otherName. The SAN is critical because the subject is
// empty (RFC 5280 §4.2.1.6); Go marks it so for the first two, and
// sigstore-go removes the otherName SAN from the unhandled critical
// extensions before path validation.
func setSubjectAltName(tmpl *x509.Certificate, id Identity) error {
	s := id.Subject
	if id.Email {
		if !isPrintableASCII(s) || strings.Count(s, "@") != 1 || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") {
			return badRequest("email subject %q is not an ASCII address", s)
		}
		tmpl.EmailAddresses = []string{s}
		return nil
	}
	if u, ok := uriSubject(s); ok {
		tmpl.URIs = []*url.URL{u}
		return nil
	}
	ext, err := otherNameSAN(s)
	if err != nil {
		return badRequest("encoding subject: %v", err)
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	return nil
}

// uriSubject reports whether s can be a URI SAN that reads back as s.
func uriSubject(s string) (*url.URL, bool) {
	if !isPrintableASCII(s) {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.String() != s {
		return nil, false
	}
	if u.Host != "" && !sanHostValid(u.Host) {
		return nil, false
	}
	return u, true
}

// sanHostValid mirrors the host check Go's and certificate-transparency-go's
// certificate parsers apply to URI SANs: no trailing dot, no empty label, and
// only visible ASCII.
func sanHostValid(h string) bool {
	if strings.HasSuffix(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return false
		}
	}
	return isPrintableASCII(h) && !strings.Contains(h, " ")
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// otherNameSAN encodes a SubjectAltName holding one otherName of type
// OIDOtherNameUsername with a UTF8String value (RFC 5280 §4.2.1.6):
//
//	SEQUENCE { [0] { OID, [0] EXPLICIT UTF8String } }
func otherNameSAN(name string) (pkix.Extension, error) {
	type otherName struct {
		ID    asn1.ObjectIdentifier
		Value string `asn1:"utf8,explicit,tag:0"`
	}
	on, err := asn1.MarshalWithParams(otherName{ID: OIDOtherNameUsername, Value: name}, "tag:0")
	if err != nil {
		return pkix.Extension{}, err
	}
	san, err := asn1.Marshal([]asn1.RawValue{{FullBytes: on}})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidSubjectAltName, Critical: true, Value: san}, nil
}

// randomSerial returns a positive serial of 159 random bits (20 bytes, top bit
// clear), within RFC 5280's 20-octet limit.
func randomSerial(r io.Reader) (*big.Int, error) {
	var b [20]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("reading serial randomness: %w", err)
		}
		b[0] &= 0x7f
		if n := new(big.Int).SetBytes(b[:]); n.Sign() > 0 {
			return n, nil
		}
	}
}

// keyID is the subject key identifier of a PKIX public key: SHA-256 of the
// subjectPublicKey bits, truncated to 160 bits (RFC 7093 §2 method 1).
func keyID(spki []byte) []byte {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	bits := spki
	if _, err := asn1.Unmarshal(spki, &info); err == nil {
		bits = info.PublicKey.Bytes
	}
	sum := sha256.Sum256(bits)
	return sum[:20]
}

func poisonExtension() pkix.Extension {
	return pkix.Extension{Id: OIDCTPoison, Critical: true, Value: asn1.NullBytes}
}

// sctListExtension checks that sct is one TLS-encoded RFC 6962 v1
// SignedCertificateTimestamp and wraps it as the SCT list extension: an
// OCTET STRING holding the TLS SignedCertificateTimestampList.
func sctListExtension(sct []byte) (pkix.Extension, error) {
	var parsed ct.SignedCertificateTimestamp
	rest, err := cttls.Unmarshal(sct, &parsed)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("malformed SCT: %w", err)
	}
	if len(rest) != 0 {
		return pkix.Extension{}, fmt.Errorf("malformed SCT: %d trailing bytes", len(rest))
	}
	if parsed.SCTVersion != ct.V1 {
		return pkix.Extension{}, fmt.Errorf("SCT version %d, want v1", parsed.SCTVersion)
	}
	list, err := cttls.Marshal(ctx509.SignedCertificateTimestampList{SCTList: []ctx509.SerializedSCT{{Val: sct}}})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding SCT list: %w", err)
	}
	val, err := asn1.Marshal(list)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding SCT list: %w", err)
	}
	return pkix.Extension{Id: OIDSCTList, Value: val}, nil
}

// verifyEmbeddedSCT verifies every SCT in leaf against issuer the way
// sigstore-go does (certificate-transparency-go's embedded-SCT leaf).
func verifyEmbeddedSCT(logKey crypto.PublicKey, leafDER, issuerDER []byte) error {
	leaf, err := ctx509.ParseCertificate(leafDER)
	if err != nil {
		return fmt.Errorf("parsing leaf: %w", err)
	}
	issuer, err := ctx509.ParseCertificate(issuerDER)
	if err != nil {
		return fmt.Errorf("parsing issuer: %w", err)
	}
	if len(leaf.SCTList.SCTList) == 0 {
		return errors.New("no SCT embedded")
	}
	v, err := ct.NewSignatureVerifier(logKey)
	if err != nil {
		return fmt.Errorf("CT log key: %w", err)
	}
	for _, s := range leaf.SCTList.SCTList {
		var sct ct.SignedCertificateTimestamp
		if _, err := cttls.Unmarshal(s.Val, &sct); err != nil {
			return fmt.Errorf("malformed SCT: %w", err)
		}
		entry, err := ct.MerkleTreeLeafForEmbeddedSCT([]*ctx509.Certificate{leaf, issuer}, sct.Timestamp)
		if err != nil {
			return err
		}
		if err := v.VerifySCTSignature(sct, ct.LogEntry{Leaf: *entry}); err != nil {
			return fmt.Errorf("SCT signature: %w", err)
		}
	}
	return nil
}

// ctxSigner lets x509.CreateCertificate sign through SignContext, so that a
// caller's deadline bounds the wait for an HSM session.
type ctxSigner struct {
	ctx context.Context
	s   interface {
		crypto.Signer
		SignContext(context.Context, []byte, crypto.SignerOpts) ([]byte, error)
	}
}

func (c ctxSigner) Public() crypto.PublicKey { return c.s.Public() }

func (c ctxSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return c.s.SignContext(c.ctx, digest, opts)
}

func contextSigner(ctx context.Context, s crypto.Signer) crypto.Signer {
	if cs, ok := s.(interface {
		crypto.Signer
		SignContext(context.Context, []byte, crypto.SignerOpts) ([]byte, error)
	}); ok {
		return ctxSigner{ctx: ctx, s: cs}
	}
	return s
}
