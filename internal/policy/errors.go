package policy

import (
	"errors"

	"github.com/stellaops/stellad/internal/refusal"
)

// Refusal codes carried by *Error. They are stable: the API maps each one to
// an HTTP status in one place (the intended status is noted beside each) and
// clients and the audit trail record them verbatim.
const (
	// CodeDigestMissing: the request names no scanner image digest, or one
	// that is not "sha256:" followed by 64 lowercase hex digits. 400.
	CodeDigestMissing = "scanner_digest_missing"
	// CodeUntrusted: the digest is neither a release signed by a trusted
	// scanner release key, nor allowlisted, nor approved for the tenant (or
	// an admin denied it). 403.
	CodeUntrusted = "scanner_untrusted"
	// CodeApprovalPending: the digest is untrusted and the checker queues
	// such digests; a pending approval for (tenant, digest) exists and waits
	// for an admin. 403.
	CodeApprovalPending = "scanner_approval_pending"
)

// Error is a refusal by this package: Code is one of the Code constants
// above (internal/api maps it to the status documented next to it).
type Error = refusal.Error

func refuse(code, format string, args ...any) *Error {
	return refusal.New(code, format, args...)
}

// Sentinel errors, wrapped with details (the file and what failed). None is
// an *Error: they are not refusals of a signing request.
var (
	// ErrInvalidLayout: the directory is not an acceptable OCI image layout
	// (missing or malformed oci-layout or index.json, a symlink or other
	// non-regular file, a limit exceeded, a blob whose size or SHA-256 does
	// not match its descriptor, a malformed manifest). The API maps it to 400.
	ErrInvalidLayout = errors.New("invalid OCI image layout")
	// ErrSignature: a release signature in the layout does not verify with
	// any trusted release key, or what it signs does not match the image it
	// is attached to. The API maps it to 400.
	ErrSignature = errors.New("release signature rejected")
	// ErrNoRelease: the layout holds no release signature at all. 400.
	ErrNoRelease = errors.New("no release signature in layout")
	// ErrApprovalNotFound: Approve or Deny named no existing approval. 404.
	ErrApprovalNotFound = errors.New("approval not found")
	// ErrApprovalState: the approval is already in the requested state. 409.
	ErrApprovalState = errors.New("approval already in that state")
)
