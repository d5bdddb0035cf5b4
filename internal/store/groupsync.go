package store

import "sync"

// groupSync coalesces concurrent requests for an expensive flush: a request
// is satisfied by a flush that started after the request was made, and while
// one flush runs, every request made meanwhile waits for the single next one.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	started uint64 // flushes started
	done    uint64 // flushes finished
	lastErr error  // the result of flush number done
}

func (g *groupSync) do(flush func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	// The flush in progress (if any) may have started before our data was
	// written: we need the one after it.
	target := g.started + 1
	for g.done < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := flush()
		g.mu.Lock()
		g.running = false
		g.done, g.lastErr = n, err
		g.cond.Broadcast()
	}
	return g.lastErr
}
