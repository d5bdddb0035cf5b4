package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/translog"
)

// logInfo is the log as the API reads it. It translates translog's "not (yet)
// in the log" into the use case's ErrNotFound (404); the API may not import
// translog, and this wiring place is the one that knows both.
type logInfo struct{ *translog.Log }

func (l logInfo) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	p, err := l.Log.ConsistencyProof(ctx, from, to)
	if errors.Is(err, translog.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", attest.ErrNotFound, err)
	}
	return p, err
}
