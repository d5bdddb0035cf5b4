package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/kit"
)

// Paths of the Authority and scanner release keys a kit carries.
const (
	// AuthoritiesPath holds Authorities and their JWKS, in the form of the
	// daemon's --authorities file (ParseAuthorities).
	AuthoritiesPath = "trust/authorities.json"
	// ScannerKeysDir holds scanner release keys, one PEM public key per
	// file named NAME.pem (ParseScannerKey), directly below it.
	ScannerKeysDir = "trust/scanner-keys/"
)

// Bounds on the Authority and scanner release keys of one kit.
const (
	MaxAuthorities = 64
	MaxScannerKeys = 256
	maxIssuerLen   = 1024
)

// Authority is an Authority whose access tokens the appliance accepts:
// its issuer identifier and its JSON Web Key Set document.
type Authority struct {
	Issuer string
	// JWKS is the Authority's JWKS, compacted JSON.
	JWKS []byte
	// Source and Sequence name the kit that installed it (empty when
	// parsed from a file).
	Source   string
	Sequence uint64
}

// ScannerKey is a scanner release key installed by a kit.
type ScannerKey struct {
	// Name is the file name in the kit without ".pem".
	Name string
	// KeyID is the lower-case hex SHA-256 of DER (KeyID).
	KeyID string
	DER   []byte
	Key   crypto.PublicKey
}

// Installed is the Authority and scanner release key trust kits installed,
// on top of the daemon's own configuration: for each issuer the JWKS of the
// newest accepted kit that carried it, every scanner release key any kit
// carried and no revocation names, and the key ids revoked by kits (which
// the daemon applies to its configured release keys too).
type Installed struct {
	Authorities   []Authority  // sorted by issuer
	ScannerKeys   []ScannerKey // sorted by name, then key id
	RevokedKeyIDs []string     // sorted
}

// ParseAuthorities parses trust/authorities.json,
// {"authorities":[{"issuer":URL,"jwks":{...}}]}, strictly: member names
// must match exactly (encoding/json alone would accept "Issuer"), unknown
// or duplicate members (at any depth, inside the JWKS too), trailing data,
// no or more than MaxAuthorities entries, an issuer listed twice, an issuer
// that is not an absolute http(s) URL without query, fragment or user
// information, or a jwks member that is not a JSON object are refused. The
// JWKS itself is checked by the caller with the authenticator's rules
// (Config.CheckJWKS); it is returned compacted.
func ParseAuthorities(data []byte) ([]Authority, error) {
	if err := checkDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("authorities: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, fmt.Errorf("authorities: not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("authorities: data after the object")
	}
	for k := range top {
		if k != "authorities" {
			return nil, fmt.Errorf("authorities: unknown member %q", truncate(k))
		}
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(top["authorities"], &entries); err != nil {
		return nil, fmt.Errorf("authorities: \"authorities\" is not an array of objects: %v", err)
	}
	if len(entries) == 0 {
		return nil, errors.New("authorities: no \"authorities\" entry")
	}
	if len(entries) > MaxAuthorities {
		return nil, fmt.Errorf("authorities: %d entries, limit %d", len(entries), MaxAuthorities)
	}
	out := make([]Authority, 0, len(entries))
	seen := map[string]bool{}
	for i, e := range entries {
		for k := range e {
			if k != "issuer" && k != "jwks" {
				return nil, fmt.Errorf("authorities[%d]: unknown member %q", i, truncate(k))
			}
		}
		rawIss, rawJWKS := e["issuer"], bytes.TrimSpace(e["jwks"])
		if rawIss == nil || rawJWKS == nil {
			return nil, fmt.Errorf("authorities[%d]: needs issuer and jwks", i)
		}
		var iss string
		if err := json.Unmarshal(rawIss, &iss); err != nil {
			return nil, fmt.Errorf("authorities[%d]: issuer is not a string", i)
		}
		if err := checkIssuer(iss); err != nil {
			return nil, fmt.Errorf("authorities[%d]: %w", i, err)
		}
		if seen[iss] {
			return nil, fmt.Errorf("authorities[%d]: issuer %s listed twice", i, iss)
		}
		seen[iss] = true
		if len(rawJWKS) == 0 || rawJWKS[0] != '{' {
			return nil, fmt.Errorf("authorities[%d]: jwks of %s is not a JSON object", i, iss)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, rawJWKS); err != nil {
			return nil, fmt.Errorf("authorities[%d]: jwks of %s: %w", i, iss, err)
		}
		out = append(out, Authority{Issuer: iss, JWKS: buf.Bytes()})
	}
	return out, nil
}

// checkIssuer accepts an absolute http or https URL with a host and
// without user information, query or fragment (an OAuth issuer
// identifier, RFC 8414 §2; http is allowed for closed networks).
func checkIssuer(s string) error {
	if s == "" || len(s) > maxIssuerLen || !utf8.ValidString(s) || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("issuer %q is not a URL of at most %d bytes", truncate(s), maxIssuerLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("issuer %q is not an absolute http(s) URL without user, query or fragment", truncate(s))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}

// ParseScannerKey parses a file of trust/scanner-keys/: exactly one PEM
// "PUBLIC KEY" block (PKIX) without headers, nothing but whitespace around
// it, as the daemon's --scanner-keys-dir holds. Whether the key type is one
// release signatures may use is checked by the caller
// (Config.CheckReleaseKey).
func ParseScannerKey(data []byte) (crypto.PublicKey, []byte, error) {
	if bytes.Count(data, []byte("-----BEGIN")) != 1 || !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		return nil, nil, errors.New("scanner key: want exactly one PEM block and no text before it")
	}
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, nil, errors.New("scanner key: malformed PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, errors.New("scanner key: text after the PEM block")
	}
	if b.Type != "PUBLIC KEY" || len(b.Headers) != 0 {
		return nil, nil, fmt.Errorf("scanner key: block %q with %d headers, want PUBLIC KEY without headers", b.Type, len(b.Headers))
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("scanner key: %w", err)
	}
	return pub, b.Bytes, nil
}

// scannerKeyName returns NAME for trust/scanner-keys/NAME.pem, or false.
func scannerKeyName(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, ScannerKeysDir)
	if !ok || strings.Contains(rest, "/") || path.Ext(rest) != ".pem" {
		return "", false
	}
	name := strings.TrimSuffix(rest, ".pem")
	return name, name != "" && len(name) <= 128
}

// InstalledTrust reads the Authorities and scanner release keys kits have
// installed in db (migrated with Migrations), without a Service: the daemon
// calls it at start to merge them with its own configuration before it
// builds the authenticator.
func InstalledTrust(ctx context.Context, db *store.DB) (Installed, error) {
	tx, err := db.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Installed{}, fmt.Errorf("offline: reading installed trust: %w", err)
	}
	defer tx.Rollback()
	return readInstalled(ctx, tx)
}

// Installed is InstalledTrust on the Service's database.
func (s *Service) Installed(ctx context.Context) (Installed, error) {
	return InstalledTrust(ctx, s.cfg.DB)
}

// readInstalled reads the installed trust through q (a read transaction,
// or the import's write transaction after its writes).
func readInstalled(ctx context.Context, q querier) (Installed, error) {
	var in Installed
	rows, err := q.QueryContext(ctx, `SELECT a.issuer, a.jwks, i.source, i.sequence FROM kit_authorities a JOIN kit_imports i ON i.id = a.import_id
		WHERE a.import_id = (SELECT MAX(b.import_id) FROM kit_authorities b WHERE b.issuer = a.issuer) ORDER BY a.issuer`)
	if err != nil {
		return Installed{}, fmt.Errorf("offline: reading installed authorities: %w", err)
	}
	for rows.Next() {
		var a Authority
		var seq int64
		if err := rows.Scan(&a.Issuer, &a.JWKS, &a.Source, &seq); err != nil {
			rows.Close()
			return Installed{}, fmt.Errorf("offline: reading installed authorities: %w", err)
		}
		a.Sequence = uint64(seq)
		in.Authorities = append(in.Authorities, a)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Installed{}, fmt.Errorf("offline: reading installed authorities: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT name, key_id, der FROM kit_scanner_keys
		WHERE key_id NOT IN (SELECT key_id FROM kit_revocations) ORDER BY name, key_id`)
	if err != nil {
		return Installed{}, fmt.Errorf("offline: reading installed scanner keys: %w", err)
	}
	for rows.Next() {
		var k ScannerKey
		if err := rows.Scan(&k.Name, &k.KeyID, &k.DER); err != nil {
			rows.Close()
			return Installed{}, fmt.Errorf("offline: reading installed scanner keys: %w", err)
		}
		if k.Key, err = x509.ParsePKIXPublicKey(k.DER); err != nil {
			rows.Close()
			return Installed{}, fmt.Errorf("offline: installed scanner key %s: %w", k.Name, err)
		}
		in.ScannerKeys = append(in.ScannerKeys, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Installed{}, fmt.Errorf("offline: reading installed scanner keys: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT key_id FROM kit_revocations ORDER BY key_id`)
	if err != nil {
		return Installed{}, fmt.Errorf("offline: reading revocations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return Installed{}, fmt.Errorf("offline: reading revocations: %w", err)
		}
		in.RevokedKeyIDs = append(in.RevokedKeyIDs, id)
	}
	if err := rows.Err(); err != nil {
		return Installed{}, fmt.Errorf("offline: reading revocations: %w", err)
	}
	return in, nil
}

// checkAuthorities parses trust/authorities.json, if the kit carries it,
// and checks every JWKS with Config.CheckJWKS.
func (s *Service) checkAuthorities(k *kit.Kit, p *plan) error {
	data, ok := k.File(AuthoritiesPath)
	if !ok {
		return nil
	}
	if s.cfg.CheckJWKS == nil {
		return refuse(ErrContent, AuthoritiesPath, nil, "this appliance does not install Authority keys from kits")
	}
	as, err := ParseAuthorities(data)
	if err != nil {
		return refuse(ErrContent, AuthoritiesPath, err, "")
	}
	for _, a := range as {
		if err := s.cfg.CheckJWKS(a.JWKS); err != nil {
			return refuse(ErrContent, AuthoritiesPath, err, "JWKS of issuer %s", a.Issuer)
		}
	}
	p.authorities, p.trust = as, true
	return nil
}

// checkScannerKeys parses the kit's trust/scanner-keys/NAME.pem files:
// each must hold a key Config.CheckReleaseKey accepts, no key may appear
// twice, and none may be revoked (revocations installed before or carried
// by this kit).
func (s *Service) checkScannerKeys(k *kit.Kit, p *plan, files []kit.File, revoked map[string]Revocation) error {
	if len(files) == 0 {
		return nil
	}
	if s.cfg.CheckReleaseKey == nil {
		return refuse(ErrContent, files[0].Path, nil, "this appliance does not install scanner release keys from kits")
	}
	if len(files) > MaxScannerKeys {
		return refuse(ErrContent, ScannerKeysDir, nil, "%d scanner keys, limit %d", len(files), MaxScannerKeys)
	}
	seen := map[string]string{}
	for _, f := range files {
		name, _ := scannerKeyName(f.Path)
		data, _ := k.File(f.Path)
		pub, der, err := ParseScannerKey(data)
		if err != nil {
			return refuse(ErrContent, f.Path, err, "")
		}
		if err := s.cfg.CheckReleaseKey(pub); err != nil {
			return refuse(ErrContent, f.Path, err, "scanner release key")
		}
		id, err := KeyID(pub)
		if err != nil {
			return refuse(ErrContent, f.Path, err, "")
		}
		if other, dup := seen[id]; dup {
			return refuse(ErrContent, f.Path, nil, "the same key as %s", other)
		}
		seen[id] = f.Path
		if revoked[id].KeyID != "" {
			return refuse(ErrRevoked, f.Path, nil, "installs revoked scanner release key %s", id)
		}
		p.scannerKeys = append(p.scannerKeys, ScannerKey{Name: name, KeyID: id, DER: der, Key: pub})
	}
	p.trust = true
	return nil
}

// writeTrust records the kit's Authorities and scanner keys in the import's
// transaction and notes them in res.
func writeTrust(ctx context.Context, tx *sql.Tx, p *plan, importID int64, res *ImportResult) error {
	for _, a := range p.authorities {
		var cur []byte
		err := tx.QueryRowContext(ctx, `SELECT jwks FROM kit_authorities WHERE issuer = ? ORDER BY import_id DESC LIMIT 1`, a.Issuer).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading the installed JWKS of %s: %w", a.Issuer, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO kit_authorities (import_id, issuer, jwks) VALUES (?, ?, ?)`, importID, a.Issuer, a.JWKS); err != nil {
			return fmt.Errorf("recording the JWKS of %s: %w", a.Issuer, err)
		}
		if !bytes.Equal(cur, a.JWKS) {
			res.Authorities = append(res.Authorities, a.Issuer)
		}
	}
	if len(res.Authorities) > 0 {
		res.Installed = append(res.Installed, "authorities")
	}
	for _, k := range p.scannerKeys {
		r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO kit_scanner_keys (key_id, name, der, import_id) VALUES (?, ?, ?, ?)`, k.KeyID, k.Name, k.DER, importID)
		if err != nil {
			return fmt.Errorf("recording scanner key %s: %w", k.Name, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			res.ScannerKeys = append(res.ScannerKeys, k.Name)
		}
	}
	if len(res.ScannerKeys) > 0 {
		res.Installed = append(res.Installed, "scanner_keys")
	}
	return nil
}
