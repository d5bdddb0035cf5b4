package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/offline"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
)

// kitConfig is what the Offline Kit service is told.
type kitConfig struct {
	keysDir    string
	threshold  int
	signingKey string
	peers      cli.StringSlice
	maxBytes   int64
}

// buildOffline opens the Offline Kit service when kit keys are configured
// (in development mode the appliance's own kit key is trusted too); without
// kit keys the kit routes answer not_configured.
func buildOffline(ctx context.Context, c config, opener *keys.Opener, db *store.DB, adm *admissionParts, tlog *translog.Log, logger *slog.Logger) (*offline.Service, offline.ExportOptions, error) {
	var exp offline.ExportOptions
	dir := c.kit.keysDir
	if dir == "" {
		dir = filepath.Join(c.dataDir, "trust", "kit-keys")
	}
	kitKeys, err := loadTrustedKeys(dir)
	if err != nil {
		return nil, exp, err
	}
	uri := c.kit.signingKey
	if uri == "" && c.dev {
		uri = "file:" + filepath.Join(c.dataDir, "keys", "kit.pem")
	}
	if uri != "" {
		k, err := openKey(ctx, opener, uri, c.dev, logger)
		if err != nil {
			return nil, exp, err
		}
		exp.Signers = []crypto.Signer{k}
		if c.dev {
			kitKeys = append(kitKeys, k.Public())
		}
	}
	var peers []offline.Peer
	for _, p := range c.kit.peers.Value() {
		origin, file, ok := strings.Cut(p, "=")
		if !ok || origin == "" || file == "" {
			return nil, exp, configErrorf("--peer %q: want ORIGIN=PEM", p)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, exp, configErrorf("--peer %s: %v", origin, err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, exp, configErrorf("--peer %s: %s holds no PEM block", origin, file)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, exp, configErrorf("--peer %s: %v", origin, err)
		}
		peers = append(peers, offline.Peer{Origin: origin, Key: pub})
	}
	if len(kitKeys) == 0 {
		logger.Info("no kit keys configured: Offline Kit import is off", "kit_keys_dir", dir)
		return nil, exp, nil
	}
	if c.kit.threshold < 1 || c.kit.threshold > len(kitKeys) {
		return nil, exp, configErrorf("--kit-threshold %d with %d kit keys", c.kit.threshold, len(kitKeys))
	}
	svc, err := offline.New(ctx, offline.Config{DB: db, DataDir: c.dataDir, KitKeys: kitKeys, KitThreshold: c.kit.threshold,
		Peers: peers, Entitlement: adm.ent, Logger: logger,
		CheckJWKS: authn.CheckJWKS, CheckReleaseKey: checkReleaseKey,
		OnTrustChanged: func(in offline.Installed) { adm.applyInstalled(in, logger) }})
	if err != nil {
		return nil, exp, fmt.Errorf("opening the Offline Kit service: %w", err)
	}
	exp.Log, exp.LogDir, exp.CreatedBy = tlog, filepath.Join(c.dataDir, "log"), "stellad "+version
	return svc, exp, nil
}

// mirrorFor serves peers' mirrored logs, or nothing without the kit service.
func mirrorFor(svc *offline.Service) func(string) http.Handler {
	if svc == nil {
		return nil
	}
	return svc.MirrorHandler
}
