package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/stellaops/stellad/internal/api"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/ca"
	"github.com/stellaops/stellad/internal/ctlog"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/tsa"
	"github.com/stellaops/stellad/kit/bundle"
)

// sigstoreConfig is how the appliance serves stock Sigstore clients: who
// may write through the Rekor v2 write API, and the keys and certificates of
// its certificate authority, CT log and timestamp authority.
type sigstoreConfig struct {
	logWrite       string
	logWriteTenant string
	logWriteRate   float64
	caKey          string // CA key URI; empty: no CA
	caCert         string // the CA's PEM certificate
	ctKey          string // the CT log's key URI
	tsaKey         string // TSA key URI; empty: no TSA
	tsaChain       string // the TSA's PEM chain, leaf first
}

// Development defaults: every service runs, its keys are file keys under
// DATA/keys and its certificates are made on first start under DATA/sigstore.
func (s *sigstoreConfig) resolve(dev bool, dataDir string) error {
	if s.logWrite == "" {
		s.logWrite = api.LogWriteToken
		if dev {
			s.logWrite = api.LogWriteOpen
		}
	}
	switch s.logWrite {
	case api.LogWriteToken, api.LogWriteMTLS, api.LogWriteOpen, api.LogWriteOff:
	default:
		return configErrorf("--log-write %q: want token, mtls, open or off", s.logWrite)
	}
	if dev {
		def := func(v *string, path string) {
			if *v == "" {
				*v = path
			}
		}
		def(&s.caKey, "file:"+filepath.Join(dataDir, "keys", "ca.pem"))
		def(&s.ctKey, "file:"+filepath.Join(dataDir, "keys", "ct.pem"))
		def(&s.tsaKey, "file:"+filepath.Join(dataDir, "keys", "tsa.pem"))
		def(&s.caCert, filepath.Join(dataDir, "sigstore", "ca.pem"))
		def(&s.tsaChain, filepath.Join(dataDir, "sigstore", "tsa-chain.pem"))
	}
	if s.caKey != "" && (s.caCert == "" || s.ctKey == "") {
		return configErrorf("--ca-key needs --ca-cert (the CA's certificate; stellad sigstore init makes it) and --ct-key (its CT log's key)")
	}
	if s.tsaKey != "" && s.tsaChain == "" {
		return configErrorf("--tsa-key needs --tsa-chain (the TSA's certificate chain; stellad sigstore init makes it)")
	}
	return nil
}

// sigstoreServices are the running CA (with its CT log) and TSA; either may be nil.
type sigstoreServices struct {
	ca  *ca.CA
	ct  *ctlog.Log
	tsa *tsa.TSA
}

// close stops the CT log (it publishes a checkpoint covering every entry first).
func (s *sigstoreServices) close() {
	if s.ct == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.ct.Close(ctx); err != nil {
		slog.Default().Error("closing the CT log", "err", err)
	}
}

// buildSigstore opens the CA, its CT log and the TSA that c names. In
// development their certificates are made on first start (the ceremony of
// `stellad sigstore init`, with file keys).
func buildSigstore(ctx context.Context, c config, o *keys.Opener, ctOrigin string, logger *slog.Logger) (*sigstoreServices, error) {
	sc := c.sigstore
	out := &sigstoreServices{}
	now := time.Now()
	if sc.tsaKey != "" {
		k, err := openKey(ctx, o, sc.tsaKey, c.dev, logger)
		if err != nil {
			return nil, err
		}
		chain, err := readOrMake(sc.tsaChain, c.dev, logger, func() ([]*x509.Certificate, error) {
			root, err := openKey(ctx, o, "file:"+filepath.Join(c.dataDir, "keys", "tsa-root.pem"), true, logger)
			if err != nil {
				return nil, err
			}
			return tsa.NewChain(root, k, "stellad TSA", now, 10*365*24*time.Hour, rand.Reader)
		})
		if err != nil {
			return nil, err
		}
		if out.tsa, err = tsa.New(tsa.Config{Signer: k, Chain: chain, Logger: logger}); err != nil {
			return nil, fmt.Errorf("timestamp authority (%s, %s): %w", sc.tsaKey, sc.tsaChain, err)
		}
	}
	if sc.caKey == "" {
		return out, nil
	}
	k, err := openKey(ctx, o, sc.caKey, c.dev, logger)
	if err != nil {
		return nil, err
	}
	chain, err := readOrMake(sc.caCert, c.dev, logger, func() ([]*x509.Certificate, error) {
		crt, err := ca.NewRootCertificate(k, "stellad CA", now, 10*365*24*time.Hour, nil)
		return []*x509.Certificate{crt}, err
	})
	if err != nil {
		return nil, err
	}
	ctKey, err := openKey(ctx, o, sc.ctKey, c.dev, logger)
	if err != nil {
		return nil, err
	}
	out.ct, err = ctlog.New(ctx, ctlog.Config{Dir: filepath.Join(c.dataDir, "ctlog"), Origin: ctOrigin, Signer: ctKey, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("opening the CT log: %w", err)
	}
	out.ca, err = ca.New(ca.Config{Signer: k, Certificate: chain[0], Chain: chain[1:], CT: out.ct, CTPublicKey: out.ct.PublicKey(), Logger: logger})
	if err != nil {
		out.close()
		return nil, fmt.Errorf("certificate authority (%s, %s): %w", sc.caKey, sc.caCert, err)
	}
	return out, nil
}

// readOrMake reads a PEM certificate chain; in development a missing file is
// made with mk and written (0644) first.
func readOrMake(path string, dev bool, logger *slog.Logger, mk func() ([]*x509.Certificate, error)) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && dev {
		chain, err := mk()
		if err != nil {
			return nil, fmt.Errorf("making development certificates %s: %w", path, err)
		}
		var pemBytes []byte
		for _, c := range chain {
			pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, pemBytes, 0o644); err != nil {
			return nil, err
		}
		logger.Info("created development certificates", "path", path, "subject", chain[0].Subject.String())
		return chain, nil
	}
	if err != nil {
		return nil, configErrorf("reading certificates %s: %v", path, err)
	}
	chain, err := tsa.ParseChainPEM(b)
	if err != nil {
		return nil, configErrorf("certificates %s: %v", path, err)
	}
	return chain, nil
}

// trustedRoot lists every validity window of the log's key and, when they
// run, of the CA's certificate, the CT log's key and the TSA's chain
// (attest.TrustEpochs): the current ones open-ended, retired ones with the
// time they were replaced, so bundles made before a rotation keep verifying.
func (s *sigstoreServices) trustedRoot(ctx context.Context, db *store.DB, publicURL string, logDER []byte, logStart, now time.Time) ([]byte, error) {
	var tr bundle.TrustedRoot
	epochs := func(kind string, material []byte, start time.Time) ([]attest.Epoch, error) {
		es, err := attest.TrustEpochs(ctx, db, kind, material, start, now)
		if errors.Is(err, attest.ErrRetired) {
			return nil, configError{err}
		}
		return es, err
	}
	logs, err := epochs(attest.EpochLog, logDER, logStart)
	if err != nil {
		return nil, err
	}
	for _, e := range logs {
		pub, err := x509.ParsePKIXPublicKey(e.Material)
		if err != nil {
			return nil, fmt.Errorf("a recorded log key: %w", err)
		}
		tr.Logs = append(tr.Logs, bundle.TransparencyLog{BaseURL: publicURL, PublicKey: pub, Start: e.Start, End: e.End})
	}
	authorities := func(kind, uri string, chain []*x509.Certificate) ([]bundle.CertificateAuthority, error) {
		var der []byte
		for _, c := range chain {
			der = append(der, c.Raw...)
		}
		es, err := epochs(kind, der, chain[0].NotBefore)
		if err != nil {
			return nil, err
		}
		var out []bundle.CertificateAuthority
		for _, e := range es {
			certs, err := x509.ParseCertificates(e.Material)
			if err != nil || len(certs) == 0 {
				return nil, fmt.Errorf("recorded %s certificates: %v", kind, err)
			}
			out = append(out, bundle.CertificateAuthority{URI: uri, Chain: certs, Start: e.Start, End: e.End})
		}
		return out, nil
	}
	if s.ca != nil {
		if tr.CertificateAuthorities, err = authorities(attest.EpochCA, publicURL, s.ca.Chain()); err != nil {
			return nil, err
		}
		ctDER, err := x509.MarshalPKIXPublicKey(s.ct.PublicKey())
		if err != nil {
			return nil, err
		}
		cts, err := epochs(attest.EpochCTLog, ctDER, now)
		if err != nil {
			return nil, err
		}
		for _, e := range cts {
			pub, err := x509.ParsePKIXPublicKey(e.Material)
			if err != nil {
				return nil, fmt.Errorf("a recorded CT log key: %w", err)
			}
			tr.CTLogs = append(tr.CTLogs, bundle.CTLog{BaseURL: publicURL + "/ct", PublicKey: pub, Start: e.Start, End: e.End})
		}
	}
	if s.tsa != nil {
		if tr.TimestampAuthorities, err = authorities(attest.EpochTSA, publicURL+"/api/v1/timestamp", s.tsa.Chain()); err != nil {
			return nil, err
		}
	}
	return tr.Marshal()
}

// ctOrigin is the CT log's checkpoint origin: the public URL's host and the
// /ct prefix, without scheme (c2sp.org/static-ct-api).
func ctOrigin(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil {
		return "", err
	}
	return u.Host + "/ct", nil
}

// signingConfig is the Sigstore signing config that points cosign at this
// appliance: its log (Rekor API v2) always, its CA and TSA when they run.
func signingConfig(publicURL string, start time.Time, withCA, withTSA bool) ([]byte, error) {
	svc := func(url string, v uint32) []bundle.Service {
		return []bundle.Service{{URL: url, MajorAPIVersion: v, Operator: "stellad", Start: start}}
	}
	sc := bundle.SigningConfig{Logs: svc(publicURL, 2)}
	if withCA {
		sc.CAs = svc(publicURL, 1)
	}
	if withTSA {
		sc.TSAs = svc(publicURL+"/api/v1/timestamp", 1)
	}
	return sc.Marshal()
}

// The api.Config fields are interfaces: a nil service must stay a nil
// interface, not an interface holding a nil pointer.
func caIssuer(s *sigstoreServices) api.CertIssuer {
	if s.ca == nil {
		return nil
	}
	return s.ca
}

func caIdentity(s *sigstoreServices, a *authn.Authenticator) api.IdentityVerifier {
	if s.ca == nil || a == nil {
		return nil
	}
	return a
}

func ctHandler(s *sigstoreServices) http.Handler {
	if s.ct == nil {
		return nil
	}
	return s.ct.Handler()
}

// certifier and timestamper are the CA and the TSA for keyless signing by
// attest; nil (a nil interface) when either does not run.
func (s *sigstoreServices) certifier() attest.Certifier {
	if s.ca == nil || s.tsa == nil {
		return nil
	}
	return s.ca
}

func (s *sigstoreServices) timestamper() attest.Timestamper {
	if s.ca == nil || s.tsa == nil {
		return nil
	}
	return s.tsa
}

func tsaOf(s *sigstoreServices) api.Timestamper {
	if s.tsa == nil {
		return nil
	}
	return s.tsa
}

// previousLogVerifiers records the log key's window (attest.TrustEpochs) and
// returns checkpoint verifiers for the keys it replaced, so that the log
// opens after a rotation (translog.Config.PreviousVerifiers).
func previousLogVerifiers(ctx context.Context, db *store.DB, origin string, logDER []byte, start, now time.Time) ([]note.Verifier, error) {
	es, err := attest.TrustEpochs(ctx, db, attest.EpochLog, logDER, start, now)
	if errors.Is(err, attest.ErrRetired) {
		return nil, configError{err}
	}
	if err != nil {
		return nil, err
	}
	var out []note.Verifier
	for _, e := range es {
		if bytes.Equal(e.Material, logDER) {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(e.Material)
		if err != nil {
			return nil, fmt.Errorf("a retired log key: %w", err)
		}
		v, err := bundle.NewNoteVerifier(origin, pub)
		if err != nil {
			return nil, fmt.Errorf("a retired log key: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}
