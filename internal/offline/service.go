package offline

import (
	"context"
	"crypto"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/dsse"
	"github.com/stellaops/stellad/kit/witness"
)

// Peer is another appliance whose log this one mirrors: its checkpoint
// origin and checkpoint public key (ECDSA P-256 or Ed25519).
type Peer struct {
	Origin string
	Key    crypto.PublicKey
}

// Config configures New.
type Config struct {
	// DB is the open database, migrated with Migrations(). Required.
	DB *store.DB
	// DataDir is the appliance's data directory: mirrored tiles go under
	// DataDir/mirror/<origin>/ (C2SP tlog-tiles layout) and Export reads
	// the log's tiles from DataDir/log unless told otherwise. Required.
	DataDir string
	// KitKeys and KitThreshold are the operator's initial kit keys (from the
	// trust configuration), in force until a kit installs trust/kit-keys.pem.
	// KitThreshold 0 means 1. Required.
	KitKeys      []crypto.PublicKey
	KitThreshold int
	// Peers are appliances whose checkpoints are accepted besides the logs of
	// the installed trusted root.
	Peers []Peer
	// Entitlement imports licences carried in entitlements/; nil refuses
	// kits that carry licences.
	Entitlement *entitlement.Manager
	// CheckJWKS validates each Authority JWKS of trust/authorities.json
	// with the authenticator's rules (the daemon passes authn.CheckJWKS);
	// nil refuses kits that carry trust/authorities.json.
	CheckJWKS func(jwks []byte) error
	// CheckReleaseKey validates each key of trust/scanner-keys/ with the
	// release checker's rules (the daemon passes a wrapper of
	// policy.KeyID); nil refuses kits that carry scanner keys.
	CheckReleaseKey func(pub crypto.PublicKey) error
	// OnTrustChanged, when set, is called after an import that carried
	// Authorities, scanner release keys or revocations has committed, with
	// everything kits have installed (as Installed returns it, read in the
	// import's transaction). Calls are made one at a time, in commit order,
	// from the importing goroutine; the hook must not call Import.
	OnTrustChanged func(Installed)
	// Limits bound the kits Import reads; zero fields take kit's defaults.
	Limits kit.Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives imports and refusals; nil discards.
	Logger *slog.Logger
}

// Service imports and exports Offline Kits against the appliance's state.
// Its methods are safe for concurrent use; imports run one at a time. All
// state lives in the database and the mirror directory, so a Service holds
// nothing that a restart would lose.
type Service struct {
	cfg      Config
	mirror   string
	importMu sync.Mutex
	exportMu sync.Mutex

	// hook, when set (tests only), is called at named points of Import.
	hook func(stage string)
}

// New checks cfg, fills its defaults and removes mirror files that no
// committed state references (left by an import that was killed before it
// committed).
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DB == nil {
		return nil, errors.New("offline: Config.DB is nil")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("offline: Config.DataDir is empty")
	}
	if len(cfg.KitKeys) == 0 {
		return nil, errors.New("offline: Config.KitKeys is empty")
	}
	for i, k := range cfg.KitKeys {
		if _, err := dsse.HashFor(k); err != nil {
			return nil, fmt.Errorf("offline: Config.KitKeys[%d]: %w", i, err)
		}
	}
	if cfg.KitThreshold == 0 {
		cfg.KitThreshold = 1
	}
	if cfg.KitThreshold < 0 || cfg.KitThreshold > len(cfg.KitKeys) {
		return nil, fmt.Errorf("offline: Config.KitThreshold %d with %d keys", cfg.KitThreshold, len(cfg.KitKeys))
	}
	for i, p := range cfg.Peers {
		if !validOrigin(p.Origin) || p.Key == nil {
			return nil, fmt.Errorf("offline: Config.Peers[%d]: origin %q or key missing", i, p.Origin)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, mirror: filepath.Join(cfg.DataDir, "mirror")}
	if err := os.MkdirAll(s.mirror, 0o700); err != nil {
		return nil, fmt.Errorf("offline: creating %s: %w", s.mirror, err)
	}
	if err := s.cleanMirror(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// validOrigin accepts a checkpoint origin usable as a directory name: a host
// name of letters, digits, '.', '-' and '_', not starting with '.'.
func validOrigin(o string) bool {
	if o == "" || len(o) > 253 || o[0] == '.' || strings.Contains(o, "..") {
		return false
	}
	for i := 0; i < len(o); i++ {
		c := o[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// accepted is the checkpoint in force for an origin.
type accepted struct {
	Size      uint64
	Root      []byte
	Note      []byte
	Witnesses []string
	TilesSize uint64
}

// state is the committed trust state Import checks a kit against.
type state struct {
	keys      KeySet
	keysFrom  string // "config" or "kit SOURCE #SEQ"
	revoked   map[string]Revocation
	root      *trustedRoot
	policy    *witness.Policy
	policyRaw []byte
	origins   map[string]accepted
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadState reads the trust state from q (a read-only transaction or the
// write transaction).
func (s *Service) loadState(ctx context.Context, q querier) (*state, error) {
	st := &state{
		keys:     KeySet{Keys: slices.Clone(s.cfg.KitKeys), Threshold: s.cfg.KitThreshold},
		keysFrom: "config",
		revoked:  map[string]Revocation{},
		origins:  map[string]accepted{},
	}
	var keys []byte
	var thr int
	var src string
	var seq int64
	err := q.QueryRowContext(ctx, `SELECT k.keys, k.threshold, i.source, i.sequence FROM kit_keysets k JOIN kit_imports i ON i.id = k.import_id ORDER BY k.version DESC LIMIT 1`).Scan(&keys, &thr, &src, &seq)
	switch {
	case err == nil:
		ks, err := ParseKitKeys(keys)
		if err != nil {
			return nil, fmt.Errorf("offline: installed kit keys: %w", err)
		}
		st.keys, st.keysFrom = ks, fmt.Sprintf("kit %s #%d", src, seq)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("offline: reading kit keys: %w", err)
	}
	var root []byte
	switch err := q.QueryRowContext(ctx, `SELECT data FROM kit_trusted_roots ORDER BY version DESC LIMIT 1`).Scan(&root); {
	case err == nil:
		if st.root, err = parseTrustedRoot(root); err != nil {
			return nil, fmt.Errorf("offline: installed %w", err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("offline: reading trusted root: %w", err)
	}
	switch err := q.QueryRowContext(ctx, `SELECT policy FROM kit_witness_policies ORDER BY version DESC LIMIT 1`).Scan(&st.policyRaw); {
	case err == nil:
		if st.policy, err = witness.ParsePolicy(st.policyRaw); err != nil {
			return nil, fmt.Errorf("offline: installed witness policy: %w", err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("offline: reading witness policy: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT key_id, reason, revoked_at FROM kit_revocations`)
	if err != nil {
		return nil, fmt.Errorf("offline: reading revocations: %w", err)
	}
	for rows.Next() {
		var r Revocation
		var at string
		if err := rows.Scan(&r.KeyID, &r.Reason, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("offline: reading revocations: %w", err)
		}
		r.RevokedAt, _ = time.Parse(time.RFC3339Nano, at)
		st.revoked[r.KeyID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("offline: reading revocations: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT c.origin, c.tree_size, c.root_hash, c.note, c.witnesses, c.tiles_size FROM kit_checkpoints c
		WHERE c.tree_size = (SELECT MAX(tree_size) FROM kit_checkpoints d WHERE d.origin = c.origin)`)
	if err != nil {
		return nil, fmt.Errorf("offline: reading checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		var a accepted
		var size, tiles int64
		var ws string
		if err := rows.Scan(&o, &size, &a.Root, &a.Note, &ws, &tiles); err != nil {
			return nil, fmt.Errorf("offline: reading checkpoints: %w", err)
		}
		a.Size, a.TilesSize = uint64(size), uint64(tiles)
		if ws != "" {
			a.Witnesses = strings.Split(ws, ",")
		}
		st.origins[o] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("offline: reading checkpoints: %w", err)
	}
	return st, nil
}

// readState loads the committed state in one read-only transaction.
func (s *Service) readState(ctx context.Context) (*state, error) {
	tx, err := s.cfg.DB.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("offline: reading state: %w", err)
	}
	defer tx.Rollback()
	return s.loadState(ctx, tx)
}

// activeKeys returns the kit keys in force, without revoked ones, and the
// revoked ones apart.
func (st *state) activeKeys() (active, revoked []crypto.PublicKey) {
	for _, k := range st.keys.Keys {
		id, err := KeyID(k)
		if err == nil && st.revoked[id].KeyID != "" {
			revoked = append(revoked, k)
			continue
		}
		active = append(active, k)
	}
	return active, revoked
}

// cleanMirror removes temporary files and tiles beyond the committed tiles
// size of each origin in the mirror directory.
func (s *Service) cleanMirror(ctx context.Context) error {
	st, err := s.readState(ctx)
	if err != nil {
		return err
	}
	des, err := os.ReadDir(s.mirror)
	if err != nil {
		return fmt.Errorf("offline: reading %s: %w", s.mirror, err)
	}
	removed := 0
	for _, de := range des {
		dir := filepath.Join(s.mirror, de.Name())
		a, ok := st.origins[de.Name()]
		if !de.IsDir() || !ok || a.TilesSize == 0 {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("offline: removing %s: %w", dir, err)
			}
			removed++
			continue
		}
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			id, perr := parseTilePath(filepath.ToSlash(rel))
			if perr != nil || !id.validFor(a.TilesSize) {
				removed++
				return os.Remove(p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("offline: cleaning %s: %w", dir, err)
		}
	}
	if removed > 0 {
		s.cfg.Logger.Info("removed uncommitted mirror files", "count", removed)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it, renames it into place and fsyncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
