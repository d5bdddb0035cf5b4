// Package apitype holds the JSON wire types of stellad's HTTP API, shared by the
// server (internal/api) and the Go client (internal/client). Field names are the
// contract: change them only together with docs/api.md.
//
// Routes (all JSON unless noted; errors are always Error):
//
//	POST /api/v1/signer/sign/dsse           SignRequest -> SignResponse (or the bare bundle, see MediaTypeBundle)
//	POST /api/v1/rekor/entries              a DSSE envelope (JSON, verbatim) -> EntryResponse
//	GET  /api/v1/rekor/entries              -> EntryList (query: after, limit, predicateType, subject)
//	GET  /api/v1/rekor/entries/{uuid}       -> EntryResponse (proof against the latest checkpoint, bundle as issued)
//	GET  /api/v1/log/status                 -> LogStatus
//	GET  /api/v1/log/proof/consistency      -> ConsistencyProof (query: from, to)
//	GET  /api/v1/keys                       -> KeyList
//	GET  /api/v1/trust/root                 -> Sigstore trusted_root.json naming this log
//	GET  /api/v1/system                     -> SystemStatus
//	GET  /api/v2/checkpoint, /api/v2/tile/… -> C2SP tlog-tiles, read-only
//	GET  /healthz, /readyz                  -> 200 "ok" when alive / ready to sign
package apitype

import "encoding/json"

// MediaTypeBundle is the media type of a Sigstore bundle v0.3 in JSON form. A
// sign request whose Accept header names it gets the bare bundle as its body.
const MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Subject names one artifact of an in-toto statement by its digests
// (algorithm name -> lower-case hex), as in in-toto ResourceDescriptor.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// SignRequest is the body of POST /api/v1/signer/sign/dsse. Either Statement
// (a complete in-toto Statement v1, kept verbatim as the DSSE payload) or
// Subjects + PredicateType + Predicate (the server builds the statement) is set.
type SignRequest struct {
	Statement     json.RawMessage `json:"statement,omitempty"`
	Subjects      []Subject       `json:"subjects,omitempty"`
	PredicateType string          `json:"predicateType,omitempty"`
	Predicate     json.RawMessage `json:"predicate,omitempty"`
	// ScannerDigest names the scanner image (sha256:HEX) that produced an SBOM
	// or scan report; the appliance signs those only for trusted scanner releases.
	ScannerDigest string `json:"scannerDigest,omitempty"`
	// Tenant is the tenant to sign for; empty means the caller's own (the only
	// one a tenant-bound caller may name).
	Tenant string `json:"tenant,omitempty"`
	// Keyless asks the appliance to sign with an ephemeral key bound by a
	// fresh certificate from its CA to the caller's identity (token sub and
	// iss) instead of the tenant's key; the bundle then carries that
	// certificate and an RFC 3161 timestamp from its TSA.
	Keyless bool `json:"keyless,omitempty"`
}

// SignResponse answers a sign request: the log entry's uuid (hex leaf hash),
// its index and the Sigstore bundle v0.3, verbatim.
type SignResponse struct {
	UUID     string          `json:"uuid"`
	LogIndex uint64          `json:"logIndex"`
	Bundle   json.RawMessage `json:"bundle"`
}

// InclusionProof is an RFC 6962 inclusion proof of one leaf in the tree that the
// signed checkpoint (a C2SP signed note, verbatim) commits to.
type InclusionProof struct {
	LogIndex   uint64   `json:"logIndex"`
	TreeSize   uint64   `json:"treeSize"`
	RootHash   []byte   `json:"rootHash"`
	Hashes     [][]byte `json:"hashes"`
	Checkpoint string   `json:"checkpoint"`
}

// EntryResponse answers POST /api/v1/rekor/entries and
// GET /api/v1/rekor/entries/{uuid}. Entries lists one item per logged signature
// when a submitted envelope carried several; the top-level fields repeat the first.
type EntryResponse struct {
	UUID    string          `json:"uuid"`
	Index   uint64          `json:"index"`
	Proof   InclusionProof  `json:"proof"`
	Bundle  json.RawMessage `json:"bundle,omitempty"`
	Entries []EntryResponse `json:"entries,omitempty"`
}

// EntrySummary is one row of GET /api/v1/rekor/entries (the list).
type EntrySummary struct {
	UUID           string    `json:"uuid"`
	Index          uint64    `json:"index"`
	EnvelopeSHA256 string    `json:"envelopeSha256"`
	PredicateType  string    `json:"predicateType"`
	Subjects       []Subject `json:"subjects"`
	Tenant         string    `json:"tenant"`
	KeyID          string    `json:"keyId"`
	CreatedAt      string    `json:"createdAt"` // RFC 3339, UTC
}

// EntryList answers GET /api/v1/rekor/entries?after=INDEX&limit=N[&predicateType=URI][&subject=sha256:HEX].
// Next is the value of after for the following page, absent on the last page.
type EntryList struct {
	Entries []EntrySummary `json:"entries"`
	Next    *uint64        `json:"next,omitempty"`
}

// LogStatus answers GET /api/v1/log/status.
type LogStatus struct {
	Origin     string `json:"origin"`
	TreeSize   uint64 `json:"treeSize"`
	RootHash   []byte `json:"rootHash"`
	Checkpoint string `json:"checkpoint"`
	LogKeyID   []byte `json:"logKeyId"` // SHA-256 of the log key's PKIX public key
	BaseURL    string `json:"baseUrl"`
}

// ConsistencyProof answers GET /api/v1/log/proof/consistency?from=N&to=M.
type ConsistencyProof struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

// Key describes one key the daemon uses, in GET /api/v1/keys.
type Key struct {
	Purpose      string `json:"purpose"` // "dsse" or "checkpoint"
	URI          string `json:"uri"`     // file:... or pkcs11:... (never with a PIN)
	KeyID        string `json:"keyId"`   // hex SHA-256 of the PKIX public key
	Algorithm    string `json:"algorithm"`
	PublicKeyPEM string `json:"publicKeyPem"`
}

// KeyList answers GET /api/v1/keys.
type KeyList struct {
	Keys []Key `json:"keys"`
}

// Error is the body of every error answer.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// SystemStatus answers GET /api/v1/system: what a load generator or an operator
// reads to watch the daemon's footprint. Figures come from /proc/self/status.
type SystemStatus struct {
	Version         string `json:"version"`
	PID             int    `json:"pid"`
	RSSBytes        uint64 `json:"rssBytes"`     // VmRSS
	PeakRSSBytes    uint64 `json:"peakRssBytes"` // VmHWM
	Goroutines      int    `json:"goroutines"`
	StartedAt       string `json:"startedAt"` // RFC 3339, UTC
	DevelopmentMode bool   `json:"developmentMode"`
}

// Stable error codes (Error.Code). Scripts may branch on them.
const (
	CodeBadRequest         = "bad_request"            // 400: malformed JSON, missing or invalid field
	CodeInvalidStatement   = "invalid_statement"      // 400: the in-toto statement is not valid
	CodeInvalidEnvelope    = "invalid_envelope"       // 400: the DSSE envelope is not valid
	CodeUntrustedSignature = "untrusted_signature"    // 422: no signature verifies against a trusted key
	CodeNotFound           = "not_found"              // 404
	CodeMethodNotAllowed   = "method_not_allowed"     // 405
	CodePayloadTooLarge    = "payload_too_large"      // 413
	CodeUnsupportedMedia   = "unsupported_media_type" // 415
	CodeUnavailable        = "unavailable"            // 503: shutting down, or the log pushes back
	CodeInternal           = "internal"               // 500
	CodeKitRefused         = "kit_refused"            // 422: an Offline Kit failed verification; nothing was changed
	CodeNotConfigured      = "not_configured"         // 409: the feature needs configuration the daemon lacks
)
