package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/authn"
)

// housekeeping runs the daemon's periodic work: the audit chain head goes
// into the log every anchor interval (and once more at shutdown), and expired
// DPoP proof ids leave the replay cache.
type housekeeping struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	anchor func(context.Context)
}

func startHousekeeping(svc *attest.Service, auth *authn.Authenticator, anchorEvery time.Duration, origin string, logger *slog.Logger) *housekeeping {
	ctx, cancel := context.WithCancel(context.Background())
	h := &housekeeping{cancel: cancel}
	h.anchor = func(ctx context.Context) {
		ok, err := svc.AnchorAudit(ctx, origin)
		switch {
		case err != nil:
			logger.Error("anchoring the audit chain in the log", "err", err)
		case ok:
			logger.Debug("audit chain head anchored in the log")
		}
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		anchorTick := time.NewTicker(anchorEvery)
		defer anchorTick.Stop()
		pruneTick := time.NewTicker(10 * time.Minute)
		defer pruneTick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-anchorTick.C:
				h.anchor(ctx)
			case <-pruneTick.C:
				if err := auth.Prune(ctx); err != nil {
					logger.Warn("pruning expired DPoP proof ids", "err", err)
				}
			}
		}
	}()
	return h
}

// stop ends the loop and anchors the head one last time, so that every
// request answered before shutdown is covered by an anchor in the log.
func (h *housekeeping) stop() {
	h.once.Do(func() {
		h.cancel()
		h.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.anchor(ctx)
	})
}
