package translog

import (
	"context"
	"fmt"
	"sort"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// defaultGapTimeout is how long the checkpointer waits for a missing index to be reported before it
// reads the leaf hash back from the tiles. With this package as the only writer a gap only
// lasts until a resolving goroutine is scheduled; the fallback keeps the log live if that
// assumption is ever broken.
const defaultGapTimeout = 5 * time.Second

// runCheckpointer is the single goroutine that owns the compact range. Each round covers every
// leaf contiguous with the range when the round starts, signs one checkpoint and answers
// every waiter of the round.
func (l *Log) runCheckpointer() {
	defer close(l.cpDone)
	// The gap timer runs while leaves wait behind a missing index, and restarts whenever
	// the range moves: it fires only if the range stayed stuck at gapAt for gapTimeout.
	gap := time.NewTimer(l.cfg.gapTimeout)
	gap.Stop()
	gapArmed, gapAt := false, uint64(0)
	for {
		select {
		case ws := <-l.reports:
			for _, w := range ws {
				l.accept(w)
			}
		case <-gap.C:
			gapArmed = false
			if l.rng.End() == gapAt {
				l.fillGap()
			}
		case <-l.stop:
			// The feeder stops on the same signal; once it has, finish whatever it
			// handed over that no round took.
			<-l.feedDone
			for {
				select {
				case ws := <-l.reports:
					for _, w := range ws {
						w.finish(Proof{}, ErrClosed)
					}
					continue
				default:
				}
				break
			}
			for _, w := range l.pending {
				w.finish(Proof{}, ErrClosed)
			}
			clear(l.pending)
			return
		}
		l.settle()
		l.round()
		m := l.rng.End()
		switch stuck := len(l.pending) > 0; {
		case stuck && (!gapArmed || gapAt != m):
			gap.Reset(l.cfg.gapTimeout)
			gapArmed, gapAt = true, m
		case !stuck && gapArmed:
			gap.Stop()
			gapArmed = false
		}
	}
}

// settle drains every group of reports already queued, so that one round
// (one signature) covers them all. The feeder reports a whole Tessera batch at
// once, so there is nothing to wait for.
func (l *Log) settle() {
	for {
		select {
		case ws := <-l.reports:
			for _, w := range ws {
				l.accept(w)
			}
		default:
			return
		}
	}
}

// accept records a reported leaf for the next round.
func (l *Log) accept(w *waiter) {
	switch {
	case w.index < l.rng.End():
		// Only possible after a gap fill raced a slow report; the entry is in the log.
		w.finish(Proof{}, fmt.Errorf("entry %d was covered before it was reported; fetch its proof with InclusionProof", w.index))
	case l.pending[w.index] != nil:
		w.finish(Proof{}, fmt.Errorf("index %d reported twice", w.index))
	default:
		l.pending[w.index] = w
	}
}

// round extends the range over the contiguous reported leaves, signs one checkpoint and
// answers their waiters.
func (l *Log) round() {
	m := l.rng.End()
	n := m
	for l.pending[n] != nil {
		n++
	}
	if n == m {
		return
	}
	ws := make([]*waiter, 0, n-m)
	for i := m; i < n; i++ {
		ws = append(ws, l.pending[i])
		delete(l.pending, i)
	}
	hashes := make([][]byte, len(ws))
	for i, w := range ws {
		hashes[i] = w.leafHash
	}
	root, proofs, err := extend(l.rng, hashes)
	if err != nil {
		// Unreachable with a well-formed range; without a valid range no proof can be served.
		l.setDiverged(fmt.Errorf("extending compact range [%d,%d): %w", m, n, err))
	}
	l.covered.Store(n)
	if err == nil {
		err = l.diverged()
	}
	var cp []byte
	if err == nil {
		if cp, err = signCheckpoint(l.cfg.Signer, l.cfg.Origin, n, root); err == nil {
			l.recordSigned(n, root)
		}
	}
	for i, w := range ws {
		if err != nil {
			w.finish(Proof{}, err)
			continue
		}
		w.finish(Proof{Index: w.index, TreeSize: n, RootHash: root, Hashes: proofs[i], Checkpoint: cp}, nil)
	}
}

// extend appends leafHashes to r (which must start at 0) and returns the new root and, for
// each appended leaf, its inclusion proof in the new tree, computed in memory.
//
// Every node of those proofs is one of: a node of r's compact range before the append, a
// node the append creates (leaves, and perfect subtrees whose right edge is in the new part,
// including those straddling the old end), or an ephemeral node on the right border that
// proof.Nodes.Rehash computes from them. The visitor collects the second kind.
func extend(r *compact.Range, leafHashes [][]byte) ([]byte, [][][]byte, error) {
	m := r.End()
	n := m + uint64(len(leafHashes))
	nodes := make(map[compact.NodeID][]byte, 2*len(leafHashes)+64)
	for i, id := range compact.RangeNodes(0, m, nil) {
		nodes[id] = r.Hashes()[i]
	}
	visit := func(id compact.NodeID, h []byte) { nodes[id] = h }
	for _, h := range leafHashes {
		if err := r.Append(h, visit); err != nil {
			return nil, nil, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, nil, err
	}
	proofs := make([][][]byte, len(leafHashes))
	for i := range leafHashes {
		idx := m + uint64(i)
		pn, err := proof.Inclusion(idx, n)
		if err != nil {
			return nil, nil, err
		}
		hs := make([][]byte, len(pn.IDs))
		for j, id := range pn.IDs {
			h, ok := nodes[id]
			if !ok {
				return nil, nil, fmt.Errorf("node %+v of proof %d in tree %d not available", id, idx, n)
			}
			hs[j] = h
		}
		hs, err = pn.Rehash(hs, hasher.HashChildren)
		if err != nil {
			return nil, nil, err
		}
		// Give every caller its own copy: the node hashes are shared between proofs.
		out := make([][]byte, len(hs))
		buf := make([]byte, 0, len(hs)*hasher.Size())
		for j, h := range hs {
			start := len(buf)
			buf = append(buf, h...)
			out[j] = buf[start:len(buf):len(buf)]
		}
		proofs[i] = out
	}
	return root, proofs, nil
}

// signCheckpoint produces exactly the note Tessera's WithCheckpointSigner produces for
// (origin, size, root): a C2SP tlog-checkpoint body signed by s.
func signCheckpoint(s note.Signer, origin string, size uint64, root []byte) ([]byte, error) {
	body := f_log.Checkpoint{Origin: origin, Size: size, Hash: root}.Marshal()
	cp, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint for size %d: %w", size, err)
	}
	return cp, nil
}

// recordSigned remembers a root this process signed (or verified at start-up).
func (l *Log) recordSigned(size uint64, root []byte) {
	l.signedMu.Lock()
	defer l.signedMu.Unlock()
	if len(l.signed) >= signedRingSize {
		// Drop the oldest quarter at once so the copy is amortised.
		l.signed = append(l.signed[:0], l.signed[signedRingSize/4:]...)
	}
	l.signed = append(l.signed, sizeRoot{size: size, root: root})
}

// signedAtOrBelow returns the largest recorded size <= size and its root.
func (l *Log) signedAtOrBelow(size uint64) (sizeRoot, bool) {
	l.signedMu.Lock()
	defer l.signedMu.Unlock()
	i := sort.Search(len(l.signed), func(i int) bool { return l.signed[i].size > size })
	if i == 0 {
		return sizeRoot{}, false
	}
	return l.signed[i-1], true
}

// fillGap reads the hashes of leaves that are integrated but were never reported (another
// writer, or a lost report) from the level-0 tiles, so the range can move past them.
func (l *Log) fillGap() {
	m := l.rng.End()
	if len(l.pending) == 0 || l.pending[m] != nil {
		return
	}
	first := ^uint64(0)
	for i := range l.pending {
		first = min(first, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil || size < first {
		l.cfg.Logger.Warn("translog gap fill: cannot read integrated size", "err", err)
		return
	}
	hashes, err := client.FetchLeafHashes(ctx, l.reader.ReadTile, m, first-m, size)
	if err != nil {
		l.cfg.Logger.Warn("translog gap fill: cannot read leaf hashes", "err", err)
		return
	}
	l.cfg.Logger.Warn("translog filled a gap of unreported leaves from disk", "log_index", m, "count", len(hashes))
	for i, h := range hashes {
		l.pending[m+uint64(i)] = &waiter{index: m + uint64(i), leafHash: h}
	}
	l.round()
}
