package offline

import (
	"bytes"
	"context"
	"crypto"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/kit"
	"github.com/stellaops/stellad/kit/bundle"
	"github.com/stellaops/stellad/kit/witness"
)

// Log is what Export needs of the appliance's transparency log
// (internal/translog.Log has both methods).
type Log interface {
	// Checkpoint returns the latest published checkpoint (a signed note).
	Checkpoint(ctx context.Context) ([]byte, error)
	// ConsistencyProof returns the RFC 6962 consistency proof between two
	// tree sizes.
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
}

// BundleSource lists the bundles this appliance issued (the lead wires it to
// internal/attest).
type BundleSource interface {
	// Bundles returns the Sigstore bundles of the entries logged at indices
	// [from, to), in index order.
	Bundles(ctx context.Context, from, to uint64) ([][]byte, error)
}

// AuditHeadSource gives the audit chain head (internal/audit.Trail has it).
type AuditHeadSource interface {
	Head(ctx context.Context) (uint64, [32]byte, error)
}

// ExportOptions says what Export carries out and how it signs.
type ExportOptions struct {
	// Since is the tree size of a checkpoint of this log the receiving side
	// already holds; 0 exports everything. The kit then carries the tiles
	// covering (Since, size] and a consistency proof from Since.
	Since uint64
	// Signers are the kit signers (at least one). With Ed25519 (or RSA)
	// keys the same state and options give byte-identical kits; ECDSA
	// signatures are randomised.
	Signers []crypto.Signer
	// Source names the issuer in the manifest; empty means the checkpoint
	// origin.
	Source string
	// Log is the appliance's log. Required.
	Log Log
	// LogDir is the log's tile directory; empty means DataDir/log.
	LogDir string
	// Bundles, when set, adds the bundles logged in [Since, size).
	Bundles BundleSource
	// Audit, when set, adds the audit chain head.
	Audit AuditHeadSource
	// CreatedBy goes into the manifest; empty means "stellad".
	CreatedBy string
}

// ExportResult describes a written export.
type ExportResult struct {
	Source   string
	Sequence uint64
	Origin   string
	TreeSize uint64
	Since    uint64
	Tiles    int
	Bundles  int
}

// Export writes a kit of kind "export" to w: this appliance's latest
// checkpoint (checkpoints/<origin>/checkpoint), the consistency proof from
// opts.Since, the tiles and entry bundles covering (Since, size] read from
// the log directory (tiles/<origin>/tile/...), the bundles logged since
// (attestations/<origin>/<uuid>.json) and the audit chain head
// (entitlements/audit-head.json), with a sequence that grows with each
// distinct export (the same source, tree size and Since reuse theirs, so
// the same state and options give the same bytes).
func (s *Service) Export(ctx context.Context, w io.Writer, opts ExportOptions) (*ExportResult, error) {
	if opts.Log == nil {
		return nil, errors.New("offline: export: ExportOptions.Log is nil")
	}
	if len(opts.Signers) == 0 {
		return nil, errors.New("offline: export: no kit signer")
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(s.cfg.DataDir, "log")
	}
	if opts.CreatedBy == "" {
		opts.CreatedBy = "stellad"
	}
	s.exportMu.Lock()
	defer s.exportMu.Unlock()
	signed, err := opts.Log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("offline: export: %w", err)
	}
	text, _, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok {
		return nil, errors.New("offline: export: checkpoint is not a signed note")
	}
	cp, err := witness.ParseCheckpoint(append(text, '\n'))
	if err != nil {
		return nil, fmt.Errorf("offline: export: %w", err)
	}
	if !validOrigin(cp.Origin) {
		return nil, fmt.Errorf("offline: export: origin %q cannot name a kit directory", cp.Origin)
	}
	if opts.Since > cp.Size {
		return nil, fmt.Errorf("offline: export: since %d is beyond the log's checkpoint size %d", opts.Since, cp.Size)
	}
	if opts.Source == "" {
		opts.Source = cp.Origin
	}
	res := &ExportResult{Source: opts.Source, Origin: cp.Origin, TreeSize: cp.Size, Since: opts.Since}
	if res.Sequence, err = s.exportSequence(ctx, opts.Source, cp.Size, opts.Since); err != nil {
		return nil, err
	}
	kw, err := kit.NewWriter(w, kit.WriterOptions{Kind: kit.KindExport, CreatedBy: opts.CreatedBy, Source: opts.Source, Sequence: res.Sequence})
	if err != nil {
		return nil, fmt.Errorf("offline: export: %w", err)
	}
	add := func(path, mt string, data []byte) error {
		if err := kw.Add(path, mt, data); err != nil {
			return fmt.Errorf("offline: export: adding %s: %w", path, err)
		}
		return nil
	}
	cpDir := "checkpoints/" + cp.Origin + "/"
	if err := add(cpDir+CheckpointFile, kit.MediaTypeCheckpoint, signed); err != nil {
		return nil, err
	}
	if opts.Since > 0 && opts.Since < cp.Size {
		hashes, err := opts.Log.ConsistencyProof(ctx, opts.Since, cp.Size)
		if err != nil {
			return nil, fmt.Errorf("offline: export: %w", err)
		}
		f := consistencyFile{OldSize: opts.Since, NewSize: cp.Size, Hashes: make([]string, len(hashes))}
		for i, h := range hashes {
			f.Hashes[i] = base64.StdEncoding.EncodeToString(h)
		}
		b, _ := json.Marshal(f)
		if err := add(cpDir+ConsistencyFile, kit.MediaTypeConsistencyProof, b); err != nil {
			return nil, err
		}
	}
	for _, id := range tilesBetween(opts.Since, cp.Size) {
		full := id
		full.width = 0
		b, err := readWide(opts.LogDir, full, int(id.count()))
		if err != nil {
			return nil, fmt.Errorf("offline: export: reading %s from %s: %w", id.path(), opts.LogDir, err)
		}
		if b, err = truncateTile(id, b); err != nil {
			return nil, fmt.Errorf("offline: export: %s: %w", id.path(), err)
		}
		if err := add("tiles/"+cp.Origin+"/"+id.path(), kit.MediaTypeTile, b); err != nil {
			return nil, err
		}
		res.Tiles++
	}
	if opts.Bundles != nil && opts.Since < cp.Size {
		bs, err := opts.Bundles.Bundles(ctx, opts.Since, cp.Size)
		if err != nil {
			return nil, fmt.Errorf("offline: export: listing bundles: %w", err)
		}
		for _, b := range bs {
			pb, err := bundle.Parse(b)
			if err != nil || len(pb.Entries) == 0 {
				return nil, fmt.Errorf("offline: export: a bundle does not parse: %v", err)
			}
			lh := bundle.LeafHash(pb.Entries[0].Body)
			if err := add("attestations/"+cp.Origin+"/"+hex.EncodeToString(lh[:])+".json", kit.MediaTypeBundle, b); err != nil {
				return nil, err
			}
			res.Bundles++
		}
	}
	if opts.Audit != nil {
		seq, hash, err := opts.Audit.Head(ctx)
		if err != nil {
			return nil, fmt.Errorf("offline: export: %w", err)
		}
		if seq > 0 {
			st, err := audit.AnchorStatement(seq, hash, cp.Origin)
			if err != nil {
				return nil, fmt.Errorf("offline: export: %w", err)
			}
			b, _ := json.Marshal(auditHead{Hash: hex.EncodeToString(hash[:]), Origin: cp.Origin, Seq: seq, Statement: base64.StdEncoding.EncodeToString(st)})
			if err := add(AuditHeadPath, kit.MediaTypeAuditHead, b); err != nil {
				return nil, err
			}
		}
	}
	if err := kw.Close(opts.Signers...); err != nil {
		return nil, fmt.Errorf("offline: export: %w", err)
	}
	s.cfg.Logger.Info("kit exported", "source", res.Source, "sequence", res.Sequence, "tree_size", res.TreeSize, "since", res.Since)
	return res, nil
}

// exportSequence returns the sequence recorded for (source, size, since), or
// records the next one.
func (s *Service) exportSequence(ctx context.Context, source string, size, since uint64) (uint64, error) {
	var seq int64
	err := s.cfg.DB.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT sequence FROM kit_exports WHERE source = ? AND tree_size = ? AND since = ?`, source, int64(size), int64(since)).Scan(&seq)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(sequence), 0) + 1 FROM kit_exports WHERE source = ?`, source).Scan(&seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO kit_exports (source, sequence, tree_size, since, exported_at) VALUES (?, ?, ?, ?, ?)`,
			source, seq, int64(size), int64(since), s.now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("offline: export: recording the sequence: %w", err)
	}
	return uint64(seq), nil
}

// tilesBetween lists the hash tiles (every level) and entry bundles that
// hold nodes of the tree of size `size` not in the tree of size `since`,
// each at the width it has at size.
func tilesBetween(since, size uint64) []tileID {
	var out []tileID
	for lvl := uint64(0); lvl < 8; lvl++ {
		hi := size >> (8 * lvl)
		lo := since >> (8 * lvl)
		if hi == 0 || hi == lo {
			break
		}
		for idx := lo / tileWidth; idx*tileWidth < hi; idx++ {
			id := tileID{level: lvl, index: idx}
			if (idx+1)*tileWidth > hi {
				id.width = uint8(hi % tileWidth)
			}
			out = append(out, id)
			if lvl == 0 {
				e := id
				e.entries = true
				out = append(out, e)
			}
		}
	}
	return out
}
