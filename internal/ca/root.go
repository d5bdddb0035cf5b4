package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"time"
)

// NewRootCertificate is the ceremony helper: it makes the self-signed root
// certificate of signer's key, named commonName (organisation "stellad"),
// valid from now for validity, with basicConstraints CA:TRUE and pathLen 0
// (leaves are issued directly by it), KeyUsage certSign|crlSign, and a subject
// key identifier. rnd supplies the serial and signature randomness (nil
// means crypto/rand). The signer may be an HSM key: one signature is made.
func NewRootCertificate(signer crypto.Signer, commonName string, now time.Time, validity time.Duration, rnd io.Reader) (*x509.Certificate, error) {
	if signer == nil {
		return nil, errors.New("ca: root certificate needs a signer")
	}
	if commonName == "" {
		return nil, errors.New("ca: root certificate needs a common name")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("ca: root certificate validity %s is not positive", validity)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	pub := signer.Public()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding the root's public key: %w", err)
	}
	serial, err := randomSerial(rnd)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	notBefore := now.UTC().Truncate(time.Second)
	name := pkix.Name{CommonName: commonName, Organization: []string{"stellad"}}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		Issuer:                name,
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(spki),
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the root certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing the root certificate: %w", err)
	}
	return cert, nil
}
