package offline

import (
	"errors"
	"fmt"
)

// ErrRefused is wrapped by every refusal of a kit: Import returns it when the
// kit or its content fails a check, and then nothing changed (except the
// evidence of a split view, see ErrSplitView). Each refusal also wraps one of
// the more specific sentinels below.
var ErrRefused = errors.New("kit refused")

// Reasons for a refusal, each wrapped together with ErrRefused.
var (
	// ErrSignature: the archive, a file's hash or the manifest signature does
	// not verify with the installed kit keys (unknown signer, too few of k,
	// a changed byte, path traversal, decompression bomb: kit.Error causes).
	ErrSignature = errors.New("kit does not verify")
	// ErrReplay: the kit's sequence is not above the last one accepted from
	// its source.
	ErrReplay = errors.New("kit sequence replayed")
	// ErrRollback: the kit carries trust older than what is installed (a
	// trusted root, a checkpoint smaller than the accepted one).
	ErrRollback = errors.New("rollback refused")
	// ErrRevoked: the kit is signed only by revoked kit keys, or it
	// installs a revoked key.
	ErrRevoked = errors.New("revoked key")
	// ErrWitnessPolicy: a checkpoint's cosignatures do not satisfy the
	// witness policy, or a cosignature or the log signature is bad.
	ErrWitnessPolicy = errors.New("witness policy not satisfied")
	// ErrSplitView: a checkpoint is inconsistent with the one accepted before
	// for its origin. Both are kept in kit_split_views.
	ErrSplitView = errors.New("split view")
	// ErrConsistency: a checkpoint for a known origin comes without the
	// means to prove it extends the accepted one.
	ErrConsistency = errors.New("consistency not proven")
	// ErrTiles: mirrored tiles are malformed, incomplete or do not hash to
	// their checkpoint.
	ErrTiles = errors.New("tiles do not match the checkpoint")
	// ErrInclusion: a bundle's inclusion proof does not verify against an
	// accepted checkpoint.
	ErrInclusion = errors.New("inclusion not proven")
	// ErrUnknownLog: no log key is known for a checkpoint's origin.
	ErrUnknownLog = errors.New("unknown log")
	// ErrContent: a file is malformed or unexpected (trust files, licences,
	// audit head, layout).
	ErrContent = errors.New("invalid kit content")
)

// RefusedError is a refused import: the file concerned (empty for the kit as
// a whole), the reason sentinel and the cause. errors.Is matches ErrRefused,
// Reason and anything Cause wraps.
type RefusedError struct {
	Path   string
	Reason error
	Detail string
	Cause  error
}

// Error implements error: "kit refused: PATH: REASON: DETAIL: CAUSE".
func (e *RefusedError) Error() string {
	s := ErrRefused.Error() + ": "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns ErrRefused, the reason and the cause.
func (e *RefusedError) Unwrap() []error {
	errs := []error{ErrRefused, e.Reason}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

func refuse(reason error, path string, cause error, format string, args ...any) *RefusedError {
	return &RefusedError{Path: path, Reason: reason, Detail: fmt.Sprintf(format, args...), Cause: cause}
}
