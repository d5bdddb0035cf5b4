package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGroupSyncCoalesces(t *testing.T) {
	var g groupSync
	var flushes atomic.Int64
	var inFlight atomic.Int64
	flush := func() error {
		if inFlight.Add(1) != 1 {
			t.Error("two flushes ran at once")
		}
		time.Sleep(2 * time.Millisecond)
		flushes.Add(1)
		inFlight.Add(-1)
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.do(flush); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := flushes.Load(); n < 1 || n >= 64 {
		t.Errorf("64 callers caused %d flushes; want between 1 and 63", n)
	}
}

func TestGroupSyncWaitsForAFlushStartedAfterTheCall(t *testing.T) {
	var g groupSync
	started := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	go func() {
		_ = g.do(func() error {
			calls.Add(1)
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	// This caller arrives while the first flush runs: that flush may predate
	// its writes, so it must get a second one, whose error it sees.
	errDisk := errors.New("disk on fire")
	done := make(chan error)
	go func() { done <- g.do(func() error { calls.Add(1); return errDisk }) }()
	time.Sleep(5 * time.Millisecond)
	close(release)
	if err := <-done; !errors.Is(err, errDisk) {
		t.Fatalf("got %v, want the second flush's error", err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d flushes, want 2", calls.Load())
	}
}

func TestCASStageSync(t *testing.T) {
	c, err := OpenCAS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	digests := make([][32]byte, 32)
	for i := range digests {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := c.Stage([]byte{byte(i), 'x'})
			if err != nil {
				t.Error(err)
				return
			}
			if err := c.Sync(); err != nil {
				t.Error(err)
			}
			digests[i] = d
		}(i)
	}
	wg.Wait()
	for i, d := range digests {
		got, err := c.Get(d)
		if err != nil || got[0] != byte(i) {
			t.Fatalf("object %d: %q, %v", i, got, err)
		}
	}
	// Staging what exists is a no-op.
	if _, err := c.Stage([]byte{0, 'x'}); err != nil {
		t.Fatal(err)
	}
}
