package translog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/tessera"
)

// waiter is one Append waiting for its covering checkpoint. index is set once Tessera's future
// resolves; done is closed by finish. A waiter with done == nil stands for a leaf read back
// from disk (gap fill) that no caller waits for.
type waiter struct {
	index    uint64
	leafHash []byte
	done     chan struct{}
	proof    Proof
	err      error
	log      *Log
}

// finish publishes the result to the caller and releases the in-flight slot.
func (w *waiter) finish(p Proof, err error) {
	if w.done == nil {
		return
	}
	w.proof, w.err = p, err
	close(w.done)
	w.log.inflight.Add(-1)
	w.log.wg.Done()
}

// Append adds leaf (at most 65535 bytes) to the log and waits until a checkpoint signed by
// Config.Signer covers it, returning the leaf's inclusion proof against that checkpoint.
//
// Errors: ErrBusy when too many Appends are in flight (retry later), ErrClosed after Close,
// ErrDiverged once the log has stopped, or ctx's error when the caller stops waiting; in that
// last case the entry may still be added to the log, which start-up reconciliation handles.
// Errors that mean the leaf was never queued (so it will not appear in the log) also wrap
// ErrNotQueued.
func (l *Log) Append(ctx context.Context, leaf []byte) (Proof, error) {
	if err := l.diverged(); err != nil {
		return Proof{}, fmt.Errorf("%w: %w", ErrNotQueued, err)
	}
	if err := ctx.Err(); err != nil {
		return Proof{}, fmt.Errorf("%w: appending to log: %w", ErrNotQueued, err)
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Proof{}, fmt.Errorf("%w: %w", ErrNotQueued, ErrClosed)
	}
	if l.inflight.Add(1) > int64(l.cfg.PushbackMaxOutstanding) {
		l.inflight.Add(-1)
		l.mu.RUnlock()
		return Proof{}, fmt.Errorf("%w: %w", ErrNotQueued, ErrBusy)
	}
	l.wg.Add(1)
	// Tessera keeps the slice until the batch is written: copy it so a caller that gives up
	// and reuses its buffer cannot make the stored bytes differ from the hashed ones.
	e := tessera.NewEntry(bytes.Clone(leaf))
	// Read the hash before Add: Tessera's sequencer writes to the entry concurrently.
	w := &waiter{leafHash: e.LeafHash(), done: make(chan struct{}), log: l}
	l.enqueue(feedItem{entry: e, w: w})
	l.mu.RUnlock()

	select {
	case <-w.done:
		return w.proof, w.err
	case <-ctx.Done():
		return Proof{}, fmt.Errorf("waiting for log inclusion: %w", ctx.Err())
	case <-l.stop:
		return Proof{}, ErrClosed
	}
}

// feedItem is one entry waiting for the next group the feeder hands to Tessera.
type feedItem struct {
	entry *tessera.Entry
	w     *waiter
}

// enqueue queues it for the feeder; it never blocks.
func (l *Log) enqueue(it feedItem) {
	l.feedMu.Lock()
	l.feedQ = append(l.feedQ, it)
	l.feedMu.Unlock()
	select {
	case l.feedWake <- struct{}{}:
	default:
	}
}

// runFeeder hands entries to Tessera in groups: every entry queued while the
// previous group was being sequenced and integrated goes in together, and the
// next group waits until this one is durable. This is group commit in front of
// Tessera's queue. Tessera cuts a batch by size or by the age of its first
// entry; left alone, under steady load it cuts a small batch every BatchMaxAge
// even while its single sequencer is still writing the previous one, and the
// small batches queue behind each other: each costs the same fsyncs whatever
// its length, so the latency grows while the batches stay small. Grouping here
// makes a batch hold everything that arrived during the previous one, so batch
// size follows load and nothing queues behind Tessera's sequencer.
func (l *Log) runFeeder() {
	defer close(l.feedDone)
	var futures []tessera.IndexFuture
	for {
		select {
		case <-l.feedWake:
		case <-l.stop:
			l.feedMu.Lock()
			rest := l.feedQ
			l.feedQ = nil
			l.feedMu.Unlock()
			for _, it := range rest {
				it.w.finish(Proof{}, ErrClosed)
			}
			return
		}
		l.feedMu.Lock()
		group := l.feedQ
		l.feedQ = nil
		l.feedMu.Unlock()
		if len(group) == 0 {
			continue
		}
		futures = futures[:0]
		for _, it := range group {
			futures = append(futures, l.add(l.bg, it.entry))
		}
		ws := make([]*waiter, 0, len(group))
		for i, it := range group {
			if w := l.resolve(futures[i], it.w); w != nil {
				ws = append(ws, w)
			}
		}
		if len(ws) == 0 {
			continue
		}
		select {
		case l.reports <- ws:
		case <-l.stop:
			for _, w := range ws {
				w.finish(Proof{}, ErrClosed)
			}
		}
	}
}

// resolve waits for Tessera to sequence and integrate w's entry and returns w
// with its index set, or finishes w with the error and returns nil.
func (l *Log) resolve(future tessera.IndexFuture, w *waiter) *waiter {
	idx, err := future()
	if err != nil {
		if errors.Is(err, tessera.ErrPushback) {
			err = fmt.Errorf("%w: %w", ErrBusy, err)
		}
		w.finish(Proof{}, fmt.Errorf("appending to Tessera log: %w", err))
		return nil
	}
	if idx.IsDup {
		w.finish(Proof{}, fmt.Errorf("appending to Tessera log: unexpected duplicate of entry %d", idx.Index))
		return nil
	}
	w.index = idx.Index
	return w
}
