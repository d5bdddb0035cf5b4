package attest

import (
	"context"
	"fmt"
)

// maxExportBundles bounds one Bundles call; an export larger than this is
// refused rather than held in memory (export in steps with --since).
const maxExportBundles = 1 << 20

// Bundles returns the bundles, as issued, of the logged entries at log
// indices [from, to), in index order, every tenant's: an Offline Kit export
// carries the appliance's whole log (internal/offline.BundleSource).
func (s *Service) Bundles(ctx context.Context, from, to uint64) ([][]byte, error) {
	if to <= from {
		return nil, nil
	}
	if to-from > maxExportBundles {
		return nil, fmt.Errorf("%w: %d entries in one export (at most %d; export in steps)", ErrInvalidRequest, to-from, maxExportBundles)
	}
	rows, err := s.cfg.DB.Read().QueryContext(ctx, `SELECT `+entryColumns+` FROM entries e
		JOIN signing_keys k ON k.key_id = e.key_id
		JOIN entry_blobs b ON b.entry_id = e.id
		LEFT JOIN checkpoints c ON c.tree_size = e.tree_size
		WHERE e.state = 'logged' AND e.log_index >= ? AND e.log_index < ? ORDER BY e.log_index`, int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("listing entries [%d, %d): %w", from, to, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("reading entries [%d, %d): %w", from, to, err)
		}
		_, b, err := s.rebuild(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading entries [%d, %d): %w", from, to, err)
	}
	return out, nil
}
