package store

import (
	"context"
	"database/sql"
	"net/url"
	"sync/atomic"
	"time"
)

// Checkpointing the WAL in the background.
//
// SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL past
// 1000 pages, on the committing connection: here that is the single writer, so
// every request waiting for that group commit also waits for the checkpoint
// (copying pages into the database file and an fsync of it; measured at about
// 6 % of the daemon's CPU under signing load, all of it on the writer's
// critical path). The writer therefore runs with wal_autocheckpoint off, and a
// checkpointer of its own, on a connection of its own, runs PASSIVE
// checkpoints (which never block the writer or readers) every
// checkpointInterval. A passive checkpoint that cannot finish because
// readers still need old frames simply leaves them for the next round; once
// the WAL holds more than walRestartPages pages, a RESTART checkpoint (which
// waits for readers, and briefly for the writer) keeps it from growing
// without bound.
const (
	checkpointInterval = 200 * time.Millisecond
	walRestartPages    = 16384 // 64 MiB of 4 KiB pages
)

// checkpointer runs background WAL checkpoints until stop is closed.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	// copied sums the checkpointed-frame counts the background checkpoints
	// reported (a frame left for a later round counts again): for tests.
	copied atomic.Int64
}

func startCheckpointer(path, busyMS string, db *DB) (*checkpointer, error) {
	c, err := sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {busyMS},
		"_synchronous":  {"FULL"},
	}))
	if err != nil {
		return nil, wrapErr("store: opening the checkpoint connection", err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxLifetime(0)
	c.SetConnMaxIdleTime(0)
	ck := &checkpointer{db: c, stop: make(chan struct{}), done: make(chan struct{})}
	go ck.run(db)
	return ck, nil
}

func (ck *checkpointer) run(db *DB) {
	defer close(ck.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ck.stop:
			return
		case <-t.C:
		}
		var busy, logPages, done int64
		err := ck.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done)
		if err != nil {
			db.log.Warn("background WAL checkpoint", "err", err)
			continue
		}
		if done > 0 {
			ck.copied.Add(done)
		}
		if logPages > walRestartPages && done < logPages {
			if _, err := ck.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(RESTART)"); err != nil {
				db.log.Warn("WAL restart checkpoint", "err", err, "wal_pages", logPages)
			}
		}
	}
}

// close stops the checkpointer and closes its connection; the writer's own
// close then checkpoints what is left.
func (ck *checkpointer) close() error {
	close(ck.stop)
	<-ck.done
	return ck.db.Close()
}
