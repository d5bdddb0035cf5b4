package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/urfave/cli/v2"
	"k8s.io/klog/v2"

	"github.com/stellaops/stellad/internal/api"
	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/metrics"
	"github.com/stellaops/stellad/internal/offline"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/internal/signer"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
)

// config is everything `stellad serve` is told.
type config struct {
	dev                bool
	dataDir            string
	listen             string
	publicURL          string
	signingKey         string
	logKey             string
	pkcs11Module       string
	trustedKeysDir     string
	batchSize          uint
	batchAge           time.Duration
	checkpointInterval time.Duration
	maxBody            int64
	logLevel           string
	logFormat          string
	debugListen        string
	transport          transport
	trust              trustConfig
	tenantKeys         cli.StringSlice
	kit                kitConfig
	sigstore           sigstoreConfig
}

func serveCommand() *cli.Command {
	var c config
	return &cli.Command{
		Name:  "serve",
		Usage: "run the appliance",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dev", Usage: "development mode: create file keys under DATA/keys on first start", Destination: &c.dev, EnvVars: []string{"STELLAD_DEV"}},
			&cli.StringFlag{Name: "data-dir", Value: "./var", Usage: "state directory (SQLite, log, CAS, dev keys)", Destination: &c.dataDir, EnvVars: []string{"STELLAD_DATA_DIR"}},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "listen address: TLS 1.3 with --tls-cert/--tls-key, else plain HTTP on loopback in development mode only", Destination: &c.listen, EnvVars: []string{"STELLAD_LISTEN"}},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate chain of the TLS listener", Destination: &c.transport.tlsCert, EnvVars: []string{"STELLAD_TLS_CERT"}},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key of --tls-cert", Destination: &c.transport.tlsKey, EnvVars: []string{"STELLAD_TLS_KEY"}},
			&cli.StringFlag{Name: "client-ca", Usage: "PEM CA bundle that verifies client certificates (mTLS; certificates are asked for, not required)", Destination: &c.transport.clientCA, EnvVars: []string{"STELLAD_CLIENT_CA"}},
			&cli.StringFlag{Name: "admin-socket", Usage: "admin socket path, mode 0660 (default DATA/stellad.sock; \"none\" disables it)", Destination: &c.transport.adminSock, EnvVars: []string{"STELLAD_ADMIN_SOCKET"}},
			&cli.StringFlag{Name: "admin-group", Value: "stellad", Usage: "group that owns the admin socket", Destination: &c.transport.adminGroup},
			&cli.StringFlag{Name: "public-url", Usage: "the log's public base URL; its host is the checkpoint origin (default http://localhost:PORT)", Destination: &c.publicURL, EnvVars: []string{"STELLAD_PUBLIC_URL"}},
			&cli.StringFlag{Name: "signing-key", Usage: "DSSE signing key URI (file:... or pkcs11:...; default file:DATA/keys/signing.pem)", Destination: &c.signingKey, EnvVars: []string{"STELLAD_SIGNING_KEY"}},
			&cli.StringFlag{Name: "log-key", Usage: "checkpoint key URI (default file:DATA/keys/log.pem)", Destination: &c.logKey, EnvVars: []string{"STELLAD_LOG_KEY"}},
			&cli.StringFlag{Name: "pkcs11-module", Usage: "PKCS#11 module for pkcs11: URIs without module-path", Destination: &c.pkcs11Module, EnvVars: []string{"STELLAD_PKCS11_MODULE"}},
			&cli.StringFlag{Name: "trusted-keys-dir", Usage: "PEM public keys whose DSSE envelopes may be submitted for logging (default DATA/trusted-keys)", Destination: &c.trustedKeysDir},
			&cli.StringFlag{Name: "authorities", Usage: "JSON file naming the trusted Authorities and their JWKS (default DATA/trust/authorities.json)", Destination: &c.trust.authorities, EnvVars: []string{"STELLAD_AUTHORITIES"}},
			&cli.StringFlag{Name: "licence-keys-dir", Usage: "PEM public keys of the vendor's licensing keys (default DATA/trust/licence-keys)", Destination: &c.trust.licenceKeysDir, EnvVars: []string{"STELLAD_LICENCE_KEYS_DIR"}},
			&cli.DurationFlag{Name: "licence-grace", Value: entitlement.DefaultGrace, Usage: "how long an expired licence stays usable", Destination: &c.trust.licenceGrace},
			&cli.StringFlag{Name: "scanner-keys-dir", Usage: "PEM public keys of trusted scanner release keys (default DATA/trust/scanner-keys)", Destination: &c.trust.scannerKeysDir, EnvVars: []string{"STELLAD_SCANNER_KEYS_DIR"}},
			&cli.StringFlag{Name: "scanner-allowlist", Usage: "file of scanner image digests trusted without a signature (default DATA/trust/scanner-allowlist.txt)", Destination: &c.trust.scannerAllowlist, EnvVars: []string{"STELLAD_SCANNER_ALLOWLIST"}},
			&cli.StringFlag{Name: "scanner-untrusted", Value: "refuse", Usage: "refuse or queue (for an admin's approval) requests naming an untrusted scanner digest", Destination: &c.trust.scannerMode},
			&cli.DurationFlag{Name: "audit-anchor-interval", Value: time.Minute, Usage: "how often the audit chain head is appended to the log", Destination: &c.trust.anchorInterval},
			&cli.StringFlag{Name: "kit-keys-dir", Usage: "PEM public keys that sign accepted Offline Kits (default DATA/trust/kit-keys)", Destination: &c.kit.keysDir, EnvVars: []string{"STELLAD_KIT_KEYS_DIR"}},
			&cli.IntFlag{Name: "kit-threshold", Value: 1, Usage: "how many distinct kit keys must sign a kit", Destination: &c.kit.threshold},
			&cli.StringFlag{Name: "kit-signing-key", Usage: "key URI that signs this appliance's exports (development default: file:DATA/keys/kit.pem)", Destination: &c.kit.signingKey, EnvVars: []string{"STELLAD_KIT_SIGNING_KEY"}},
			&cli.StringSliceFlag{Name: "peer", Usage: "ORIGIN=PEM: a peer appliance's log key, to mirror its exports (repeat)", Destination: &c.kit.peers},
			&cli.Int64Flag{Name: "max-kit-bytes", Value: 1 << 30, Usage: "largest Offline Kit accepted for import", Destination: &c.kit.maxBytes},
			&cli.StringFlag{Name: "log-write", Usage: "who may write through the Rekor v2 write API (POST /api/v2/log/entries): token, mtls, open or off (default token; open with --dev)", Destination: &c.sigstore.logWrite, EnvVars: []string{"STELLAD_LOG_WRITE"}},
			&cli.StringFlag{Name: "log-write-tenant", Value: "default", Usage: "tenant recorded for log writers without a token (mtls, open)", Destination: &c.sigstore.logWriteTenant},
			&cli.Float64Flag{Name: "log-write-rate", Value: 50, Usage: "log writes per second allowed per source address (burst twice that)", Destination: &c.sigstore.logWriteRate},
			&cli.StringFlag{Name: "ca-key", Usage: "key URI of the certificate authority that issues signing certificates (development default: file:DATA/keys/ca.pem; empty: no CA)", Destination: &c.sigstore.caKey, EnvVars: []string{"STELLAD_CA_KEY"}},
			&cli.StringFlag{Name: "ca-cert", Usage: "PEM certificate of --ca-key, chain above it after (development default: DATA/sigstore/ca.pem, made on first start)", Destination: &c.sigstore.caCert, EnvVars: []string{"STELLAD_CA_CERT"}},
			&cli.StringFlag{Name: "ct-key", Usage: "key URI of the CA's certificate transparency log (development default: file:DATA/keys/ct.pem)", Destination: &c.sigstore.ctKey, EnvVars: []string{"STELLAD_CT_KEY"}},
			&cli.StringFlag{Name: "tsa-key", Usage: "key URI of the RFC 3161 timestamp authority (development default: file:DATA/keys/tsa.pem; empty: no TSA)", Destination: &c.sigstore.tsaKey, EnvVars: []string{"STELLAD_TSA_KEY"}},
			&cli.StringFlag{Name: "tsa-chain", Usage: "PEM certificate chain of --tsa-key, leaf first (development default: DATA/sigstore/tsa-chain.pem, made on first start)", Destination: &c.sigstore.tsaChain, EnvVars: []string{"STELLAD_TSA_CHAIN"}},
			&cli.StringSliceFlag{Name: "tenant-key", Usage: "TENANT=URI: a tenant's own DSSE signing key (repeat)", Destination: &c.tenantKeys},
			&cli.UintFlag{Name: "batch-size", Value: 0, Usage: "log batch size (0: the tuned default, see docs/performance.md)", Destination: &c.batchSize},
			&cli.DurationFlag{Name: "batch-age", Value: 0, Usage: "log batch age (0: the tuned default)", Destination: &c.batchAge},
			&cli.DurationFlag{Name: "checkpoint-interval", Value: 0, Usage: "interval of the published checkpoint (0: the tuned default; at least 100ms)", Destination: &c.checkpointInterval},
			&cli.Int64Flag{Name: "max-body", Value: 1 << 20, Usage: "largest accepted request body in bytes", Destination: &c.maxBody},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", Destination: &c.logLevel},
			&cli.StringFlag{Name: "debug-listen", Usage: "serve Go's pprof profiles on this loopback address (off by default)", Destination: &c.debugListen},
			&cli.StringFlag{Name: "log-format", Value: "json", Usage: "json or text", Destination: &c.logFormat},
		},
		Action: func(cc *cli.Context) error {
			if cc.NArg() > 0 {
				return configErrorf("serve takes no arguments, got %q", cc.Args().Slice())
			}
			return serve(cc.Context, c, cc.App.ErrWriter)
		},
	}
}

func newLogger(c config, w interface{ Write([]byte) (int, error) }) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, configErrorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, configErrorf("--log-format %q: want json or text", c.logFormat)
}

// resolve fills defaults that depend on other settings and validates.
func (c *config) resolve() (origin string, err error) {
	c.transport.listen = c.listen
	if err := c.transport.check(c.dev); err != nil {
		return "", err
	}
	_, port, _ := net.SplitHostPort(c.listen)
	if c.publicURL == "" {
		scheme := "http"
		if c.transport.tlsCert != "" {
			scheme = "https"
		}
		c.publicURL = scheme + "://localhost:" + port
	}
	u, err := url.Parse(c.publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Path != "" && u.Path != "/" {
		return "", configErrorf("--public-url %q: want http(s)://HOST[:PORT] with no path", c.publicURL)
	}
	c.publicURL = strings.TrimSuffix(c.publicURL, "/")
	abs, err := filepath.Abs(c.dataDir)
	if err != nil {
		return "", configErrorf("--data-dir %q: %v", c.dataDir, err)
	}
	c.dataDir = abs
	if c.signingKey == "" {
		c.signingKey = "file:" + filepath.Join(c.dataDir, "keys", "signing.pem")
	}
	if c.logKey == "" {
		c.logKey = "file:" + filepath.Join(c.dataDir, "keys", "log.pem")
	}
	if c.signingKey == c.logKey {
		return "", configErrorf("--signing-key and --log-key name the same key %s: the log needs a key of its own", c.signingKey)
	}
	switch c.transport.adminSock {
	case "":
		c.transport.adminSock = filepath.Join(c.dataDir, "stellad.sock")
	case "none":
		c.transport.adminSock = ""
	}
	if c.trustedKeysDir == "" {
		c.trustedKeysDir = filepath.Join(c.dataDir, "trusted-keys")
	}
	if err := c.trust.resolve(c.dataDir); err != nil {
		return "", err
	}
	if err := c.sigstore.resolve(c.dev, c.dataDir); err != nil {
		return "", err
	}
	if c.maxBody < 1024 {
		return "", configErrorf("--max-body %d: want at least 1024", c.maxBody)
	}
	return u.Hostname(), nil
}

func serve(ctx context.Context, c config, errw interface{ Write([]byte) (int, error) }) error {
	logger, err := newLogger(c, errw)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)
	// Tessera logs through klog: send its records to the same structured log.
	klog.SetSlogLogger(logger.With("component", "tessera"))
	origin, err := c.resolve()
	if err != nil {
		return err
	}
	tuneGC()
	started := time.Now().UTC()
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}

	opener := keys.NewOpener(keys.Config{Logger: logger, DefaultModule: c.pkcs11Module, Development: c.dev})
	defer opener.Close()
	signingKey, err := openKey(ctx, opener, c.signingKey, c.dev, logger)
	if err != nil {
		return err
	}
	logKey, err := openKey(ctx, opener, c.logKey, c.dev, logger)
	if err != nil {
		return err
	}
	dsseKey, err := signer.NewKey(signingKey, signingKey.URI(), bundle.KeyDetails)
	if err != nil {
		return err
	}
	perTenant := map[string]*signer.Key{}
	for _, tk := range c.tenantKeys.Value() {
		tenant, uri, ok := strings.Cut(tk, "=")
		if !ok || tenant == "" || uri == "" {
			return configErrorf("--tenant-key %q: want TENANT=URI", tk)
		}
		if _, dup := perTenant[tenant]; dup {
			return configErrorf("--tenant-key: tenant %q named twice", tenant)
		}
		k, err := openKey(ctx, opener, uri, c.dev, logger)
		if err != nil {
			return err
		}
		if perTenant[tenant], err = signer.NewKey(k, k.URI(), bundle.KeyDetails); err != nil {
			return err
		}
	}
	keySet, err := signer.NewSet(dsseKey, perTenant)
	if err != nil {
		return err
	}
	logDER, err := x509.MarshalPKIXPublicKey(logKey.Public())
	if err != nil {
		return fmt.Errorf("encoding log public key: %w", err)
	}
	logID := sha256.Sum256(logDER)
	noteSigner, err := bundle.NewNoteSigner(origin, logKey)
	if err != nil {
		return fmt.Errorf("checkpoint signer for origin %q: %w", origin, err)
	}
	noteVerifier, err := bundle.NewNoteVerifier(origin, logKey.Public())
	if err != nil {
		return fmt.Errorf("checkpoint verifier for origin %q: %w", origin, err)
	}

	db, err := store.Open(ctx, store.Config{Path: filepath.Join(c.dataDir, "stellad.db"), Migrations: migrations(), Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	// The log key's validity windows: after a rotation the checkpoint on disk
	// is the retired key's until Tessera publishes the next one.
	start, err := attest.LogKeyStart(ctx, db, logDER, started)
	if err != nil {
		return err
	}
	previousLogKeys, err := previousLogVerifiers(ctx, db, origin, logDER, start, started)
	if err != nil {
		return err
	}
	// The log is opened with a context that outlives ctx (the signal context), so
	// that in-flight appends finish while the HTTP server drains.
	logCtx, cancelLog := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLog()
	tlog, err := translog.New(logCtx, translog.Config{
		Dir:                filepath.Join(c.dataDir, "log"),
		Origin:             origin,
		Signer:             noteSigner,
		Verifier:           noteVerifier,
		PreviousVerifiers:  previousLogKeys,
		BatchMaxSize:       c.batchSize,
		BatchMaxAge:        c.batchAge,
		CheckpointInterval: c.checkpointInterval,
		Logger:             logger,
	})
	if err != nil {
		return fmt.Errorf("opening the transparency log: %w", err)
	}
	// Closed on every return, after the HTTP drain below (defers run last-in,
	// first-out) and before the database, with its own budget: Tessera publishes
	// a checkpoint covering every entry before it stops.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tlog.Close(ctx); err != nil {
			logger.Error("closing the log", "err", err)
		}
	}()
	trusted, err := loadTrustedKeys(c.trustedKeysDir)
	if err != nil {
		return err
	}
	adm, err := buildAdmission(ctx, c, db, logger)
	if err != nil {
		return err
	}
	kitSvc, kitExport, err := buildOffline(ctx, c, opener, db, adm, tlog, logger)
	if err != nil {
		return err
	}
	// The CA and the TSA serve cosign directly and sign keyless for attest.
	ctOrig, err := ctOrigin(c.publicURL)
	if err != nil {
		return err
	}
	sig, err := buildSigstore(ctx, c, opener, ctOrig, logger)
	if err != nil {
		return err
	}
	defer sig.close()
	mx := metrics.New()
	svc, err := attest.New(ctx, attest.Config{
		DB: db, Log: tlog, Keys: keySet, LogID: logID[:], TrustedKeys: trusted, Logger: logger, Metrics: mx,
		Admission: &attest.Admission{Auth: adm.auth, Entitlement: adm.ent, Scanner: adm.scanner, Audit: adm.trail,
			ScannerPredicates: attest.DefaultScannerPredicates, Offline: kitSvc, KitExport: kitExport},
		Certifier: sig.certifier(), Timestamper: sig.timestamper(),
	})
	if err != nil {
		return err
	}
	rep, err := svc.Reconcile(ctx)
	if err != nil {
		return err
	}
	logger.Info("reconciled", "pending", rep.Pending, "logged", rep.Logged, "abandoned", rep.Abandoned,
		"scanned", rep.Scanned, "tree_size", rep.TreeSize)

	trustedRoot, err := sig.trustedRoot(ctx, db, c.publicURL, logDER, start, started)
	if err != nil {
		return fmt.Errorf("building the trusted root: %w", err)
	}
	sigConfig, err := signingConfig(c.publicURL, start, sig.ca != nil, sig.tsa != nil)
	if err != nil {
		return fmt.Errorf("building the signing config: %w", err)
	}
	apiKeys, err := describeKeys(map[string]keys.Key{"dsse": signingKey, "checkpoint": logKey})
	if err != nil {
		return err
	}

	adminGID := c.transport.groupID(logger)
	var ready atomic.Bool
	srv, err := api.New(api.Config{
		Attest: svc, Log: logInfo{tlog}, LogKeyID: logID[:], BaseURL: c.publicURL, Keys: apiKeys, TrustedRoot: trustedRoot,
		Ready: ready.Load, System: systemStatus(started, c.dev), MaxBodyBytes: c.maxBody, Logger: logger, Metrics: mx.Handler(),
		Auth: adm.auth, Peer: api.PeerPrincipal(adminGID), Admin: svc, MaxKitBytes: c.kit.maxBytes, Mirror: mirrorFor(kitSvc),
		SigningConfig: sigConfig, Counters: mx,
		CA: caIssuer(sig), Identity: caIdentity(sig, adm.auth), CTLog: ctHandler(sig), TSA: tsaOf(sig),
		LogWrite: api.LogWrite{Mode: c.sigstore.logWrite, Tenant: c.sigstore.logWriteTenant, Rate: c.sigstore.logWriteRate, Burst: int(2 * c.sigstore.logWriteRate)},
	})
	if err != nil {
		return err
	}
	tlsCfg, err := c.transport.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return configErrorf("listening on %s: %v", c.listen, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	adminLn, err := c.transport.listenAdmin(adminGID)
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if c.debugListen != "" {
		if err := serveDebug(c.debugListen, logger); err != nil {
			return err
		}
	}
	hk := startHousekeeping(svc, adm.auth, c.trust.anchorInterval, origin, logger)
	defer hk.stop()
	serveErr := make(chan error, 2)
	go func() { serveErr <- hs.Serve(ln) }()
	var as *http.Server
	if adminLn != nil {
		as = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: hs.ErrorLog, ConnContext: api.WithUnixConn}
		go func() { serveErr <- as.Serve(adminLn) }()
	}
	ready.Store(true)
	logger.Info("serving", "listen", ln.Addr().String(), "tls", tlsCfg != nil, "admin_socket", c.transport.adminSock, "public_url", c.publicURL, "origin", origin,
		"data_dir", c.dataDir, "signing_key", signingKey.URI(), "log_key", logKey.URI(), "dev", c.dev)
	if adm.dev != nil {
		logger.Info("development credentials", "token_file", adm.dev.tokenFile, "dpop_key", adm.dev.dpopKeyFile, "tenant", devTenant)
		fmt.Fprintf(errw, "stellad: development mode: sign with\n  export STELLAD_TOKEN_FILE=%s STELLAD_DPOP_KEY=%s\n", adm.dev.tokenFile, adm.dev.dpopKeyFile)
		if adm.dev.idTokenFile != "" {
			fmt.Fprintf(errw, "  cosign keyless: --identity-token %s (issuer %s)\n", adm.dev.idTokenFile, adm.dev.issuer)
		}
	}
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		logger.Warn("systemd notify failed", "err", err)
	} else if ok {
		logger.Debug("notified systemd: ready")
	}

	// A listener that fails ends the daemon through the same orderly shutdown
	// as a signal: the other listener drains, the log and the database close.
	var runErr error
	select {
	case err := <-serveErr:
		runErr = fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	ready.Store(false)
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	// In-flight requests finish first (their durable part is bounded by 30 s), then the log.
	shCtx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		logger.Error("HTTP shutdown", "err", err)
	}
	if as != nil {
		if err := as.Shutdown(shCtx); err != nil {
			logger.Error("admin socket shutdown", "err", err)
		}
		_ = os.Remove(c.transport.adminSock)
	}
	return runErr
}

// openKey opens uri; in development mode a missing file key is created.
func openKey(ctx context.Context, o *keys.Opener, uri string, dev bool, logger *slog.Logger) (keys.Key, error) {
	k, err := o.Open(ctx, uri)
	if err == nil {
		return k, nil
	}
	if dev && strings.HasPrefix(uri, "file:") && errors.Is(err, os.ErrNotExist) {
		k, gerr := o.Generate(ctx, uri)
		if gerr != nil {
			return nil, fmt.Errorf("creating development key %s: %w", uri, gerr)
		}
		logger.Info("created development key", "key_uri", k.URI())
		return k, nil
	}
	return nil, fmt.Errorf("opening key %s: %w", uri, err)
}

func describeKeys(m map[string]keys.Key) ([]apitype.Key, error) {
	var out []apitype.Key
	for _, purpose := range []string{"dsse", "checkpoint"} {
		k := m[purpose]
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, fmt.Errorf("encoding %s key: %w", purpose, err)
		}
		sum := sha256.Sum256(der)
		alg, err := bundle.KeyDetails(k.Public())
		if err != nil {
			return nil, fmt.Errorf("%s key %s: %w", purpose, k.URI(), err)
		}
		out = append(out, apitype.Key{
			Purpose: purpose, URI: k.URI(), KeyID: hex.EncodeToString(sum[:]), Algorithm: alg,
			PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		})
	}
	return out, nil
}

// loadTrustedKeys reads every *.pem public key in dir; a missing dir is empty.
func loadTrustedKeys(dir string) ([]crypto.PublicKey, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading trusted keys in %s: %w", dir, err)
	}
	var out []crypto.PublicKey
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading trusted key %s: %w", p, err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PUBLIC KEY" {
			return nil, configErrorf("trusted key %s: want a PEM \"PUBLIC KEY\" block", p)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, configErrorf("trusted key %s: %v", p, err)
		}
		out = append(out, pub)
	}
	return out, nil
}

// migrations is the schema of every domain; each owns fixed version numbers.
func migrations() []store.Migration {
	return slices.Concat(attest.Migrations(), authn.Migrations(), entitlement.Migrations(), audit.Migrations(), policy.Migrations(),
		offline.Migrations())
}

// tuneGC trades memory the appliance has for CPU it lacks: the collector runs
// at GOGC=400 (measured: about 18% less CPU per attestation than the default
// 100, docs/performance.md) under a soft limit of 200 MiB that keeps the
// daemon within its 256 MiB budget under load. GOGC and GOMEMLIMIT in the
// environment take precedence.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(200 << 20)
	}
}
