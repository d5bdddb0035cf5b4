package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// MaxValidity is the longest (and the default) validity of an issued
// certificate, as Fulcio's.
const MaxValidity = 10 * time.Minute

// PrecertLogger logs precertificates in a certificate transparency log. The
// CA declares it; internal/ctlog's *Log implements it.
type PrecertLogger interface {
	// AddPreChain logs a precertificate chain (precert DER first, then its
	// issuer's DER, up to the root) and returns the log's signed certificate
	// timestamp, TLS-encoded as RFC 6962 §3.2 SignedCertificateTimestamp (the
	// bytes that go, length-prefixed, into an SCT list).
	AddPreChain(ctx context.Context, chain [][]byte) ([]byte, error)
}

// Identity is whom a certificate is issued to, as proven by a verified
// identity token.
type Identity struct {
	// Subject is the token's verified email (when Email) or its sub claim.
	Subject string
	// Email reports that Subject is an email address the token marked
	// verified; it then goes into an rfc822Name SAN.
	Email bool
	// Issuer is the token's iss claim; it goes into the Fulcio issuer
	// extensions that --certificate-oidc-issuer matches.
	Issuer string
}

// Config configures a CA. Signer, Certificate and (unless AllowNoSCT) CT are
// required; New fills the other defaults.
type Config struct {
	// Signer is the CA's private key (a PKCS#11 key in production).
	Signer crypto.Signer
	// Certificate is the CA's own certificate for Signer's key: the
	// self-signed root in the simple set-up. It must be a CA certificate with
	// KeyUsage certSign, valid now.
	Certificate *x509.Certificate
	// Chain holds the certificates above Certificate, root last; empty when
	// Certificate is the root.
	Chain []*x509.Certificate
	// Validity is how long issued certificates are valid: zero means
	// MaxValidity, more than MaxValidity is refused.
	Validity time.Duration
	// CT logs each precertificate and returns its SCT. Required unless
	// AllowNoSCT.
	CT PrecertLogger
	// AllowNoSCT lets CT be nil: certificates are then issued without an SCT
	// and cosign refuses them unless told --insecure-ignore-sct. For tests
	// and benchmarks only.
	AllowNoSCT bool
	// CTPublicKey, when set, is the CT log's public key: Issue then verifies
	// each SCT against the final certificate exactly as sigstore-go does
	// before returning it (one signature verification per certificate).
	CTPublicKey crypto.PublicKey
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness for serial numbers and signatures; nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives issuance records (serial, issuer; never tokens); nil
	// discards them.
	Logger *slog.Logger
}

// CA issues Fulcio-compatible code-signing certificates. It is safe for
// concurrent use; it holds no state besides its configuration.
type CA struct {
	signer   crypto.Signer
	cert     *x509.Certificate
	chain    []*x509.Certificate // cert, then cfg.Chain
	rawChain [][]byte            // DER of chain, for AddPreChain
	validity time.Duration
	ct       PrecertLogger
	ctKey    crypto.PublicKey
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
}

// New checks cfg and returns a CA: Signer's public key must be Certificate's,
// Certificate a CA certificate with KeyUsage certSign valid at Now, each
// certificate signed by the next in Chain (the last one self-signed), Validity
// at most MaxValidity, and CT set unless AllowNoSCT. It does no I/O.
func New(cfg Config) (*CA, error) {
	if cfg.Signer == nil {
		return nil, errors.New("ca: Config.Signer is required")
	}
	if cfg.Certificate == nil {
		return nil, errors.New("ca: Config.Certificate is required")
	}
	if cfg.CT == nil && !cfg.AllowNoSCT {
		return nil, errors.New("ca: Config.CT is required (a CA without a CT log issues certificates cosign refuses)")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	validity := cfg.Validity
	switch {
	case validity == 0:
		validity = MaxValidity
	case validity < 0 || validity > MaxValidity:
		return nil, fmt.Errorf("ca: validity %s is outside (0, %s]", validity, MaxValidity)
	}

	c := cfg.Certificate
	pub, ok := cfg.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return nil, errors.New("ca: the signer's public key is not the CA certificate's")
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return nil, errors.New("ca: the CA certificate is not a CA certificate (basicConstraints CA:TRUE missing)")
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca: the CA certificate lacks KeyUsage certSign")
	}
	if t := now(); t.Before(c.NotBefore) || t.After(c.NotAfter) {
		return nil, fmt.Errorf("ca: the CA certificate is valid from %s to %s, not now (%s)",
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	chain := append([]*x509.Certificate{c}, cfg.Chain...)
	for i, cert := range chain {
		if cert == nil {
			return nil, fmt.Errorf("ca: Config.Chain[%d] is nil", i-1)
		}
		parent := cert
		if i+1 < len(chain) {
			parent = chain[i+1]
		}
		if err := cert.CheckSignatureFrom(parent); err != nil {
			if parent == cert {
				return nil, fmt.Errorf("ca: the last certificate of the chain (%s) is not a self-signed root: %w", cert.Subject, err)
			}
			return nil, fmt.Errorf("ca: certificate %s is not signed by %s: %w", cert.Subject, parent.Subject, err)
		}
	}
	raw := make([][]byte, len(chain))
	for i, cert := range chain {
		raw[i] = cert.Raw
	}
	return &CA{
		signer:   cfg.Signer,
		cert:     c,
		chain:    chain,
		rawChain: raw,
		validity: validity,
		ct:       cfg.CT,
		ctKey:    cfg.CTPublicKey,
		now:      now,
		rand:     rnd,
		log:      log,
	}, nil
}

// Certificate returns the CA's own certificate (the issuer of every leaf).
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Chain returns the CA's certificate followed by the certificates above it,
// root last: what Issue appends after each leaf and what the trusted root's
// certificateAuthorities entry lists.
func (c *CA) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), c.chain...)
}

// Validity returns how long issued certificates are valid.
func (c *CA) Validity() time.Duration { return c.validity }
