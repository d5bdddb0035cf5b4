package entitlement

import (
	"errors"

	"github.com/stellaops/stellad/internal/refusal"
)

// Refusal codes carried by *Error. They are stable: the API maps each one to
// an HTTP status in one place (the intended status is noted beside each) and
// clients and the audit trail record them verbatim.
const (
	// CodeMissing: no licence is imported at all, or the licences naming the
	// tenant are not valid yet. 403.
	CodeMissing = "entitlement_missing"
	// CodeExpired: the licence naming the tenant expired and its grace
	// period is over. 403.
	CodeExpired = "entitlement_expired"
	// CodeTenant: licences exist but none in effect names the tenant. 403.
	CodeTenant = "entitlement_tenant"
	// CodeQuotaRate: the tenant's requests-per-second bucket is empty. 429,
	// RetryAfter is the time until the next token.
	CodeQuotaRate = "quota_rate"
	// CodeQuotaConcurrency: the tenant already has its maximum of requests
	// in flight. 429, RetryAfter is one second.
	CodeQuotaConcurrency = "quota_concurrency"
	// CodeQuotaPayload: the request's payload exceeds the plan's maximum.
	// 413, no RetryAfter.
	CodeQuotaPayload = "quota_payload"
	// CodeQuotaDaily: the tenant's signatures for the UTC day would exceed
	// the plan's limit. 429, RetryAfter runs to the next UTC midnight.
	CodeQuotaDaily = "quota_daily"
)

// Error is a refusal by this package: Code is one of the Code constants
// above (internal/api maps it to the status documented next to it).
type Error = refusal.Error

func refuse(code, format string, args ...any) *Error {
	return refusal.New(code, format, args...)
}

// Sentinel errors of Import (wrapped with details); callers branch on them to
// tell the operator what is wrong with a licence file. None is an *Error: a
// refused import is an operator's problem, not a request refusal.
var (
	// ErrLicenceSignature: the envelope is not signed by any of the vendor
	// keys in Config.VendorKeys (a bad signature or an unknown key).
	ErrLicenceSignature = errors.New("licence signature does not verify with any vendor key")
	// ErrLicenceInvalid: the envelope or the licence document is malformed
	// (wrong payloadType, unknown field, duplicate key, missing or bad value).
	ErrLicenceInvalid = errors.New("invalid licence document")
	// ErrLicenceExpired: the licence's notAfter has passed.
	ErrLicenceExpired = errors.New("licence has expired")
	// ErrLicenceStale: a version of the same licenceId with a later issuedAt
	// (or the same issuedAt and other content) is already imported; importing
	// this one would roll the licence back.
	ErrLicenceStale = errors.New("a newer version of this licence is already imported")
)
