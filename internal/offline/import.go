package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/witness"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// Paths inside a kit, besides TrustedRootPath, KitKeysPath,
// RevocationsPath, AuthoritiesPath and ScannerKeysDir.
const (
	// WitnessPolicyPath holds the witness policy (C2SP tlog-policy).
	WitnessPolicyPath = "trust/witness-policy"
	// AuditHeadPath holds an exporting appliance's audit chain head.
	AuditHeadPath = "entitlements/audit-head.json"
	// CheckpointFile and ConsistencyFile are the files of
	// checkpoints/<origin>/.
	CheckpointFile  = "checkpoint"
	ConsistencyFile = "consistency.json"
)

// ImportResult says what an accepted kit changed.
type ImportResult struct {
	Source   string
	Sequence uint64
	Kind     string
	// ManifestSHA256 is the hex SHA-256 of manifest.json.
	ManifestSHA256 string
	// Installed lists the trust replaced: "trusted_root", "kit_keys",
	// "witness_policy", "revocations", "authorities", "scanner_keys".
	Installed []string
	// Authorities are the issuers whose JWKS the kit installed or
	// replaced; ScannerKeys the names of the scanner release keys it added
	// (keys installed before are not repeated).
	Authorities []string
	ScannerKeys []string
	// Checkpoints are the origins whose checkpoint advanced (or was first
	// accepted), with the new size.
	Checkpoints map[string]uint64
	Tiles       int
	Bundles     int
	Licences    []string
	AuditHead   bool
}

// consistencyFile is checkpoints/<origin>/consistency.json:
// {"hashes":["<base64>",...],"newSize":N,"oldSize":M}, the RFC 6962
// consistency proof from the accepted tree of size oldSize to the kit's
// checkpoint of size newSize.
type consistencyFile struct {
	OldSize uint64   `json:"oldSize"`
	NewSize uint64   `json:"newSize"`
	Hashes  []string `json:"hashes"`
}

// ParseConsistency parses a consistency proof file strictly: the three
// members, no other, no duplicates, at most 64 hashes of 32 bytes each.
func ParseConsistency(data []byte) (oldSize, newSize uint64, hashes [][]byte, err error) {
	if err := checkDuplicateKeys(data); err != nil {
		return 0, 0, nil, fmt.Errorf("consistency proof: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f consistencyFile
	if err := dec.Decode(&f); err != nil {
		return 0, 0, nil, fmt.Errorf("consistency proof: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, 0, nil, errors.New("consistency proof: data after the object")
	}
	if f.Hashes == nil || f.NewSize == 0 || f.OldSize == 0 || f.OldSize > f.NewSize || len(f.Hashes) > 64 {
		return 0, 0, nil, fmt.Errorf("consistency proof: sizes %d -> %d with %d hashes", f.OldSize, f.NewSize, len(f.Hashes))
	}
	for i, h := range f.Hashes {
		b, err := base64.StdEncoding.Strict().DecodeString(h)
		if err != nil || len(b) != 32 {
			return 0, 0, nil, fmt.Errorf("consistency proof: hashes[%d] is not 32 bytes of standard base64", i)
		}
		hashes = append(hashes, b)
	}
	return f.OldSize, f.NewSize, hashes, nil
}

// auditHead is entitlements/audit-head.json:
// {"hash":"<hex>","origin":"...","seq":N,"statement":"<base64>"}, statement
// being audit.AnchorStatement(seq, hash, origin).
type auditHead struct {
	Hash      string `json:"hash"`
	Origin    string `json:"origin"`
	Seq       uint64 `json:"seq"`
	Statement string `json:"statement"`
}

// parseAuditHead parses and checks an audit head file.
func parseAuditHead(data []byte) (*auditHead, [32]byte, error) {
	var h auditHead
	var hash [32]byte
	if err := checkDuplicateKeys(data); err != nil {
		return nil, hash, fmt.Errorf("audit head: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, hash, fmt.Errorf("audit head: %w", err)
	}
	b, err := hex.DecodeString(h.Hash)
	if err != nil || len(b) != 32 || hex.EncodeToString(b) != h.Hash {
		return nil, hash, errors.New("audit head: hash is not 64 lower-case hex digits")
	}
	copy(hash[:], b)
	st, err := audit.AnchorStatement(h.Seq, hash, h.Origin)
	if err != nil {
		return nil, hash, err
	}
	if base64.StdEncoding.EncodeToString(st) != h.Statement {
		return nil, hash, errors.New("audit head: statement is not the anchor statement of (seq, hash, origin)")
	}
	return &h, hash, nil
}

// offered is a verified checkpoint of the kit for one origin.
type offered struct {
	origin    string
	note      []byte
	size      uint64
	root      []byte
	witnesses []string
	logKey    note.Verifier
	tiles     map[string][]byte // tile path -> content, from the kit
	tree      *tree             // rebuilt when tiles are carried
	tilesSize uint64
	advance   bool // the checkpoint is new (not the accepted one again)
}

// plan is everything a verified kit will write.
type plan struct {
	k           *kit.Kit
	manifestSum string
	root        *trustedRoot
	keys        *KeySet
	keysPEM     []byte
	policyRaw   []byte
	revocations []Revocation
	origins     map[string]*offered
	bundles     []keptBundle
	licences    []*entitlement.PreparedLicence
	head        *auditHead
	headHash    [32]byte
	headRaw     []byte
	authorities []Authority
	scannerKeys []ScannerKey
	// trust: the kit carries Authorities, scanner keys or revocations, so
	// Config.OnTrustChanged is called once it has committed.
	trust bool
}

type keptBundle struct {
	origin string
	uuid   string
	index  uint64
	data   []byte
}

// Import reads a kit from r, verifies all of it against the installed trust
// and then records it in one transaction. The checks, in order: the archive
// and its signature with the installed kit keys and threshold (revoked keys
// do not count), then the manifest's sequence for its source, the trust
// files (trusted root not older than the installed one, kit keys, witness
// policy, revocations), each checkpoint (log signature, witness policy,
// consistency with the accepted one), the tiles (they must hash to their
// checkpoint), licences and bundles (inclusion in an accepted or carried
// checkpoint). A refusal is a *RefusedError wrapping ErrRefused and a reason
// (ErrSignature, ErrReplay, ErrRollback, ...) and changes nothing, except
// that a split view (ErrSplitView) is recorded in kit_split_views as
// evidence. Mirrored tiles are written before the transaction and served
// only once it has committed; a crash at any point leaves the old or the new
// state. actor names who imports the kit and is required.
func (s *Service) Import(ctx context.Context, r io.Reader, actor string) (*ImportResult, error) {
	if strings.TrimSpace(actor) == "" {
		return nil, errors.New("offline: import: actor is required")
	}
	s.importMu.Lock()
	defer s.importMu.Unlock()
	st, err := s.readState(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.verify(ctx, r, st, actor)
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			s.cfg.Logger.Warn("kit refused", "err", err, "actor", actor)
		}
		return nil, err
	}
	s.step("verified")
	return s.apply(ctx, p, actor)
}

func (s *Service) step(stage string) {
	if s.hook != nil {
		s.hook(stage)
	}
}

// open verifies the archive with the active kit keys; when that fails on the
// signature and revoked keys would have verified it, the refusal is
// ErrRevoked.
func (s *Service) open(r io.Reader, st *state) (*kit.Kit, error) {
	active, revoked := st.activeKeys()
	head := &capBuffer{max: 80 << 20}
	k, err := kit.Open(io.TeeReader(r, head), kit.VerifyOptions{Keys: active, Threshold: st.keys.Threshold, Limits: s.cfg.Limits})
	if err == nil {
		return k, nil
	}
	if errors.Is(err, kit.ErrSignature) && len(revoked) > 0 && !head.over {
		all := append(slices.Clone(active), revoked...)
		// Only the manifest and envelope were read before a signature
		// failure; replay them and check which keys would have signed.
		if k2, err2 := kit.Open(io.MultiReader(&head.buf, r), kit.VerifyOptions{Keys: all, Threshold: st.keys.Threshold, Limits: s.cfg.Limits}); err2 == nil {
			var ids []string
			for _, i := range k2.Signers {
				if i >= len(active) {
					id, _ := KeyID(all[i])
					ids = append(ids, id)
				}
			}
			return nil, refuse(ErrRevoked, kit.SignaturePath, nil, "signed by revoked kit key(s) %s", strings.Join(ids, ", "))
		}
	}
	return nil, refuse(ErrSignature, "", err, "%d of %d kit keys required (%s)", st.keys.Threshold, len(active), st.keysFrom)
}

func (s *Service) verify(ctx context.Context, r io.Reader, st *state, actor string) (*plan, error) {
	k, err := s.open(r, st)
	if err != nil {
		return nil, err
	}
	s.step("opened")
	m := k.Manifest
	sum := sha256.Sum256(k.ManifestJSON)
	p := &plan{k: k, manifestSum: hex.EncodeToString(sum[:]), origins: map[string]*offered{}}

	var last sql.NullInt64
	if err := s.cfg.DB.Read().QueryRowContext(ctx, `SELECT MAX(sequence) FROM kit_imports WHERE source = ?`, m.Source).Scan(&last); err != nil {
		return nil, fmt.Errorf("offline: reading last sequence: %w", err)
	}
	if last.Valid && m.Sequence <= uint64(last.Int64) {
		return nil, refuse(ErrReplay, kit.ManifestPath, nil, "source %q sequence %d is not above the last accepted %d", m.Source, m.Sequence, last.Int64)
	}

	// Sort the files by role.
	checkpoints := map[string]map[string][]byte{}
	tiles := map[string]map[string][]byte{}
	var bundles, licences, scannerKeys []kit.File
	for _, f := range m.Files {
		data, _ := k.File(f.Path)
		root, rest, _ := strings.Cut(f.Path, "/")
		switch root {
		case kit.RootTrust:
			switch {
			case f.Path == TrustedRootPath, f.Path == KitKeysPath, f.Path == WitnessPolicyPath, f.Path == RevocationsPath, f.Path == AuthoritiesPath:
			case strings.HasPrefix(f.Path, ScannerKeysDir):
				if _, ok := scannerKeyName(f.Path); !ok {
					return nil, refuse(ErrContent, f.Path, nil, "want %sNAME.pem", ScannerKeysDir)
				}
				scannerKeys = append(scannerKeys, f)
			default:
				switch f.MediaType {
				case kit.MediaTypeSigningConfig, kit.MediaTypeJWKS, kit.MediaTypePublicKey, kit.MediaTypeTrustedRoot:
					s.cfg.Logger.Info("kit trust file carried but not installed by offline", "path", f.Path)
				default:
					return nil, refuse(ErrContent, f.Path, nil, "unknown trust file of media type %q", f.MediaType)
				}
			}
		case kit.RootCheckpoints:
			origin, file, ok := strings.Cut(rest, "/")
			if !ok || !validOrigin(origin) || (file != CheckpointFile && file != ConsistencyFile) {
				return nil, refuse(ErrContent, f.Path, nil, "want checkpoints/<origin>/%s or %s", CheckpointFile, ConsistencyFile)
			}
			if checkpoints[origin] == nil {
				checkpoints[origin] = map[string][]byte{}
			}
			checkpoints[origin][file] = data
		case kit.RootTiles:
			origin, tp, ok := strings.Cut(rest, "/")
			if !ok || !validOrigin(origin) {
				return nil, refuse(ErrContent, f.Path, nil, "want tiles/<origin>/tile/...")
			}
			if _, err := parseTilePath(tp); err != nil {
				return nil, refuse(ErrTiles, f.Path, err, "")
			}
			if tiles[origin] == nil {
				tiles[origin] = map[string][]byte{}
			}
			tiles[origin][tp] = data
		case kit.RootAttestations:
			if !strings.HasSuffix(f.Path, ".json") {
				return nil, refuse(ErrContent, f.Path, nil, "attestations must be .json bundles")
			}
			bundles = append(bundles, f)
		case kit.RootEntitlements:
			switch {
			case f.Path == AuditHeadPath:
				h, hash, err := parseAuditHead(data)
				if err != nil {
					return nil, refuse(ErrContent, f.Path, err, "")
				}
				p.head, p.headHash, p.headRaw = h, hash, data
			case strings.HasSuffix(f.Path, ".dsse.json") && !strings.Contains(rest, "/"):
				licences = append(licences, f)
			default:
				return nil, refuse(ErrContent, f.Path, nil, "want entitlements/*.dsse.json or %s", AuditHeadPath)
			}
		}
	}

	// Trust: revocations first (they apply to the rest of this kit's trust).
	revoked := st.revoked
	if data, ok := k.File(RevocationsPath); ok {
		rs, err := ParseRevocations(data)
		if err != nil {
			return nil, refuse(ErrContent, RevocationsPath, err, "")
		}
		revoked = maps(st.revoked)
		for _, r := range rs {
			if _, had := revoked[r.KeyID]; !had {
				p.revocations = append(p.revocations, r)
				revoked[r.KeyID] = r
			}
		}
	}
	if data, ok := k.File(TrustedRootPath); ok {
		tr, err := parseTrustedRoot(data)
		if err != nil {
			return nil, refuse(ErrContent, TrustedRootPath, err, "")
		}
		if st.root != nil && tr.NewestStart.Before(st.root.NewestStart) {
			return nil, refuse(ErrRollback, TrustedRootPath, nil, "trusted root %s (newest key from %s, kit %s #%d) is older than the installed %s (newest key from %s)",
				tr.SHA256[:12], tr.NewestStart.Format(time.RFC3339), m.Source, m.Sequence, st.root.SHA256[:12], st.root.NewestStart.Format(time.RFC3339))
		}
		if st.root == nil || st.root.SHA256 != tr.SHA256 {
			p.root = tr
		}
	}
	if data, ok := k.File(KitKeysPath); ok {
		ks, err := ParseKitKeys(data)
		if err != nil {
			return nil, refuse(ErrContent, KitKeysPath, err, "")
		}
		for _, key := range ks.Keys {
			if id, _ := KeyID(key); revoked[id].KeyID != "" {
				return nil, refuse(ErrRevoked, KitKeysPath, nil, "installs revoked kit key %s", id)
			}
		}
		p.keys, p.keysPEM = &ks, data
	}
	if err := s.checkAuthorities(k, p); err != nil {
		return nil, err
	}
	if err := s.checkScannerKeys(k, p, scannerKeys, revoked); err != nil {
		return nil, err
	}
	if _, ok := k.File(RevocationsPath); ok {
		p.trust = true
	}
	policy := st.policy
	if data, ok := k.File(WitnessPolicyPath); ok {
		pol, err := witness.ParsePolicy(data)
		if err != nil {
			return nil, refuse(ErrContent, WitnessPolicyPath, err, "")
		}
		policy, p.policyRaw = pol, data
	}
	root := st.root
	if p.root != nil {
		root = p.root
	}

	// Checkpoints, tiles and consistency.
	for origin := range tiles {
		if checkpoints[origin] == nil {
			return nil, refuse(ErrTiles, "tiles/"+origin+"/", nil, "tiles without a checkpoint for %s in the kit", origin)
		}
	}
	for _, origin := range sortedKeys(checkpoints) {
		files := checkpoints[origin]
		o, err := s.checkCheckpoint(ctx, st, p, origin, files, tiles[origin], root, policy, revoked)
		if err != nil {
			return nil, err
		}
		p.origins[origin] = o
	}

	// Licences.
	for _, f := range licences {
		if s.cfg.Entitlement == nil {
			return nil, refuse(ErrContent, f.Path, nil, "this appliance has no entitlement manager")
		}
		data, _ := k.File(f.Path)
		pl, err := s.cfg.Entitlement.Prepare(ctx, data, actor)
		if err != nil {
			return nil, refuse(ErrContent, f.Path, err, "licence")
		}
		p.licences = append(p.licences, pl)
	}

	// Bundles.
	for _, f := range bundles {
		data, _ := k.File(f.Path)
		kb, err := s.checkBundle(st, p, data, root)
		if err != nil {
			return nil, refuse(ErrInclusion, f.Path, err, "")
		}
		p.bundles = append(p.bundles, kb...)
	}
	return p, nil
}

func maps(m map[string]Revocation) map[string]Revocation {
	out := make(map[string]Revocation, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// logKeys returns the checkpoint verifiers known for origin: the trusted
// root's log keys and the configured peers'.
func (s *Service) logKeys(origin string, root *trustedRoot) []note.Verifier {
	var pubs []crypto.PublicKey
	if root != nil {
		pubs = append(pubs, root.Logs[origin]...)
	}
	for _, p := range s.cfg.Peers {
		if p.Origin == origin {
			pubs = append(pubs, p.Key)
		}
	}
	var vs []note.Verifier
	for _, k := range pubs {
		if v, err := bundle.NewNoteVerifier(origin, k); err == nil {
			vs = append(vs, v)
		}
	}
	return vs
}

// witnessKeyIDs maps policy witness names to their revocation key ids.
func witnessKeyIDs(pol *witness.Policy) map[string]string {
	out := map[string]string{}
	for _, w := range pol.Witnesses {
		_, rest, _ := strings.Cut(w.VKey, "+")
		_, k64, _ := strings.Cut(rest, "+")
		raw, err := base64.StdEncoding.DecodeString(k64)
		if err != nil || len(raw) != 33 {
			continue
		}
		if id, err := KeyID(ed25519.PublicKey(raw[1:])); err == nil {
			out[w.Name] = id
		}
	}
	return out
}

// openCheckpoint verifies a signed checkpoint with one of the log keys and
// the witness policy, not counting revoked witnesses.
func openCheckpoint(signed []byte, keys []note.Verifier, pol *witness.Policy, revoked map[string]Revocation) (*witness.Cosigned, []string, error) {
	var lastErr error
	for _, lk := range keys {
		if pol == nil {
			c, err := witness.Open(signed, lk)
			if err != nil {
				lastErr = err
				continue
			}
			return c, nil, nil
		}
		c, err := witness.Open(signed, lk, pol.WitnessVerifiers()...)
		if err != nil {
			lastErr = err
			continue
		}
		ids := witnessKeyIDs(pol)
		var names, skipped []string
		for i, cs := range c.Cosignatures {
			for _, w := range pol.Witnesses {
				if w.Verifier.Name() == cs.KeyName && w.Verifier.KeyHash() == cs.KeyHash {
					c.Cosignatures[i].Witness = w.Name
					if revoked[ids[w.Name]].KeyID != "" {
						skipped = append(skipped, w.Name)
					} else {
						names = append(names, w.Name)
					}
				}
			}
		}
		if err := pol.Check(names); err != nil {
			if len(skipped) > 0 {
				return nil, nil, fmt.Errorf("%w (revoked witnesses not counted: %s)", err, strings.Join(skipped, ", "))
			}
			return nil, nil, err
		}
		slices.Sort(names)
		return c, names, nil
	}
	return nil, nil, lastErr
}

func (s *Service) checkCheckpoint(ctx context.Context, st *state, p *plan, origin string, files map[string][]byte, kitTiles map[string][]byte, root *trustedRoot, pol *witness.Policy, revoked map[string]Revocation) (*offered, error) {
	cpPath := "checkpoints/" + origin + "/" + CheckpointFile
	signed, ok := files[CheckpointFile]
	if !ok {
		return nil, refuse(ErrContent, "checkpoints/"+origin+"/", nil, "no %s", CheckpointFile)
	}
	keys := s.logKeys(origin, root)
	if len(keys) == 0 {
		return nil, refuse(ErrUnknownLog, cpPath, nil, "no log key for origin %q in the trusted root or the peers", origin)
	}
	c, names, err := openCheckpoint(signed, keys, pol, revoked)
	if err != nil {
		return nil, refuse(ErrWitnessPolicy, cpPath, err, "")
	}
	if c.Origin != origin {
		return nil, refuse(ErrContent, cpPath, nil, "checkpoint origin %q under checkpoints/%s/", c.Origin, origin)
	}
	o := &offered{origin: origin, note: signed, size: c.Size, root: c.Hash, witnesses: names, tiles: kitTiles}
	prev, known := st.origins[origin]
	o.tilesSize = prev.TilesSize
	if len(kitTiles) > 0 {
		src := &tileSource{kit: kitTiles}
		if known && prev.TilesSize > 0 {
			src.mirror = filepath.Join(s.mirror, origin)
		}
		t, err := buildTree(src, c.Size)
		if err != nil {
			return nil, refuse(ErrTiles, "tiles/"+origin+"/", err, "")
		}
		roots, err := t.rootsAt(c.Size)
		if err != nil || !bytes.Equal(roots[c.Size], c.Hash) {
			return nil, refuse(ErrTiles, "tiles/"+origin+"/", err, "the tiles' root at size %d is %x, the checkpoint says %x", c.Size, roots[c.Size], c.Hash)
		}
		for _, tp := range sortedKeys(kitTiles) {
			id, _ := parseTilePath(tp)
			if err := t.check(id, kitTiles[tp]); err != nil {
				return nil, refuse(ErrTiles, "tiles/"+origin+"/"+tp, err, "")
			}
		}
		o.tree, o.tilesSize = t, c.Size
	}
	if !known {
		o.advance = true
		return o, nil
	}
	split := func(reason string) error {
		if err := s.recordSplitView(ctx, origin, prev, o, p, reason); err != nil {
			return err
		}
		return refuse(ErrSplitView, cpPath, nil, "%s: accepted size %d root %x, offered size %d root %x (both kept as evidence)", reason, prev.Size, prev.Root, o.size, o.root)
	}
	switch {
	case c.Size < prev.Size:
		return nil, refuse(ErrRollback, cpPath, nil, "checkpoint size %d is below the accepted %d", c.Size, prev.Size)
	case c.Size == prev.Size:
		if !bytes.Equal(c.Hash, prev.Root) {
			return nil, split("same size, different root")
		}
		o.witnesses = mergeNames(prev.Witnesses, names)
		o.advance = o.tilesSize > prev.TilesSize
		return o, nil
	}
	o.advance = true
	if o.tree != nil {
		roots, err := o.tree.rootsAt(prev.Size)
		if err != nil {
			return nil, refuse(ErrTiles, "tiles/"+origin+"/", err, "")
		}
		if !bytes.Equal(roots[prev.Size], prev.Root) {
			return nil, split("the tiles give another root at the accepted size")
		}
		return o, nil
	}
	data, ok := files[ConsistencyFile]
	if !ok {
		return nil, refuse(ErrConsistency, cpPath, nil, "size %d extends the accepted %d but the kit has no %s and no tiles", c.Size, prev.Size, ConsistencyFile)
	}
	from, to, hashes, err := ParseConsistency(data)
	if err != nil {
		return nil, refuse(ErrContent, "checkpoints/"+origin+"/"+ConsistencyFile, err, "")
	}
	if from != prev.Size || to != c.Size {
		return nil, refuse(ErrConsistency, "checkpoints/"+origin+"/"+ConsistencyFile, nil, "proof is %d -> %d, need %d -> %d", from, to, prev.Size, c.Size)
	}
	if err := proof.VerifyConsistency(hasher, prev.Size, c.Size, hashes, prev.Root, c.Hash); err != nil {
		return nil, split("consistency proof fails: " + err.Error())
	}
	return o, nil
}

func mergeNames(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// recordSplitView keeps both checkpoints in kit_split_views, in its own
// transaction: the one write a refused import makes.
func (s *Service) recordSplitView(ctx context.Context, origin string, prev accepted, o *offered, p *plan, reason string) error {
	m := p.k.Manifest
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kit_split_views (origin, accepted_size, accepted_root, accepted_note, offered_size, offered_root, offered_note,
			kit_source, kit_sequence, manifest_sha256, reason, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			origin, int64(prev.Size), prev.Root, prev.Note, int64(o.size), o.root, o.note, m.Source, int64(m.Sequence), p.manifestSum, reason, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("offline: recording split view of %s: %w", origin, err)
	}
	s.cfg.Logger.Error("split view detected", "origin", origin, "accepted_size", prev.Size, "offered_size", o.size, "reason", reason)
	return nil
}

func (s *Service) now() string { return s.cfg.Now().UTC().Format(time.RFC3339Nano) }

// checkBundle parses a bundle and verifies each of its log entries against
// the kit's or the accepted checkpoint of the entry's origin.
func (s *Service) checkBundle(st *state, p *plan, data []byte, root *trustedRoot) ([]keptBundle, error) {
	b, err := bundle.Parse(data)
	if err != nil {
		return nil, err
	}
	if len(b.Entries) == 0 {
		return nil, errors.New("bundle has no transparency log entry")
	}
	var out []keptBundle
	for _, e := range b.Entries {
		if e.Proof.Checkpoint == "" {
			return nil, fmt.Errorf("entry %d has no inclusion proof", e.LogIndex)
		}
		origin, _, _ := strings.Cut(e.Proof.Checkpoint, "\n")
		keys := s.logKeys(origin, root)
		var verr error = fmt.Errorf("%w: no log key for origin %q", ErrUnknownLog, origin)
		for _, k := range keys {
			if verr = e.Verify(k); verr == nil {
				break
			}
		}
		if verr != nil {
			return nil, verr
		}
		// The proof's checkpoint must be one of the accepted tree.
		var size uint64
		var rootHash []byte
		var t *tree
		if o := p.origins[origin]; o != nil {
			size, rootHash, t = o.size, o.root, o.tree
		} else if a, ok := st.origins[origin]; ok {
			size, rootHash = a.Size, a.Root
		} else {
			return nil, fmt.Errorf("no accepted checkpoint for origin %q", origin)
		}
		switch {
		case e.Proof.TreeSize == size && bytes.Equal(e.Proof.RootHash, rootHash):
		case t != nil && e.Proof.TreeSize <= t.size:
			roots, err := t.rootsAt(e.Proof.TreeSize)
			if err != nil || !bytes.Equal(roots[e.Proof.TreeSize], e.Proof.RootHash) {
				return nil, fmt.Errorf("proof's checkpoint (size %d) is not part of the accepted tree", e.Proof.TreeSize)
			}
		default:
			return nil, fmt.Errorf("proof's checkpoint (size %d) cannot be tied to the accepted one (size %d) without tiles", e.Proof.TreeSize, size)
		}
		lh := bundle.LeafHash(e.Body)
		out = append(out, keptBundle{origin: origin, uuid: hex.EncodeToString(lh[:]), index: e.LogIndex, data: data})
	}
	return out, nil
}

// apply writes the mirrored tiles, then records the kit in one transaction.
func (s *Service) apply(ctx context.Context, p *plan, actor string) (*ImportResult, error) {
	m := p.k.Manifest
	res := &ImportResult{Source: m.Source, Sequence: m.Sequence, Kind: m.Kind, ManifestSHA256: p.manifestSum, Checkpoints: map[string]uint64{}}
	// Tiles first: they are served only up to the committed tiles size, and
	// New removes any beyond it.
	for _, origin := range sortedKeys(p.origins) {
		o := p.origins[origin]
		for _, tp := range sortedKeys(o.tiles) {
			if err := writeFileAtomic(filepath.Join(s.mirror, origin, filepath.FromSlash(tp)), o.tiles[tp]); err != nil {
				return nil, fmt.Errorf("offline: writing mirrored tile %s/%s: %w", origin, tp, err)
			}
			res.Tiles++
			if res.Tiles == 1 {
				s.step("tile")
			}
		}
	}
	s.step("tiles-written")
	now := s.now()
	var installed Installed
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(sequence) FROM kit_imports WHERE source = ?`, m.Source).Scan(&last); err != nil {
			return err
		}
		if last.Valid && m.Sequence <= uint64(last.Int64) {
			return refuse(ErrReplay, kit.ManifestPath, nil, "source %q sequence %d is not above the last accepted %d", m.Source, m.Sequence, last.Int64)
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO kit_imports (source, sequence, kind, manifest_sha256, manifest, envelope, actor, imported_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, m.Source, int64(m.Sequence), m.Kind, p.manifestSum, p.k.ManifestJSON, p.k.Envelope, actor, now)
		if err != nil {
			return err
		}
		id, err := r.LastInsertId()
		if err != nil {
			return err
		}
		if p.root != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kit_trusted_roots (version, import_id, sha256, newest_start, data)
				VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM kit_trusted_roots), ?, ?, ?, ?)`,
				id, p.root.SHA256, p.root.NewestStart.Format(time.RFC3339Nano), p.root.Data); err != nil {
				return err
			}
			res.Installed = append(res.Installed, "trusted_root")
		}
		if p.keys != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kit_keysets (version, import_id, threshold, keys)
				VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM kit_keysets), ?, ?, ?)`, id, p.keys.Threshold, p.keysPEM); err != nil {
				return err
			}
			res.Installed = append(res.Installed, "kit_keys")
		}
		if p.policyRaw != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kit_witness_policies (version, import_id, policy)
				VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM kit_witness_policies), ?, ?)`, id, p.policyRaw); err != nil {
				return err
			}
			res.Installed = append(res.Installed, "witness_policy")
		}
		for _, rv := range p.revocations {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO kit_revocations (key_id, reason, revoked_at, import_id) VALUES (?, ?, ?, ?)`,
				rv.KeyID, rv.Reason, rv.RevokedAt.Format(time.RFC3339Nano), id); err != nil {
				return err
			}
		}
		if len(p.revocations) > 0 {
			res.Installed = append(res.Installed, "revocations")
		}
		if err := writeTrust(ctx, tx, p, id, res); err != nil {
			return err
		}
		for _, origin := range sortedKeys(p.origins) {
			o := p.origins[origin]
			if !o.advance {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO kit_checkpoints (origin, tree_size, root_hash, note, witnesses, tiles_size, import_id)
				VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin, tree_size) DO UPDATE SET tiles_size = excluded.tiles_size,
				witnesses = excluded.witnesses, note = excluded.note, import_id = excluded.import_id`,
				origin, int64(o.size), o.root, o.note, strings.Join(o.witnesses, ","), int64(o.tilesSize), id); err != nil {
				return err
			}
			res.Checkpoints[origin] = o.size
		}
		for _, b := range p.bundles {
			r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO kit_bundles (origin, uuid, log_index, bundle, import_id) VALUES (?, ?, ?, ?, ?)`,
				b.origin, b.uuid, int64(b.index), b.data, id)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n > 0 {
				res.Bundles++
			}
		}
		for _, l := range p.licences {
			if err := l.Write(ctx, tx); err != nil {
				return err
			}
			res.Licences = append(res.Licences, l.Licence().LicenceID)
		}
		if p.head != nil {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO kit_audit_heads (source, seq, hash, head, import_id) VALUES (?, ?, ?, ?, ?)`,
				m.Source, int64(p.head.Seq), p.headHash[:], p.headRaw, id); err != nil {
				return err
			}
			res.AuditHead = true
		}
		if p.trust && s.cfg.OnTrustChanged != nil {
			if installed, err = readInstalled(ctx, tx); err != nil {
				return err
			}
		}
		s.step("before-commit")
		return nil
	})
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, err
		}
		if errors.Is(err, entitlement.ErrLicenceStale) {
			return nil, refuse(ErrContent, "entitlements/", err, "licence")
		}
		return nil, fmt.Errorf("offline: recording kit %s #%d: %w", m.Source, m.Sequence, err)
	}
	s.step("committed")
	for _, l := range p.licences {
		l.Apply()
	}
	if p.trust && s.cfg.OnTrustChanged != nil {
		s.cfg.OnTrustChanged(installed)
	}
	s.cfg.Logger.Info("kit imported", "source", m.Source, "sequence", m.Sequence, "kind", m.Kind, "actor", actor,
		"checkpoints", len(res.Checkpoints), "tiles", res.Tiles, "bundles", res.Bundles, "authorities", res.Authorities, "scanner_keys", res.ScannerKeys)
	return res, nil
}

// capBuffer records what passes through it up to max bytes, and then only
// notes that it overflowed: a signature failure is found after reading the
// manifest and envelope, which fit well within max.
type capBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if !c.over && c.buf.Len()+len(p) <= c.max {
		c.buf.Write(p)
	} else {
		c.over = true
	}
	return len(p), nil
}
