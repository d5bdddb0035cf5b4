package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Defaults applied by Open to zero Config fields.
const (
	// DefaultReadConns is the size of the read-only pool.
	DefaultReadConns = 4
	// DefaultMaxBatch is the most Commit functions one transaction holds.
	DefaultMaxBatch = 256
	// DefaultBusyTimeout is how long a connection waits for a lock.
	DefaultBusyTimeout = 5 * time.Second
)

// ErrBusy reports that SQLite could not get a lock within the busy timeout
// (SQLITE_BUSY or SQLITE_LOCKED), typically because another process holds the
// database. The operation may succeed if retried later; the API maps it to 503.
var ErrBusy = errors.New("database is busy")

// ErrClosed is returned by Tx and Commit once Close has been called.
var ErrClosed = errors.New("store: database is closed")

// Config configures Open.
type Config struct {
	// Path is the database file. Its parent directory is created (mode 0700)
	// when missing, and a new database file is created with mode 0600; an
	// existing file keeps its mode.
	Path string
	// Migrations are the schema migrations of every domain, numbered 1..N
	// without gaps or duplicates, in any order.
	Migrations []Migration
	// Logger receives the migrations applied. Nil discards.
	Logger *slog.Logger
	// ReadConns is the size of the read-only pool. Zero means DefaultReadConns.
	ReadConns int
	// MaxBatch bounds how many Commit functions share one transaction. Zero
	// means DefaultMaxBatch.
	MaxBatch int
	// BusyTimeout is how long a connection waits for a lock held by another
	// connection or process. Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Now stamps schema_migrations.applied_at. Nil means time.Now.
	Now func() time.Time
}

// DB is an open stellad database: one writer connection, a read-only pool and
// the group committer. Its methods are safe for concurrent use. Close it once.
type DB struct {
	path   string
	log    *slog.Logger
	now    func() time.Time
	w      *sql.DB // exactly one connection: all writes are serialized
	r      *sql.DB // read-only connections
	commit *committer
	ck     *checkpointer

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at cfg.Path, applies the
// migrations it has not seen yet, each in its own transaction, and starts the
// group committer. It refuses a migration list with gaps or duplicates and a
// database whose schema version is newer than the highest migration given
// (a *SchemaVersionError). The caller must Close the DB.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, errors.New("store: opening database: Config.Path is empty")
	}
	migs, err := checkMigrations(cfg.Migrations)
	if err != nil {
		return nil, err
	}
	if cfg.ReadConns < 0 || cfg.MaxBatch < 0 || cfg.BusyTimeout < 0 {
		return nil, errors.New("store: opening database: negative ReadConns, MaxBatch or BusyTimeout")
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = DefaultReadConns
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("store: opening database %s: %w", cfg.Path, err)
	}
	if err := createFile(path); err != nil {
		return nil, err
	}

	db := &DB{path: path, log: cfg.Logger, now: cfg.Now}
	busyMS := strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)

	db.w, err = sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {busyMS},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
		// The group committer runs each function in a savepoint; keep the
		// statement and savepoint journals in memory, not in temporary files.
		// Checkpoints run in the background (checkpoint.go), not in the
		// writer's COMMIT.
		"_pragma": {"temp_store(memory)", "cache_size(-16384)", "wal_autocheckpoint(0)"},
	}))
	if err != nil {
		return nil, wrapErr("store: opening database "+path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	if err := db.checkWAL(ctx); err != nil {
		db.w.Close()
		return nil, err
	}
	if err := db.migrate(ctx, migs); err != nil {
		db.w.Close()
		return nil, err
	}

	db.r, err = sql.Open("sqlite", dsn(path, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {busyMS},
		"_synchronous":  {"FULL"},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}))
	if err == nil {
		db.r.SetMaxOpenConns(cfg.ReadConns)
		db.r.SetMaxIdleConns(cfg.ReadConns)
		err = db.r.PingContext(ctx)
	}
	if err != nil {
		if db.r != nil {
			db.r.Close()
		}
		db.w.Close()
		return nil, wrapErr("store: opening read-only pool on "+path, err)
	}

	sp, err := prepareSavepoints(ctx, db)
	if err != nil {
		db.w.Close()
		db.r.Close()
		return nil, err
	}
	if db.ck, err = startCheckpointer(path, busyMS, db); err != nil {
		db.w.Close()
		db.r.Close()
		return nil, err
	}
	db.commit = newCommitter(db.w, sp, cfg.MaxBatch, cfg.Logger)
	return db, nil
}

// createFile makes the parent directory (0700) and an empty database file
// (0600) when they are missing, so that SQLite's -wal and -shm files, which
// copy the database file's mode, are private too.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store: creating database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return fmt.Errorf("store: creating database file: %w", err)
	}
}

// dsn builds a file: URI for the modernc driver. The path is escaped so that
// '?', '#' and '%' in a directory name cannot be read as URI syntax.
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return u.String()
}

func (db *DB) checkWAL(ctx context.Context) error {
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return wrapErr("store: opening database "+db.path, err)
	}
	if mode != "wal" {
		return fmt.Errorf("store: opening database %s: journal mode is %q, want wal (does the file system support shared memory?)", db.path, mode)
	}
	return nil
}

// Read returns the read-only connection pool. Writes through it fail with
// SQLITE_READONLY. The pool belongs to db: do not close it.
func (db *DB) Read() *sql.DB { return db.r }

// Tx runs fn in one write transaction (BEGIN IMMEDIATE, so it holds the write
// lock from the start) and commits it when fn returns nil; it rolls back and
// returns fn's error unchanged otherwise, and rolls back and re-panics if fn
// panics. Write transactions are serialized with each other and with Commit
// batches. fn must not call Commit or Rollback itself, nor db.Tx or db.Commit
// (deadlock). Cancelling ctx rolls
// the transaction back.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	if db.commit.isClosed() {
		return ErrClosed
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("store: beginning write transaction", err)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		done = true
		tx.Rollback()
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return wrapErr("store: committing write transaction", err)
	}
	return nil
}

// Close stops accepting Tx and Commit calls, waits until every Commit already
// queued has run and been committed (or failed), and then closes both pools.
// Calls after the first return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.commit.close()
		db.closeErr = errors.Join(
			wrapErr("store: closing the checkpoint connection", db.ck.close()),
			wrapErr("store: closing read-only pool", db.r.Close()),
			wrapErr("store: closing database "+db.path, db.w.Close()),
		)
	})
	return db.closeErr
}

// wrapErr names what was being done and marks lock timeouts with ErrBusy.
// It returns nil for a nil err.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%s: %w: %w", op, ErrBusy, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}
