package translog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// published is the latest checkpoint Tessera published, verified, with a proof builder
// reading tiles at its size. builder is not safe for concurrent use: hold pubMu.
type published struct {
	raw     []byte
	size    uint64
	root    []byte
	builder *client.ProofBuilder
}

// initRange rebuilds the compact range of the integrated tree [0,S) from O(log S) tile reads,
// checks the last leaf's data against the tiles, and checks the tree against the checkpoint
// Tessera last published (equal root, or a valid consistency proof from it). Any mismatch is
// fatal: the log must never sign a checkpoint that forks what it already published.
func (l *Log) initRange(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("reading integrated size: %w", err)
	}
	pub, err := l.readPublished(ctx)
	if err != nil {
		return err
	}
	hashes, err := client.FetchRangeNodes(ctx, size, l.reader.ReadTile)
	if err != nil {
		return fmt.Errorf("reading compact range of tree %d: %w", size, err)
	}
	rng, err := rangeFactory.NewRange(0, size, hashes)
	if err != nil {
		return fmt.Errorf("building compact range of tree %d: %w", size, err)
	}
	if size > 0 {
		root, err := rng.GetRootHash(nil)
		if err != nil {
			return fmt.Errorf("computing root of tree %d: %w", size, err)
		}
		pb, err := client.NewProofBuilder(ctx, size, l.reader.ReadTile)
		if err != nil {
			return fmt.Errorf("building proofs at size %d: %w", size, err)
		}
		leaf, err := l.readLeaf(ctx, size-1, size)
		if err != nil {
			return err
		}
		ip, err := pb.InclusionProof(ctx, size-1)
		if err != nil {
			return fmt.Errorf("reading inclusion proof of leaf %d: %w", size-1, err)
		}
		if err := proof.VerifyInclusion(hasher, size-1, size, hasher.HashLeaf(leaf), ip, root); err != nil {
			return fmt.Errorf("%w: last leaf %d does not match the tiles: %w", ErrDiverged, size-1, err)
		}
		if pub.size > size {
			return fmt.Errorf("%w: published checkpoint size %d exceeds integrated size %d", ErrDiverged, pub.size, size)
		}
		cons, err := pb.ConsistencyProof(ctx, pub.size, size)
		if err != nil {
			return fmt.Errorf("reading consistency proof %d->%d: %w", pub.size, size, err)
		}
		if err := proof.VerifyConsistency(hasher, pub.size, size, cons, pub.root, root); err != nil {
			return fmt.Errorf("%w: tree %d on disk is not consistent with published checkpoint %d: %w", ErrDiverged, size, pub.size, err)
		}
		if pub.size < size {
			// Unclean stop: entries were integrated after the last publication. Tessera
			// publishes the integrated size at its next tick, from the root it stored while
			// integrating; wait for it so a tile damaged in (pub.size, size] cannot slip by.
			if pub, err = l.awaitPublished(ctx, size); err != nil {
				return err
			}
			if !bytes.Equal(pub.root, root) {
				return fmt.Errorf("%w: tiles give root %x for size %d, Tessera published %x", ErrDiverged, root, size, pub.root)
			}
		}
		l.recordSigned(size, root)
	}
	l.rng = rng
	l.covered.Store(size)
	l.pubMu.Lock()
	l.pub = pub
	l.pubMu.Unlock()
	l.cfg.Logger.Info("translog opened", "tree_size", size, "published_size", pub.size)
	return nil
}

// readPublished reads and verifies Tessera's current checkpoint and prepares a proof builder
// for its size.
func (l *Log) readPublished(ctx context.Context) (published, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return published{}, fmt.Errorf("reading published checkpoint: %w", err)
	}
	cp, _, _, err := f_log.ParseCheckpoint(raw, l.cfg.Origin, l.cfg.Verifier)
	for _, v := range l.cfg.PreviousVerifiers {
		if err == nil {
			break
		}
		// Published before a key rotation; Tessera re-signs it with Signer
		// at its next publication.
		if c, _, _, perr := f_log.ParseCheckpoint(raw, l.cfg.Origin, v); perr == nil {
			cp, err = c, nil
		}
	}
	if err != nil {
		return published{}, fmt.Errorf("verifying published checkpoint: %w", err)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, l.reader.ReadTile)
	if err != nil {
		return published{}, fmt.Errorf("building proofs at size %d: %w", cp.Size, err)
	}
	return published{raw: raw, size: cp.Size, root: cp.Hash, builder: pb}, nil
}

// awaitPublished waits until Tessera publishes a checkpoint of exactly size (nothing else is
// appended during start-up), bounded by ctx and a few checkpoint intervals.
func (l *Log) awaitPublished(ctx context.Context, size uint64) (published, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*l.cfg.CheckpointInterval+5*time.Second)
	defer cancel()
	for {
		pub, err := l.readPublished(ctx)
		if err != nil {
			return published{}, err
		}
		if pub.size >= size {
			if pub.size != size {
				return published{}, fmt.Errorf("%w: published size %d, integrated %d", ErrDiverged, pub.size, size)
			}
			return pub, nil
		}
		select {
		case <-ctx.Done():
			return published{}, fmt.Errorf("waiting for Tessera to publish size %d: %w", size, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// watch polls Tessera's published checkpoint until Close.
func (l *Log) watch() {
	defer close(l.watchDone)
	t := time.NewTicker(l.pollInterval())
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.refreshPublished(ctx); err != nil && !errors.Is(err, ErrDiverged) {
			l.cfg.Logger.Warn("translog cannot check published checkpoint", "err", err)
		}
		cancel()
	}
}

// refreshPublished picks up a newly published checkpoint, checks it against the roots this
// process signed (the safety net) and makes it the base of InclusionProof. A divergence
// stops all Appends.
func (l *Log) refreshPublished(ctx context.Context) error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("reading published checkpoint: %w", err)
	}
	l.pubMu.Lock()
	same := bytes.Equal(raw, l.pub.raw)
	l.pubMu.Unlock()
	if same {
		return nil
	}
	pub, err := l.readPublished(ctx)
	if err != nil {
		return err
	}
	if err := l.checkPublished(ctx, pub); err != nil {
		return err
	}
	l.pubMu.Lock()
	l.pub = pub
	l.pubMu.Unlock()
	return nil
}

// checkPublished compares a published (size, root) with the nearest root we signed at or below
// that size: equal roots for equal sizes, otherwise a consistency proof built from the tiles.
func (l *Log) checkPublished(ctx context.Context, pub published) error {
	sr, ok := l.signedAtOrBelow(pub.size)
	if !ok || sr.size == 0 {
		return nil
	}
	if sr.size == pub.size {
		if !bytes.Equal(sr.root, pub.root) {
			err := fmt.Errorf("published root %x for size %d, signed %x", pub.root, pub.size, sr.root)
			l.setDiverged(err)
			return fmt.Errorf("%w: %w", ErrDiverged, err)
		}
		return nil
	}
	cons, err := pub.builder.ConsistencyProof(ctx, sr.size, pub.size)
	if err != nil {
		return fmt.Errorf("reading consistency proof %d->%d: %w", sr.size, pub.size, err)
	}
	if err := proof.VerifyConsistency(hasher, sr.size, pub.size, cons, sr.root, pub.root); err != nil {
		err = fmt.Errorf("published checkpoint %d inconsistent with signed size %d: %w", pub.size, sr.size, err)
		l.setDiverged(err)
		return fmt.Errorf("%w: %w", ErrDiverged, err)
	}
	return nil
}

// InclusionProof returns the inclusion proof of the leaf at index against the latest
// checkpoint Tessera published (Proof.Checkpoint holds that note). It returns ErrNotFound if
// that checkpoint does not cover index yet.
func (l *Log) InclusionProof(ctx context.Context, index uint64) (Proof, error) {
	l.pubMu.Lock()
	covered := index < l.pub.size
	l.pubMu.Unlock()
	if !covered {
		if err := l.refreshPublished(ctx); err != nil {
			return Proof{}, err
		}
	}
	l.pubMu.Lock()
	defer l.pubMu.Unlock()
	pub := l.pub
	if index >= pub.size {
		return Proof{}, fmt.Errorf("inclusion proof for index %d, published size %d: %w", index, pub.size, ErrNotFound)
	}
	hashes, err := pub.builder.InclusionProof(ctx, index)
	if err != nil {
		return Proof{}, fmt.Errorf("building inclusion proof for index %d in tree %d: %w", index, pub.size, err)
	}
	return Proof{
		Index:      index,
		TreeSize:   pub.size,
		RootHash:   bytes.Clone(pub.root),
		Hashes:     cloneHashes(hashes),
		Checkpoint: bytes.Clone(pub.raw),
	}, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between tree sizes from <= to. The
// sizes may be any sizes up to the latest published checkpoint, or up to the size covered by
// this process's own signed checkpoints; beyond that it returns ErrNotFound.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, fmt.Errorf("consistency proof %d->%d: from exceeds to", from, to)
	}
	l.pubMu.Lock()
	if to <= l.pub.size {
		defer l.pubMu.Unlock()
		p, err := l.pub.builder.ConsistencyProof(ctx, from, to)
		if err != nil {
			return nil, fmt.Errorf("building consistency proof %d->%d: %w", from, to, err)
		}
		return cloneHashes(p), nil
	}
	l.pubMu.Unlock()
	if to > l.covered.Load() {
		return nil, fmt.Errorf("consistency proof %d->%d: %w", from, to, ErrNotFound)
	}
	// Our own checkpoints cover to; the tiles of the integrated tree (>= covered) hold every
	// node of the proof.
	size, err := l.IntegratedSize(ctx)
	if err != nil {
		return nil, err
	}
	pb, err := client.NewProofBuilder(ctx, size, l.reader.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("building proofs at size %d: %w", size, err)
	}
	p, err := pb.ConsistencyProof(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("building consistency proof %d->%d: %w", from, to, err)
	}
	return p, nil
}

// ReadLeaf returns the bytes of the entry at index, read from its entry bundle. It returns
// ErrNotFound if index is not integrated yet.
func (l *Log) ReadLeaf(ctx context.Context, index uint64) ([]byte, error) {
	size, err := l.IntegratedSize(ctx)
	if err != nil {
		return nil, err
	}
	if index >= size {
		return nil, fmt.Errorf("reading leaf %d of integrated size %d: %w", index, size, ErrNotFound)
	}
	return l.readLeaf(ctx, index, size)
}

// readLeaf reads the entry at index < size from the entry bundle implied by size.
func (l *Log) readLeaf(ctx context.Context, index, size uint64) ([]byte, error) {
	bundleIndex := index / layout.EntryBundleWidth
	raw, err := l.reader.ReadEntryBundle(ctx, bundleIndex, layout.PartialTileSize(0, bundleIndex, size))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading entry bundle %d: %w: %w", bundleIndex, ErrNotFound, err)
		}
		return nil, fmt.Errorf("reading entry bundle %d: %w", bundleIndex, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("parsing entry bundle %d: %w", bundleIndex, err)
	}
	i := index % layout.EntryBundleWidth
	if i >= uint64(len(b.Entries)) {
		return nil, fmt.Errorf("entry bundle %d holds %d entries, want index %d: %w", bundleIndex, len(b.Entries), i, ErrNotFound)
	}
	return bytes.Clone(b.Entries[i]), nil
}

// cloneHashes copies a proof out of a ProofBuilder, whose node hashes alias its tile cache.
func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = bytes.Clone(h)
	}
	return out
}
