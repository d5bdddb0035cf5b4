package offline

import (
	"context"
	"crypto"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Status is the Offline Kit state of the appliance, for `stellactl kit
// status`.
type Status struct {
	// TrustedRoot is the installed trusted root, nil if none was imported.
	TrustedRoot *RootStatus
	// KitKeys are the key ids (KeyID) of the kit keys in force, revoked ones
	// included (they no longer count); KitThreshold is k; KitKeysFrom is
	// "config" or the kit that installed them.
	KitKeys      []string
	KitThreshold int
	KitKeysFrom  string
	// WitnessPolicy is the installed policy verbatim (empty: none, so no
	// cosignature is required).
	WitnessPolicy string
	Revocations   []Revocation
	// Sources are the last kit accepted from each source.
	Sources []SourceStatus
	// Origins are the mirrored logs with their checkpoint in force.
	Origins    []OriginStatus
	SplitViews []SplitView
}

// RootStatus describes the installed trusted root.
type RootStatus struct {
	SHA256      string
	NewestStart time.Time
	Version     int
}

// SourceStatus is the last kit accepted from one source.
type SourceStatus struct {
	Source     string
	Sequence   uint64
	Kind       string
	ImportedAt time.Time
	Actor      string
}

// OriginStatus is a mirrored log's accepted checkpoint.
type OriginStatus struct {
	Origin    string
	TreeSize  uint64
	RootHash  []byte
	Witnesses []string
	// TilesSize is how far the mirror's tiles reach (0: checkpoint only).
	TilesSize uint64
	// Bundles is how many bundles of this log were imported.
	Bundles int
}

// SplitView is the evidence of a refused, inconsistent checkpoint.
type SplitView struct {
	ID           int64
	Origin       string
	AcceptedSize uint64
	AcceptedRoot []byte
	AcceptedNote []byte
	OfferedSize  uint64
	OfferedRoot  []byte
	OfferedNote  []byte
	KitSource    string
	KitSequence  uint64
	Reason       string
	DetectedAt   time.Time
}

// Status reads the committed state.
func (s *Service) Status(ctx context.Context) (Status, error) {
	tx, err := s.cfg.DB.Read().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Status{}, fmt.Errorf("offline: status: %w", err)
	}
	defer tx.Rollback()
	st, err := s.loadState(ctx, tx)
	if err != nil {
		return Status{}, err
	}
	out := Status{KitThreshold: st.keys.Threshold, KitKeysFrom: st.keysFrom, WitnessPolicy: string(st.policyRaw)}
	for _, k := range st.keys.Keys {
		id, _ := KeyID(crypto.PublicKey(k))
		out.KitKeys = append(out.KitKeys, id)
	}
	if st.root != nil {
		rs := &RootStatus{SHA256: st.root.SHA256, NewestStart: st.root.NewestStart}
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM kit_trusted_roots`).Scan(&rs.Version); err != nil {
			return Status{}, fmt.Errorf("offline: status: %w", err)
		}
		out.TrustedRoot = rs
	}
	for _, id := range sortedKeys(st.revoked) {
		out.Revocations = append(out.Revocations, st.revoked[id])
	}
	rows, err := tx.QueryContext(ctx, `SELECT source, sequence, kind, imported_at, actor FROM kit_imports i
		WHERE sequence = (SELECT MAX(sequence) FROM kit_imports j WHERE j.source = i.source) ORDER BY source`)
	if err != nil {
		return Status{}, fmt.Errorf("offline: status: %w", err)
	}
	for rows.Next() {
		var ss SourceStatus
		var seq int64
		var at string
		if err := rows.Scan(&ss.Source, &seq, &ss.Kind, &at, &ss.Actor); err != nil {
			rows.Close()
			return Status{}, fmt.Errorf("offline: status: %w", err)
		}
		ss.Sequence = uint64(seq)
		ss.ImportedAt, _ = time.Parse(time.RFC3339Nano, at)
		out.Sources = append(out.Sources, ss)
	}
	rows.Close()
	for _, o := range sortedKeys(st.origins) {
		a := st.origins[o]
		os := OriginStatus{Origin: o, TreeSize: a.Size, RootHash: a.Root, Witnesses: a.Witnesses, TilesSize: a.TilesSize}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM kit_bundles WHERE origin = ?`, o).Scan(&os.Bundles); err != nil {
			return Status{}, fmt.Errorf("offline: status: %w", err)
		}
		out.Origins = append(out.Origins, os)
	}
	out.SplitViews, err = splitViews(ctx, tx)
	if err != nil {
		return Status{}, err
	}
	return out, nil
}

func splitViews(ctx context.Context, q querier) ([]SplitView, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, origin, accepted_size, accepted_root, accepted_note, offered_size, offered_root, offered_note,
		kit_source, kit_sequence, reason, detected_at FROM kit_split_views ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("offline: reading split views: %w", err)
	}
	defer rows.Close()
	var out []SplitView
	for rows.Next() {
		var v SplitView
		var as, os, seq int64
		var at string
		if err := rows.Scan(&v.ID, &v.Origin, &as, &v.AcceptedRoot, &v.AcceptedNote, &os, &v.OfferedRoot, &v.OfferedNote,
			&v.KitSource, &seq, &v.Reason, &at); err != nil {
			return nil, fmt.Errorf("offline: reading split views: %w", err)
		}
		v.AcceptedSize, v.OfferedSize, v.KitSequence = uint64(as), uint64(os), uint64(seq)
		v.DetectedAt, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("offline: reading split views"), err)
	}
	return out, nil
}
