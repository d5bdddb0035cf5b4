package authn

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// replayKey names a DPoP proof in the replay cache: the SHA-256 of the proof
// key's thumbprint and the proof's jti, so that jtis are unique per key (RFC
// 9449 §11.1) and one client cannot burn another's.
func replayKey(jkt, jti string) [32]byte {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// sweepInterval is how often reserve drops expired entries.
const sweepInterval = 30 * time.Second

// replayCache is the in-memory set of DPoP proofs seen and not yet expired.
// Reserving is check-and-insert under one lock, so of several concurrent
// requests with one proof exactly one wins.
type replayCache struct {
	max       int
	mu        sync.Mutex
	m         map[[32]byte]time.Time // key -> expiry
	nextSweep time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, m: make(map[[32]byte]time.Time)}
}

// reserve records key until exp, or refuses it when it is already recorded
// and unexpired.
func (c *replayCache) reserve(key [32]byte, exp, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok && !now.After(old) {
		return refuse(CodeDPoPReplayed, "DPoP proof jti was used before")
	}
	if !now.Before(c.nextSweep) || len(c.m) >= c.max {
		c.sweepLocked(now)
	}
	if len(c.m) >= c.max {
		return &Error{Code: CodeDPoPInvalid, Msg: "DPoP replay cache is full", RetryAfter: time.Second}
	}
	c.m[key] = exp
	return nil
}

// add records key until exp unconditionally (loading from the database).
func (c *replayCache) add(key [32]byte, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; !ok || exp.After(old) {
		c.m[key] = exp
	}
}

// sweep drops the expired entries.
func (c *replayCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *replayCache) sweepLocked(now time.Time) {
	for k, exp := range c.m {
		if now.After(exp) {
			delete(c.m, k)
		}
	}
	c.nextSweep = now.Add(sweepInterval)
}

func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

const insertJTISQL = `INSERT INTO dpop_jti (jti, tenant, expires_at) VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING`

// unixCeil is t in Unix seconds, rounded up.
func unixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// RecordJTI makes the DPoP proof of p durable in dpop_jti inside tx, the
// caller's transaction (run it in the transaction that records the request,
// allowed or refused, after Authenticate returned p). It is a no-op for a
// principal not bound by DPoP. It is safe to re-run after a rolled-back
// transaction. If another process recorded the same proof first, it returns
// an *Error with CodeDPoPReplayed and the caller must refuse the request.
func (a *Authenticator) RecordJTI(tx *sql.Tx, p *Principal) error {
	if p == nil || p.Binding != BindingDPoP {
		return nil
	}
	k := replayKey(p.JKT, p.DPoPJTI)
	res, err := a.insertJTI.Exec(tx, hex.EncodeToString(k[:]), p.Tenant, unixCeil(p.DPoPExpiry))
	if err != nil {
		return fmt.Errorf("authn: recording DPoP jti: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("authn: recording DPoP jti: %w", err)
	}
	if n == 0 {
		return refuse(CodeDPoPReplayed, "DPoP proof jti was recorded before")
	}
	return nil
}

// loadJTIs fills the replay cache with the unexpired rows of dpop_jti.
func (a *Authenticator) loadJTIs(ctx context.Context) (int, error) {
	now := a.now()
	rows, err := a.db.Read().QueryContext(ctx, `SELECT jti, expires_at FROM dpop_jti WHERE expires_at >= ?`, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("authn: loading DPoP jtis: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var s string
		var exp int64
		if err := rows.Scan(&s, &exp); err != nil {
			return n, fmt.Errorf("authn: loading DPoP jtis: %w", err)
		}
		var k [32]byte
		if b, err := hex.DecodeString(s); err != nil || len(b) != len(k) {
			return n, fmt.Errorf("authn: loading DPoP jtis: row %q is not a hex SHA-256", s)
		}
		hex.Decode(k[:], []byte(s))
		a.replay.add(k, time.Unix(exp, 0))
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("authn: loading DPoP jtis: %w", err)
	}
	return n, nil
}

// pruneBatch bounds the rows one Prune transaction deletes.
const pruneBatch = 1000

// Prune deletes the expired rows of dpop_jti, in small group-committed
// transactions, and drops expired jtis from memory. Run it periodically (for
// example every minute); it is safe to run concurrently with Authenticate.
func (a *Authenticator) Prune(ctx context.Context) error {
	now := a.now()
	a.replay.sweep(now)
	total := int64(0)
	for {
		var n int64
		err := a.db.Commit(ctx, func(tx *sql.Tx) error {
			res, err := tx.Exec(`DELETE FROM dpop_jti WHERE jti IN (SELECT jti FROM dpop_jti WHERE expires_at < ? LIMIT ?)`,
				now.Unix(), pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return fmt.Errorf("authn: pruning dpop_jti: %w", err)
		}
		total += n
		if n < pruneBatch {
			break
		}
	}
	a.log.Debug("pruned DPoP jtis", "rows", total)
	return nil
}
