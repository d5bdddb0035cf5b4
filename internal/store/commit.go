package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Commit runs fn inside a write transaction shared with other callers' Commit
// functions (group commit) and returns once that transaction is durable, or
// with the error that kept fn's writes out of it.
//
// A single goroutine drains the queue of functions: while one batch is being
// committed the next accumulates, up to the MaxBatch configured, so many
// concurrent callers share one fsync without any timer. Each fn runs inside
// its own SAVEPOINT: when fn returns an error its writes are rolled back alone,
// Commit returns that error unchanged, and the other functions of the batch
// still commit. When the batch's COMMIT fails, every caller whose fn succeeded
// gets that error.
//
// If ctx ends while fn is still queued, fn is removed and never runs; Commit
// returns ctx.Err(). Once fn has started, Commit waits for the batch outcome
// whatever happens to ctx, because the writes may already be durable.
//
// fn must be small and quick (it delays every caller queued behind it), must
// not call Commit or Rollback on the transaction nor call db.Tx or db.Commit
// (they wait for the writer fn is holding: deadlock), and should depend only on
// its arguments and what it reads through the transaction: if another
// caller's fn makes SQLite abort the whole shared transaction (an interrupted
// statement, a disk I/O error) the functions that had already run are run
// again in a new transaction. A panic in fn is re-raised in the caller's
// goroutine after fn's savepoint has been rolled back. After Close, Commit
// returns ErrClosed.
func (db *DB) Commit(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.commit.do(ctx, fn)
}

const savepoint = "stellad_group_commit"

type reqState int

const (
	queued reqState = iota
	taken
	cancelled
)

type commitReq struct {
	ctx   context.Context
	fn    func(*sql.Tx) error
	done  chan commitResult // buffered: the committer never blocks on it
	state reqState          // guarded by committer.mu
}

type commitResult struct {
	err      error
	panicked bool
	panicVal any
}

func (r *commitReq) finish(res commitResult) { r.done <- res }

// committer is the single goroutine that turns queued Commit calls into
// batches, and the queue it drains.
type committer struct {
	w        *sql.DB
	sp       savepoints
	maxBatch int
	log      *slog.Logger

	mu     sync.Mutex
	queue  []*commitReq
	closed bool
	wake   chan struct{} // capacity 1: "the queue may have changed"
	exited chan struct{}

	// Counters for tests and benchmarks.
	batches atomic.Int64
	fns     atomic.Int64
	retries atomic.Int64
}

func newCommitter(w *sql.DB, sp savepoints, maxBatch int, log *slog.Logger) *committer {
	c := &committer{
		w:        w,
		sp:       sp,
		maxBatch: maxBatch,
		log:      log,
		wake:     make(chan struct{}, 1),
		exited:   make(chan struct{}),
	}
	go c.run()
	return c
}

func (c *committer) isClosed() bool {
	if c == nil { // during migrations, before the committer starts
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *committer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &commitReq{ctx: ctx, fn: fn, done: make(chan commitResult, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, req)
	c.mu.Unlock()
	c.signal()

	var res commitResult
	select {
	case res = <-req.done:
	case <-ctx.Done():
		c.mu.Lock()
		if req.state == queued {
			req.state = cancelled
			c.mu.Unlock()
			return ctx.Err()
		}
		c.mu.Unlock()
		res = <-req.done
	}
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// close stops new Commit calls and waits until the queue is drained.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	<-c.exited
}

func (c *committer) run() {
	defer close(c.exited)
	for {
		batch := c.next()
		if batch == nil {
			return
		}
		for len(batch) > 0 {
			batch = c.runBatch(batch)
		}
	}
}

// next waits for work and takes up to maxBatch live requests off the queue.
// It returns nil once the committer is closed and the queue is empty.
func (c *committer) next() []*commitReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		var batch []*commitReq
		n := 0
		for n < len(c.queue) && len(batch) < c.maxBatch {
			r := c.queue[n]
			n++
			if r.state == cancelled {
				continue
			}
			r.state = taken
			batch = append(batch, r)
		}
		clear(c.queue[:n])
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil // let the backing array go
		}
		if len(batch) > 0 {
			return batch
		}
		if len(c.queue) > 0 {
			continue // the whole prefix was cancelled
		}
		if c.closed {
			return nil
		}
		c.mu.Unlock()
		<-c.wake
		c.mu.Lock()
	}
}

// runBatch runs reqs in one transaction and delivers every outcome, except
// when another caller's fn made SQLite abandon the transaction: then the
// requests whose fn had succeeded (and those not yet run) are returned to be
// run again. Each retry drops the request that caused it, so retries end.
func (c *committer) runBatch(reqs []*commitReq) (retry []*commitReq) {
	ctx := context.Background() // the batch outlives any one caller's ctx
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		err = wrapErr("store: beginning group commit", err)
		for _, r := range reqs {
			r.finish(commitResult{err: err})
		}
		return nil
	}
	c.batches.Add(1)
	var ok []*commitReq
	abandon := func(cause error, rest []*commitReq) []*commitReq {
		tx.Rollback() // SQLite has rolled back already; this frees the connection
		c.retries.Add(1)
		c.log.Warn("group commit transaction aborted; rerunning the other functions", "err", cause, "rerun", len(ok)+len(rest))
		return append(ok, rest...)
	}
	for i, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.finish(commitResult{err: err})
			continue
		}
		if _, err := c.sp.begin.Exec(tx); err != nil {
			// The transaction broke before fn ran (not fn's doing): fail the
			// whole batch rather than loop.
			tx.Rollback()
			err = wrapErr("store: group commit savepoint", err)
			for _, r := range reqs[i:] {
				r.finish(commitResult{err: err})
			}
			for _, r := range ok {
				r.finish(commitResult{err: err})
			}
			return nil
		}
		c.fns.Add(1)
		res := call(r.fn, tx)
		if res.err == nil && !res.panicked {
			if _, err := c.sp.release.Exec(tx); err != nil {
				// fn returned nil but ended the transaction (Commit, Rollback
				// or a ROLLBACK statement): a programming error in fn.
				r.finish(commitResult{panicked: true, panicVal: fmt.Sprintf(
					"store: Commit function ended the shared transaction (called Commit, Rollback or ROLLBACK): %v", err)})
				return abandon(err, reqs[i+1:])
			}
			ok = append(ok, r)
			continue
		}
		if _, err := c.sp.rollback.Exec(tx); err != nil {
			// SQLite rolled back the whole transaction because of fn.
			r.finish(res)
			return abandon(err, reqs[i+1:])
		}
		if _, err := c.sp.release.Exec(tx); err != nil {
			r.finish(res)
			return abandon(err, reqs[i+1:])
		}
		r.finish(res)
	}
	err = tx.Commit()
	if err != nil {
		// SQLite may leave the transaction open after a failed COMMIT (a full
		// disk, say); the single writer connection must not go back to the
		// pool inside it.
		_ = tx.Rollback()
		err = wrapErr(fmt.Sprintf("store: committing group of %d", len(ok)), err)
	}
	for _, r := range ok {
		r.finish(commitResult{err: err})
	}
	return nil
}

// savepoints are the committer's own statements, prepared once.
type savepoints struct{ begin, release, rollback *Stmt }

func prepareSavepoints(ctx context.Context, db *DB) (savepoints, error) {
	var sp savepoints
	for _, p := range []struct {
		s **Stmt
		q string
	}{{&sp.begin, "SAVEPOINT " + savepoint}, {&sp.release, "RELEASE " + savepoint}, {&sp.rollback, "ROLLBACK TO " + savepoint}} {
		s, err := db.Prepare(ctx, p.q)
		if err != nil {
			return sp, err
		}
		*p.s = s
	}
	return sp, nil
}

// call runs fn, turning a panic into a result so the committer survives it.
func call(fn func(*sql.Tx) error, tx *sql.Tx) (res commitResult) {
	defer func() {
		if p := recover(); p != nil {
			res = commitResult{panicked: true, panicVal: p}
		}
	}()
	err := fn(tx)
	if err == nil {
		return commitResult{}
	}
	return commitResult{err: err}
}
