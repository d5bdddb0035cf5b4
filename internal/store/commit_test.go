package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func insertItem(v string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO items (v) VALUES (?)`, v)
		return err
	}
}

// holdCommitter makes the committer run a function that waits until release
// is called, so the Commit calls made meanwhile queue up into the next batch.
func holdCommitter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.Commit(context.Background(), func(tx *sql.Tx) error {
			close(started)
			<-gate
			return insertItem("holder")(tx)
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-errc; err != nil {
			t.Errorf("holder: %v", err)
		}
	}
}

// waitQueued waits until n live requests are queued behind the holder.
func waitQueued(db *DB, n int) {
	for {
		db.commit.mu.Lock()
		live := 0
		for _, r := range db.commit.queue {
			if r.state == queued {
				live++
			}
		}
		db.commit.mu.Unlock()
		if live >= n {
			return
		}
		runtime.Gosched()
	}
}

func TestCommitOneFailingAmongMany(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	release := holdCommitter(t, db)
	errBoom := errors.New("boom")
	const n, bad = 64, 17
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Commit(context.Background(), func(tx *sql.Tx) error {
				if err := insertItem(fmt.Sprint(i))(tx); err != nil {
					return err
				}
				if i == bad {
					return fmt.Errorf("caller %d: %w", i, errBoom)
				}
				return nil
			})
		})
	}
	waitQueued(db, n)
	batchesBefore := db.commit.batches.Load()
	release()
	wg.Wait()
	for i, err := range errs {
		if i == bad {
			if !errors.Is(err, errBoom) {
				t.Errorf("caller %d: err = %v, want errBoom", i, err)
			}
		} else if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if got := db.commit.batches.Load() - batchesBefore; got != 1 {
		t.Errorf("the %d callers ran in %d batches, want 1", n, got)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v <> 'holder'`); got != n-1 {
		t.Errorf("%d rows, want %d", got, n-1)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v = ?`, fmt.Sprint(bad)); got != 0 {
		t.Error("the failing caller's row was committed")
	}
}

func TestCommitFrom64Goroutines(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	const goroutines, each = 64, 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := db.Commit(context.Background(), insertItem(fmt.Sprintf("%d/%d", g, i))); err != nil {
					t.Error(err)
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := count(t, db, `SELECT COUNT(DISTINCT v) FROM items`); got != goroutines*each {
		t.Errorf("%d rows, want %d", got, goroutines*each)
	}
	t.Logf("%d functions in %d batches", db.commit.fns.Load(), db.commit.batches.Load())
}

func TestCommitMaxBatch(t *testing.T) {
	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "db"), Migrations: testMigrations, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release := holdCommitter(t, db)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := db.Commit(context.Background(), insertItem(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(db, 10)
	before := db.commit.batches.Load()
	release()
	wg.Wait()
	if got := db.commit.batches.Load() - before; got != 3 {
		t.Errorf("10 callers with MaxBatch 4 ran in %d batches, want 3", got)
	}
}

func TestCommitCancelledWhileQueued(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	release := holdCommitter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	errc := make(chan error, 1)
	go func() {
		errc <- db.Commit(ctx, func(tx *sql.Tx) error {
			ran.Store(true)
			return insertItem("cancelled")(tx)
		})
	}()
	waitQueued(db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	release()
	if err := db.Commit(context.Background(), insertItem("after")); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Error("the cancelled function ran")
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v = 'cancelled'`); got != 0 {
		t.Error("the cancelled function's row exists")
	}
	if err := db.Commit(ctx, insertItem("late")); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a done ctx: err = %v", err)
	}
}

func TestCommitPanicReachesCaller(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	release := holdCommitter(t, db)
	var wg sync.WaitGroup
	var recovered atomic.Value
	wg.Go(func() {
		defer func() { recovered.Store(fmt.Sprint(recover())) }()
		db.Commit(context.Background(), func(tx *sql.Tx) error {
			insertItem("panicker")(tx)
			panic("fn exploded")
		})
	})
	wg.Go(func() {
		if err := db.Commit(context.Background(), insertItem("bystander")); err != nil {
			t.Error(err)
		}
	})
	waitQueued(db, 2)
	release()
	wg.Wait()
	if got := recovered.Load(); got != "fn exploded" {
		t.Errorf("caller recovered %v, want the fn's panic value", got)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v = 'panicker'`); got != 0 {
		t.Error("the panicking function's row was committed")
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v = 'bystander'`); got != 1 {
		t.Error("the bystander's row is missing")
	}
}

// A function that makes SQLite abandon the whole transaction (here an explicit
// ROLLBACK; in the field an interrupted statement or an I/O error) fails
// alone: the functions that ran before it are run again in a new transaction.
func TestCommitSurvivesAbortedTransaction(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	release := holdCommitter(t, db)
	const n, bad = 8, 3
	var calls [n]atomic.Int64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Commit(context.Background(), func(tx *sql.Tx) error {
				calls[i].Add(1)
				if i == bad {
					if _, err := tx.Exec("ROLLBACK"); err != nil {
						return err
					}
					return errors.New("aborted the transaction")
				}
				return insertItem(fmt.Sprint(i))(tx)
			})
		})
		waitQueued(db, i+1) // fixes the order in the batch
	}
	release()
	wg.Wait()
	for i := range n {
		switch {
		case i == bad && errs[i] == nil:
			t.Errorf("caller %d: no error", i)
		case i != bad && errs[i] != nil:
			t.Errorf("caller %d: %v", i, errs[i])
		}
		want := int64(1)
		if i < bad {
			want = 2
		}
		if got := calls[i].Load(); got != want {
			t.Errorf("caller %d: fn called %d times, want %d", i, got, want)
		}
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v <> 'holder'`); got != n-1 {
		t.Errorf("%d rows, want %d", got, n-1)
	}
	if got := db.commit.retries.Load(); got != 1 {
		t.Errorf("%d retries, want 1", got)
	}
}

func TestCommitFnEndingTransactionPanics(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic for a fn that rolled back the shared transaction")
			}
		}()
		db.Commit(context.Background(), func(tx *sql.Tx) error { return tx.Rollback() })
	}()
	if err := db.Commit(context.Background(), insertItem("after")); err != nil {
		t.Fatalf("committer broken after misuse: %v", err)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(context.Background(), Config{Path: path, Migrations: testMigrations})
	if err != nil {
		t.Fatal(err)
	}
	release := holdCommitter(t, db)
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := db.Commit(context.Background(), insertItem(fmt.Sprint(i))); err != nil {
				t.Errorf("queued before Close: %v", err)
			}
		})
	}
	waitQueued(db, n)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	for !db.commit.isClosed() {
		runtime.Gosched()
	}
	if err := db.Commit(context.Background(), insertItem("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: err = %v, want ErrClosed", err)
	}
	if err := db.Tx(context.Background(), insertItem("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Tx after Close: err = %v, want ErrClosed", err)
	}
	release()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	db = openTest(t, path, testMigrations)
	if got := count(t, db, `SELECT COUNT(*) FROM items`); got != n+1 {
		t.Errorf("%d rows after reopen, want %d", got, n+1)
	}
}

// A caller's ctx interrupting its own long statement makes SQLite roll back the
// whole shared transaction; the other callers' writes must still commit.
func TestCommitSurvivesInterruptedStatement(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"), testMigrations)
	release := holdCommitter(t, db)
	var wg sync.WaitGroup
	var slowErr error
	wg.Go(func() {
		if err := db.Commit(context.Background(), insertItem("before")); err != nil {
			t.Error(err)
		}
	})
	waitQueued(db, 1)
	wg.Go(func() {
		slowErr = db.Commit(context.Background(), func(tx *sql.Tx) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan struct{})
			go func() { <-started; cancel() }()
			close(started)
			// Far more work than the cancellation takes to arrive.
			_, err := tx.ExecContext(ctx, `INSERT INTO items (v)
				WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 100000000)
				SELECT 'slow' FROM n`)
			return err
		})
	})
	waitQueued(db, 2)
	wg.Go(func() {
		if err := db.Commit(context.Background(), insertItem("after")); err != nil {
			t.Error(err)
		}
	})
	waitQueued(db, 3)
	release()
	wg.Wait()
	if !errors.Is(slowErr, context.Canceled) {
		t.Errorf("interrupted caller: err = %v, want context.Canceled", slowErr)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v IN ('before', 'after')`); got != 2 {
		t.Errorf("%d of the other callers' rows committed, want 2", got)
	}
	if got := count(t, db, `SELECT COUNT(*) FROM items WHERE v = 'slow'`); got != 0 {
		t.Errorf("%d rows of the interrupted statement committed", got)
	}
	t.Logf("retries: %d", db.commit.retries.Load())
}
