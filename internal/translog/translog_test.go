package translog

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "localhost"

// testKeys is an Ed25519 note key pair for testOrigin.
type testKeys struct {
	signer   note.Signer
	verifier note.Verifier
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{signer: s, verifier: v}
}

// testConfig is a Config for dir with a short checkpoint interval so tests see publications
// quickly.
func testConfig(dir string, k testKeys) Config {
	return Config{
		Dir:                dir,
		Origin:             testOrigin,
		Signer:             k.signer,
		Verifier:           k.verifier,
		CheckpointInterval: 100 * time.Millisecond,
	}
}

func openLog(t testing.TB, cfg Config) *Log {
	t.Helper()
	l, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func closeLog(t testing.TB, l *Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func leafFor(prefix string, i int) []byte {
	return fmt.Appendf(nil, `{"kind":"hashedrekord","test":%q,"n":%d}`, prefix, i)
}

// checkProof verifies p for leaf: the checkpoint's signature, its body against TreeSize and
// RootHash, and the inclusion proof against RootHash.
func checkProof(t testing.TB, v note.Verifier, leaf []byte, p Proof) {
	t.Helper()
	cp, _, _, err := f_log.ParseCheckpoint(p.Checkpoint, testOrigin, v)
	if err != nil {
		t.Fatalf("checkpoint of index %d does not verify: %v", p.Index, err)
	}
	if cp.Size != p.TreeSize || !bytes.Equal(cp.Hash, p.RootHash) {
		t.Fatalf("checkpoint (%d,%x) differs from proof (%d,%x)", cp.Size, cp.Hash, p.TreeSize, p.RootHash)
	}
	if p.Index >= p.TreeSize {
		t.Fatalf("index %d not below tree size %d", p.Index, p.TreeSize)
	}
	if err := proof.VerifyInclusion(hasher, p.Index, p.TreeSize, hasher.HashLeaf(leaf), p.Hashes, p.RootHash); err != nil {
		t.Fatalf("inclusion proof of index %d in tree %d: %v", p.Index, p.TreeSize, err)
	}
}

// appendAll appends workers*perWorker leaves concurrently and returns leaf -> proof.
func appendAll(t testing.TB, l *Log, prefix string, workers, perWorker int) map[string]Proof {
	t.Helper()
	var mu sync.Mutex
	out := make(map[string]Proof, workers*perWorker)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				leaf := leafFor(fmt.Sprintf("%s-%d", prefix, w), i)
				p, err := l.Append(context.Background(), leaf)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				out[string(leaf)] = p
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	return out
}

// waitPublished waits until Tessera's published checkpoint covers size.
func waitPublished(t testing.TB, l *Log, size uint64, v note.Verifier) *f_log.Checkpoint {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		raw, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		cp, _, _, err := f_log.ParseCheckpoint(raw, testOrigin, v)
		if err != nil {
			t.Fatalf("published checkpoint does not verify: %v", err)
		}
		if cp.Size >= size {
			return cp
		}
		select {
		case <-ctx.Done():
			t.Fatalf("published size %d never reached %d", cp.Size, size)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkConsistentWith checks every signed (size, root) against the published checkpoint
// final through ConsistencyProof.
func checkConsistentWith(t testing.TB, l *Log, final *f_log.Checkpoint, roots map[uint64][]byte) {
	t.Helper()
	for size, root := range roots {
		cons, err := l.ConsistencyProof(context.Background(), size, final.Size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", size, final.Size, err)
		}
		if err := proof.VerifyConsistency(hasher, size, final.Size, cons, root, final.Hash); err != nil {
			t.Fatalf("signed root of size %d is not consistent with published %d: %v", size, final.Size, err)
		}
	}
}

func TestAppendConcurrent(t *testing.T) {
	const workers, perWorker = 64, 200
	k := newTestKeys(t)
	l := openLog(t, testConfig(t.TempDir(), k))
	defer closeLog(t, l)

	proofs := appendAll(t, l, "c", workers, perWorker)
	if len(proofs) != workers*perWorker {
		t.Fatalf("got %d proofs, want %d", len(proofs), workers*perWorker)
	}
	seen := make(map[uint64]bool, len(proofs))
	roots := make(map[uint64][]byte)
	for leaf, p := range proofs {
		if seen[p.Index] {
			t.Fatalf("index %d returned twice", p.Index)
		}
		seen[p.Index] = true
		checkProof(t, k.verifier, []byte(leaf), p)
		if r, ok := roots[p.TreeSize]; ok && !bytes.Equal(r, p.RootHash) {
			t.Fatalf("two roots signed for size %d", p.TreeSize)
		}
		roots[p.TreeSize] = p.RootHash
	}
	t.Logf("%d appends answered by %d signed checkpoints", len(proofs), len(roots))

	final := waitPublished(t, l, uint64(len(proofs)), k.verifier)
	checkConsistentWith(t, l, final, roots)

	// ReadLeaf returns the exact bytes, and InclusionProof against the published checkpoint
	// agrees.
	n := 0
	for leaf, p := range proofs {
		if n++; n > 200 {
			break
		}
		got, err := l.ReadLeaf(context.Background(), p.Index)
		if err != nil {
			t.Fatalf("ReadLeaf(%d): %v", p.Index, err)
		}
		if !bytes.Equal(got, []byte(leaf)) {
			t.Fatalf("ReadLeaf(%d) = %q, want %q", p.Index, got, leaf)
		}
		ip, err := l.InclusionProof(context.Background(), p.Index)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", p.Index, err)
		}
		checkProof(t, k.verifier, []byte(leaf), ip)
	}
}

func TestRestart(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	cfg := testConfig(dir, k)

	l := openLog(t, cfg)
	first := appendAll(t, l, "before", 8, 37) // 296 leaves: crosses a full tile
	closeLog(t, l)
	var oldSize uint64
	var oldRoot []byte
	for _, p := range first {
		if p.TreeSize > oldSize {
			oldSize, oldRoot = p.TreeSize, p.RootHash
		}
	}

	l = openLog(t, cfg)
	defer closeLog(t, l)
	if got := l.covered.Load(); got != uint64(len(first)) {
		t.Fatalf("after restart the range covers %d, want %d", got, len(first))
	}
	second := appendAll(t, l, "after", 8, 37)
	var newSize uint64
	var newRoot []byte
	for leaf, p := range second {
		if p.Index < uint64(len(first)) {
			t.Fatalf("new leaf got old index %d", p.Index)
		}
		checkProof(t, k.verifier, []byte(leaf), p)
		if p.TreeSize > newSize {
			newSize, newRoot = p.TreeSize, p.RootHash
		}
	}
	// Both directions of the API: a size we signed ourselves (beyond the published one) and
	// the published checkpoint.
	cons, err := l.ConsistencyProof(context.Background(), oldSize, newSize)
	if err != nil {
		t.Fatalf("ConsistencyProof(%d, %d): %v", oldSize, newSize, err)
	}
	if err := proof.VerifyConsistency(hasher, oldSize, newSize, cons, oldRoot, newRoot); err != nil {
		t.Fatalf("checkpoint before restart not consistent with one after: %v", err)
	}
	final := waitPublished(t, l, newSize, k.verifier)
	checkConsistentWith(t, l, final, map[uint64][]byte{oldSize: oldRoot, newSize: newRoot})
	for leaf, p := range first {
		ip, err := l.InclusionProof(context.Background(), p.Index)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", p.Index, err)
		}
		checkProof(t, k.verifier, []byte(leaf), ip)
		break
	}
}

func TestStartupRefusesForkedCheckpoint(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	cfg := testConfig(dir, k)
	l := openLog(t, cfg)
	appendAll(t, l, "x", 4, 5)
	closeLog(t, l)

	// A validly signed checkpoint for the same size with another root: the tiles on disk
	// disagree with what was "published".
	bogus, err := signCheckpoint(k.signer, testOrigin, 20, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), bogus, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg); !errors.Is(err, ErrDiverged) {
		t.Fatalf("New on forked log: got %v, want ErrDiverged", err)
	}
}

// TestStartupAfterUncleanStop: the published checkpoint lags the integrated tree (as after a
// crash between integration and publication). New checks consistency, waits for Tessera to
// publish the integrated size and goes on.
func TestStartupAfterUncleanStop(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	cfg := testConfig(dir, k)
	l := openLog(t, cfg)
	proofs := appendAll(t, l, "u", 4, 10)
	closeLog(t, l)
	var old Proof
	for _, p := range proofs {
		if old.TreeSize == 0 || p.TreeSize < old.TreeSize {
			old = p
		}
	}
	if old.TreeSize >= 40 {
		t.Skip("every append was covered by a single checkpoint")
	}
	if err := os.WriteFile(filepath.Join(dir, "checkpoint"), old.Checkpoint, 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, cfg)
	defer closeLog(t, l)
	if got := l.covered.Load(); got != 40 {
		t.Fatalf("covered %d after restart, want 40", got)
	}
	leaf := []byte("after unclean stop")
	p, err := l.Append(context.Background(), leaf)
	if err != nil {
		t.Fatal(err)
	}
	checkProof(t, k.verifier, leaf, p)
}

func TestDivergenceStopsAppends(t *testing.T) {
	k := newTestKeys(t)
	l := openLog(t, testConfig(t.TempDir(), k))
	defer closeLog(t, l)
	appendAll(t, l, "d", 4, 4)
	cp := waitPublished(t, l, 16, k.verifier)

	// Pretend we had signed another root for the published size, and make the watcher look
	// at the published checkpoint again.
	l.signedMu.Lock()
	l.signed = append(l.signed[:0], sizeRoot{size: cp.Size, root: bytes.Repeat([]byte{1}, 32)})
	l.signedMu.Unlock()
	l.pubMu.Lock()
	l.pub.raw = nil
	l.pubMu.Unlock()
	if err := l.refreshPublished(context.Background()); !errors.Is(err, ErrDiverged) {
		t.Fatalf("refreshPublished: got %v, want ErrDiverged", err)
	}
	if _, err := l.Append(context.Background(), []byte("after")); !errors.Is(err, ErrDiverged) {
		t.Fatalf("Append after divergence: got %v, want ErrDiverged", err)
	}
}

func TestAppendErrors(t *testing.T) {
	k := newTestKeys(t)
	cfg := testConfig(t.TempDir(), k)
	cfg.PushbackMaxOutstanding = 1
	cfg.BatchMaxAge = 300 * time.Millisecond
	l := openLog(t, cfg)

	done := make(chan error, 1)
	go func() {
		_, err := l.Append(context.Background(), []byte("first"))
		done <- err
	}()
	for l.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Append(context.Background(), []byte("second")); !errors.Is(err, ErrBusy) {
		t.Fatalf("Append over the limit: got %v, want ErrBusy", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first Append: %v", err)
	}

	// A caller that is already cancelled appends nothing; one that gives up while waiting
	// stops waiting, and its entry still lands.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, []byte("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with cancelled ctx: got %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, []byte("cancelled")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append with expiring ctx: got %v, want context.DeadlineExceeded", err)
	}

	if _, err := l.ReadLeaf(context.Background(), 1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadLeaf beyond the log: got %v, want ErrNotFound", err)
	}
	if _, err := l.InclusionProof(context.Background(), 1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InclusionProof beyond the log: got %v, want ErrNotFound", err)
	}
	if _, err := l.ConsistencyProof(context.Background(), 1, 1000); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ConsistencyProof beyond the log: got %v, want ErrNotFound", err)
	}
	if _, err := l.Append(context.Background(), make([]byte, 1<<16)); err == nil {
		t.Fatal("Append of an oversized leaf succeeded")
	}

	closeLog(t, l)
	if _, err := l.Append(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: got %v, want ErrClosed", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The cancelled caller's entry is in the log.
	l = openLog(t, cfg)
	defer closeLog(t, l)
	got, err := l.ReadLeaf(context.Background(), 1)
	if err != nil || string(got) != "cancelled" {
		t.Fatalf("ReadLeaf(1) = %q, %v; want the cancelled caller's entry", got, err)
	}
}

// TestGapFill appends an entry behind the checkpointer's back (as another writer would): the
// checkpointer must read its hash from the tiles and go on answering later Appends.
func TestGapFill(t *testing.T) {
	k := newTestKeys(t)
	cfg := testConfig(t.TempDir(), k)
	cfg.gapTimeout = 50 * time.Millisecond
	l := openLog(t, cfg)
	defer closeLog(t, l)
	if _, err := l.add(context.Background(), tessera.NewEntry([]byte("unreported")))(); err != nil {
		t.Fatal(err)
	}
	leaf := []byte("reported")
	p, err := l.Append(context.Background(), leaf)
	if err != nil {
		t.Fatalf("Append after a gap: %v", err)
	}
	if p.Index != 1 || p.TreeSize != 2 {
		t.Fatalf("got index %d in tree %d, want 1 in 2", p.Index, p.TreeSize)
	}
	checkProof(t, k.verifier, leaf, p)
	cp := waitPublished(t, l, 2, k.verifier)
	if !bytes.Equal(cp.Hash, p.RootHash) {
		t.Fatalf("published root %x, signed %x", cp.Hash, p.RootHash)
	}
}

func TestSecondWriterRefused(t *testing.T) {
	k := newTestKeys(t)
	cfg := testConfig(t.TempDir(), k)
	l := openLog(t, cfg)
	defer closeLog(t, l)
	if _, err := New(context.Background(), cfg); err == nil {
		t.Fatal("second New on the same directory succeeded")
	}
}

func TestConfig(t *testing.T) {
	k := newTestKeys(t)
	other := newTestKeys(t)
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	wrongS, _ := note.NewSigner(skey)
	wrongV, _ := note.NewVerifier(vkey)
	base := func() Config { return testConfig("/nonexistent", k) }
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr bool
	}{
		{name: "ok", mod: func(*Config) {}},
		{name: "no dir", mod: func(c *Config) { c.Dir = "" }, wantErr: true},
		{name: "no origin", mod: func(c *Config) { c.Origin = "" }, wantErr: true},
		{name: "no signer", mod: func(c *Config) { c.Signer = nil }, wantErr: true},
		{name: "signer name", mod: func(c *Config) { c.Signer = wrongS }, wantErr: true},
		{name: "verifier name", mod: func(c *Config) { c.Verifier = wrongV }, wantErr: true},
		{name: "other key", mod: func(c *Config) { c.Verifier = other.verifier }, wantErr: true},
		{name: "interval too short", mod: func(c *Config) { c.CheckpointInterval = time.Millisecond }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			got, err := cfg.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("withDefaults: err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (got.BatchMaxSize != DefaultBatchMaxSize || got.BatchMaxAge != DefaultBatchMaxAge || got.PushbackMaxOutstanding != DefaultPushbackMaxOutstanding || got.Logger == nil) {
				t.Fatalf("defaults not filled: %+v", got)
			}
		})
	}
}

// TestKeyRotation reopens a log with a new checkpoint key: without the old
// key among PreviousVerifiers the published checkpoint (signed by the old
// key) is refused; with it the log opens, new proofs are signed by the new
// key and proofs issued before still verify with the old one.
func TestKeyRotation(t *testing.T) {
	oldK, newK := newTestKeys(t), newTestKeys(t)
	dir := t.TempDir()
	l := openLog(t, testConfig(dir, oldK))
	before := appendAll(t, l, "before", 2, 5)
	closeLog(t, l)

	cfg := testConfig(dir, newK)
	if l, err := New(context.Background(), cfg); err == nil {
		closeLog(t, l)
		t.Fatal("a log whose checkpoint another key signed opened without that key among PreviousVerifiers")
	}
	cfg.PreviousVerifiers = []note.Verifier{oldK.verifier}
	l = openLog(t, cfg)
	defer closeLog(t, l)
	after := appendAll(t, l, "after", 2, 5)
	for leaf, p := range after {
		checkProof(t, newK.verifier, []byte(leaf), p)
	}
	for leaf, p := range before {
		checkProof(t, oldK.verifier, []byte(leaf), p)
	}
	// Tessera re-signs its published checkpoint with the new key once it
	// grows (until then it may still be the old key's).
	want := uint64(len(before) + len(after))
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := l.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp, _, _, err := f_log.ParseCheckpoint(raw, testOrigin, newK.verifier); err == nil && cp.Size >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published checkpoint is not signed by the new key at size %d after 30 s:\n%s", want, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}

	bad := testConfig(dir, newK)
	bad.PreviousVerifiers = []note.Verifier{newTestKeysFor(t, "elsewhere").verifier}
	if _, err := bad.withDefaults(); err == nil {
		t.Fatal("a previous verifier of another origin was accepted")
	}
}

func newTestKeysFor(t testing.TB, origin string) testKeys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return testKeys{signer: s, verifier: v}
}
