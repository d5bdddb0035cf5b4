package kit

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by every *Error this package returns. Callers branch
// on them with errors.Is.
var (
	// ErrFormat: the archive, gzip stream, tar stream, manifest or envelope is
	// malformed or not in the canonical form the format requires.
	ErrFormat = errors.New("malformed kit")
	// ErrPath: an entry path is absolute, contains "..", a backslash or a
	// character outside the allowed set, is not under a known root, or
	// collides with another path.
	ErrPath = errors.New("invalid path")
	// ErrEntryType: an archive entry is a link, device, FIFO, directory or
	// any other non-regular entry.
	ErrEntryType = errors.New("entry type not allowed")
	// ErrDuplicate: a path appears twice.
	ErrDuplicate = errors.New("duplicate path")
	// ErrUnlisted: an archive entry is not listed in the manifest.
	ErrUnlisted = errors.New("entry not in the manifest")
	// ErrMissing: a file listed in the manifest is absent from the archive.
	ErrMissing = errors.New("file missing from the archive")
	// ErrDigest: a file's size or SHA-256 differs from the manifest.
	ErrDigest = errors.New("size or digest mismatch")
	// ErrLimit: a limit of [Limits] was exceeded.
	ErrLimit = errors.New("limit exceeded")
	// ErrSignature: the manifest signature does not verify with enough
	// distinct trusted keys, or the envelope does not sign manifest.json.
	ErrSignature = errors.New("manifest signature not verified")
)

// Error is the error type of this package: the path of the entry concerned
// (empty for the archive as a whole), the sentinel error it falls under
// (errors.Is matches it), a readable reason, and an optional cause (for
// example a *dsse.ThresholdError, which errors.As finds).
type Error struct {
	Path   string
	Kind   error
	Reason string
	Cause  error
}

// Error implements error: "kit: PATH: KIND: REASON".
func (e *Error) Error() string {
	s := "kit: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Kind.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func errorf(kind error, path, format string, args ...any) *Error {
	return &Error{Path: path, Kind: kind, Reason: fmt.Sprintf(format, args...)}
}
