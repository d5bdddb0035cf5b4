package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/offline"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/internal/store"
)

// trustConfig is where the admission checks find what they trust. Every path
// defaults to a place under DATA/trust.
type trustConfig struct {
	authorities      string        // JSON: {"authorities":[{"issuer":URL,"jwks":{...}}]}
	licenceKeysDir   string        // *.pem: the vendor's licensing public keys
	scannerKeysDir   string        // *.pem: trusted scanner release keys
	scannerAllowlist string        // one sha256:HEX per line, '#' comments
	scannerMode      string        // refuse or queue
	licenceGrace     time.Duration // grace after a licence's notAfter
	anchorInterval   time.Duration // how often the audit chain head is logged
}

func (t *trustConfig) resolve(dataDir string) error {
	dir := filepath.Join(dataDir, "trust")
	if t.authorities == "" {
		t.authorities = filepath.Join(dir, "authorities.json")
	}
	if t.licenceKeysDir == "" {
		t.licenceKeysDir = filepath.Join(dir, "licence-keys")
	}
	if t.scannerKeysDir == "" {
		t.scannerKeysDir = filepath.Join(dir, "scanner-keys")
	}
	if t.scannerAllowlist == "" {
		t.scannerAllowlist = filepath.Join(dir, "scanner-allowlist.txt")
	}
	switch t.scannerMode {
	case "", policy.OnUntrustedRefuse, policy.OnUntrustedQueue:
	default:
		return configErrorf("--scanner-untrusted %q: want refuse or queue", t.scannerMode)
	}
	if t.licenceGrace < 0 {
		return configErrorf("--licence-grace %s: must not be negative", t.licenceGrace)
	}
	if t.anchorInterval < time.Second {
		return configErrorf("--audit-anchor-interval %s: want at least 1s", t.anchorInterval)
	}
	return nil
}

// authoritiesFile is the trust configuration's list of Authorities.
type authoritiesFile struct {
	Authorities []struct {
		Issuer string          `json:"issuer"`
		JWKS   json.RawMessage `json:"jwks"`
	} `json:"authorities"`
}

// loadAuthorities reads the Authorities file; a missing file is an empty list.
func loadAuthorities(path string) ([]authn.Issuer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, configErrorf("reading --authorities: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f authoritiesFile
	if err := dec.Decode(&f); err != nil {
		return nil, configErrorf("--authorities %s: %v", path, err)
	}
	var out []authn.Issuer
	for i, a := range f.Authorities {
		if a.Issuer == "" || len(a.JWKS) == 0 {
			return nil, configErrorf("--authorities %s: entry %d needs issuer and jwks", path, i)
		}
		out = append(out, authn.Issuer{URL: a.Issuer, JWKS: a.JWKS})
	}
	return out, nil
}

// loadAllowlist reads one digest per line; blank lines and '#' comments are skipped.
func loadAllowlist(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, configErrorf("reading --scanner-allowlist: %v", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !policy.ValidDigest(line) {
			return nil, configErrorf("--scanner-allowlist %s line %d: %q is not sha256:<64 lower-case hex>", path, n, line)
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// admissionParts are the admission domains, built from the trust configuration.
type admissionParts struct {
	auth    *authn.Authenticator
	ent     *entitlement.Manager
	scanner *policy.Checker
	trail   *audit.Trail
	dev     *devMaterial

	// The operator's own trust (--authorities, --scanner-keys-dir, and the
	// development Authority), the base that kits add to.
	baseIssuers     []authn.Issuer
	baseScannerKeys []crypto.PublicKey
}

// buildAdmission opens the admission domains on db. In development mode the
// local Authority and licence vendor are trusted too, and a licence for
// tenant is issued and imported when none is in force.
func buildAdmission(ctx context.Context, c config, db *store.DB, logger *slog.Logger) (*admissionParts, error) {
	issuers, err := loadAuthorities(c.trust.authorities)
	if err != nil {
		return nil, err
	}
	vendorKeys, err := loadTrustedKeys(c.trust.licenceKeysDir)
	if err != nil {
		return nil, err
	}
	scannerKeys, err := loadTrustedKeys(c.trust.scannerKeysDir)
	if err != nil {
		return nil, err
	}
	allow, err := loadAllowlist(c.trust.scannerAllowlist)
	if err != nil {
		return nil, err
	}
	p := &admissionParts{}
	if c.dev {
		if p.dev, err = setUpDev(c.dataDir, c.publicURL, devTenant, time.Now()); err != nil {
			return nil, fmt.Errorf("development mode: %w", err)
		}
		issuers = append(issuers, authn.Issuer{URL: p.dev.issuer, JWKS: p.dev.jwks})
		vendorKeys = append(vendorKeys, p.dev.vendorKey.Public())
	}
	p.baseIssuers, p.baseScannerKeys = issuers, scannerKeys
	installed, err := offline.InstalledTrust(ctx, db)
	if err != nil {
		return nil, err
	}
	issuers, scannerKeys = p.merge(installed, logger)
	if len(issuers) == 0 {
		return nil, configErrorf("no Authority is trusted: write %s (see docs/tokens.md); every request would be refused", c.trust.authorities)
	}
	if len(vendorKeys) == 0 {
		return nil, configErrorf("no licence vendor key in %s (see docs/licences-and-quotas.md); every signing request would be refused", c.trust.licenceKeysDir)
	}
	if p.auth, err = authn.New(ctx, authn.Config{Issuers: issuers, DB: db, Logger: logger}); err != nil {
		return nil, err
	}
	if p.ent, err = entitlement.New(ctx, entitlement.Config{DB: db, VendorKeys: vendorKeys, Grace: c.trust.licenceGrace, Logger: logger}); err != nil {
		return nil, err
	}
	if p.scanner, err = policy.New(ctx, policy.Config{DB: db, ReleaseKeys: scannerKeys, Allowlist: allow, OnUntrusted: c.trust.scannerMode, Logger: logger}); err != nil {
		return nil, err
	}
	if p.trail, err = audit.New(ctx, audit.Config{DB: db, Logger: logger}); err != nil {
		return nil, err
	}
	if p.dev != nil {
		if err := devLicence(ctx, p, logger); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// merge adds the Authorities and scanner release keys kits installed to the
// operator's own. An issuer the operator configured keeps the operator's
// JWKS: a kit never shadows it. Revocations carried by kits remove scanner
// release keys, the operator's included.
func (p *admissionParts) merge(in offline.Installed, logger *slog.Logger) ([]authn.Issuer, []crypto.PublicKey) {
	issuers := slices.Clone(p.baseIssuers)
	for _, a := range in.Authorities {
		if slices.ContainsFunc(p.baseIssuers, func(is authn.Issuer) bool { return is.URL == a.Issuer }) {
			logger.Warn("kit Authority ignored: the operator's configuration names this issuer", "issuer", a.Issuer, "kit_source", a.Source, "kit_sequence", a.Sequence)
			continue
		}
		issuers = append(issuers, authn.Issuer{URL: a.Issuer, JWKS: a.JWKS})
	}
	var keys []crypto.PublicKey
	seen := map[string]bool{}
	for _, k := range p.baseScannerKeys {
		id, err := offline.KeyID(k)
		if err != nil {
			continue // policy.New reports the key
		}
		if slices.Contains(in.RevokedKeyIDs, id) {
			logger.Warn("configured scanner release key revoked by a kit: not trusted", "key_id", id)
			continue
		}
		if !seen[id] {
			seen[id] = true
			keys = append(keys, k)
		}
	}
	for _, k := range in.ScannerKeys {
		if !seen[k.KeyID] {
			seen[k.KeyID] = true
			keys = append(keys, k.Key)
		}
	}
	return issuers, keys
}

// applyInstalled is the Offline Kit service's OnTrustChanged: it swaps the
// authenticator's issuers and the release checker's keys for the merge of
// the operator's trust and what kits installed.
func (p *admissionParts) applyInstalled(in offline.Installed, logger *slog.Logger) {
	issuers, keys := p.merge(in, logger)
	if changed, err := p.auth.SetIssuers(issuers); err != nil {
		logger.Error("installing kit Authorities", "err", err)
	} else if len(changed) > 0 {
		logger.Info("trusted Authorities updated from a kit", "changed", changed, "issuers", len(issuers))
	}
	if err := p.scanner.SetReleaseKeys(keys); err != nil {
		logger.Error("installing kit scanner release keys", "err", err)
	}
}

// checkReleaseKey is the Offline Kit service's CheckReleaseKey: the release
// checker's key rules.
func checkReleaseKey(pub crypto.PublicKey) error {
	_, err := policy.KeyID(pub)
	return err
}

// devTenant is the tenant of development mode's token and licence.
const devTenant = "default"

// devLicence imports a fresh development licence when the development tenant
// has none in force.
func devLicence(ctx context.Context, p *admissionParts, logger *slog.Logger) error {
	if d, err := p.ent.Check(devTenant); err == nil && d.State == entitlement.StateValid {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Second)
	doc, err := entitlement.SignLicence(p.dev.vendorKey, entitlement.Licence{
		LicenceID: devLicenceID(p.dev.vendorKey.Public()), Licensee: "development", Tenants: []string{devTenant},
		Plan: "development", NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour), IssuedAt: now,
	})
	if err != nil {
		return fmt.Errorf("development licence: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(p.dev.dir, "licence.dsse.json"), doc, 0o644); err != nil {
		return err
	}
	if _, err := p.ent.Import(ctx, doc, "stellad --dev", func(tx *sql.Tx, e entitlement.Event) error {
		return p.trail.Append(tx, audit.Record{Time: e.Time, Tenant: devTenant, Principal: e.Actor, Action: audit.ActionLicenceImport,
			Decision: audit.DecisionAllow, PoEState: "imported:" + e.Licence.LicenceID})
	}); err != nil {
		return fmt.Errorf("importing the development licence: %w", err)
	}
	logger.Info("imported a development licence", "tenant", devTenant)
	return nil
}
