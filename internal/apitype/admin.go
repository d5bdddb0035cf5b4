package apitype

import "encoding/json"

// Admission and administration routes (tokens: see docs/tokens.md; the admin
// routes need the stellad.admin scope or a caller on the admin socket):
//
//	GET  /api/v1/quota                          -> QuotaUsage (the caller's tenant)
//	GET  /api/v1/audit                          -> AuditList (the caller's tenant; query: after, limit)
//	POST /api/v1/admin/licences                 a licence (DSSE envelope, verbatim) -> Licence
//	GET  /api/v1/admin/licences                 -> LicenceStatus
//	POST /api/v1/admin/licences/bypass          BypassRequest -> Bypass
//	GET  /api/v1/admin/audit                    -> AuditList (query: tenant, after, limit, decision)
//	GET  /api/v1/admin/audit/verify             -> AuditVerify
//	GET  /api/v1/admin/audit/export             -> JSON Lines of AuditRow (query: tenant)
//	POST /api/v1/admin/scanner/releases         ScannerImportRequest -> ScannerImport
//	GET  /api/v1/admin/scanner/approvals        -> ScannerApprovalList
//	POST /api/v1/admin/scanner/approvals/{id}   ApprovalDecision -> ScannerApproval
//	GET  /metrics                               Prometheus exposition

// Licence describes one imported licence.
type Licence struct {
	LicenceID string   `json:"licenceId"`
	Licensee  string   `json:"licensee,omitempty"`
	Tenants   []string `json:"tenants"`
	Plan      string   `json:"plan"`
	NotBefore string   `json:"notBefore"`
	NotAfter  string   `json:"notAfter"`
	IssuedAt  string   `json:"issuedAt,omitempty"`
	// State is valid, grace, expired or not_yet_valid at the time of the answer.
	State  string          `json:"state"`
	Quotas json.RawMessage `json:"quotas,omitempty"`
}

// LicenceStatus lists the licences and the emergency bypass in force, if any.
type LicenceStatus struct {
	Licences []Licence `json:"licences"`
	Bypass   *Bypass   `json:"bypass,omitempty"`
	Grace    string    `json:"grace"`
}

// BypassRequest opens a time-boxed emergency bypass of the entitlement check.
type BypassRequest struct {
	Reason string `json:"reason"`
	For    string `json:"for"` // a Go duration, at most 24h
}

// Bypass is an emergency bypass of the entitlement check.
type Bypass struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	Start  string `json:"start"`
	End    string `json:"end"`
}

// QuotaUsage is the caller's tenant's quota and what it used today.
type QuotaUsage struct {
	Tenant string          `json:"tenant"`
	Plan   string          `json:"plan,omitempty"`
	Quotas json.RawMessage `json:"quotas,omitempty"`
	Day    string          `json:"day"`
	Used   int64           `json:"signaturesToday"`
}

// AuditRow is one row of the hash-chained audit trail.
type AuditRow struct {
	Seq            uint64   `json:"seq"`
	Time           string   `json:"time"`
	RequestID      string   `json:"requestId,omitempty"`
	Tenant         string   `json:"tenant"`
	Principal      string   `json:"principal,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
	Action         string   `json:"action"`
	SubjectDigests []string `json:"subjectDigests,omitempty"`
	PredicateType  string   `json:"predicateType,omitempty"`
	PoEState       string   `json:"poeState,omitempty"`
	QuotaState     string   `json:"quotaState,omitempty"`
	KeyURI         string   `json:"keyUri,omitempty"`
	Decision       string   `json:"decision"`
	Reason         string   `json:"reason,omitempty"`
	LogIndex       *uint64  `json:"logIndex,omitempty"`
	UUID           string   `json:"uuid,omitempty"`
	Prev           string   `json:"prev"`
	Hash           string   `json:"hash"`
}

// AuditList is a page of audit rows; Next is the after value of the next page.
type AuditList struct {
	Rows []AuditRow `json:"rows"`
	Next *uint64    `json:"next,omitempty"`
}

// AuditVerify is the outcome of recomputing the audit chain.
type AuditVerify struct {
	OK       bool    `json:"ok"`
	Rows     uint64  `json:"rows"`
	HeadSeq  uint64  `json:"headSeq"`
	HeadHash string  `json:"headHash"`
	Anchors  int     `json:"anchors"`
	FirstBad *uint64 `json:"firstBad,omitempty"`
	Problem  string  `json:"problem,omitempty"`
}

// ScannerImportRequest names an OCI image layout directory on the appliance
// holding signed scanner releases.
type ScannerImportRequest struct {
	Dir string `json:"dir"`
}

// ScannerImport lists the scanner image digests an import trusted.
type ScannerImport struct {
	Digests []string `json:"digests"`
}

// ScannerApproval is a request to sign for an untrusted scanner digest, queued
// for an admin's decision.
type ScannerApproval struct {
	ID          int64  `json:"id"`
	Tenant      string `json:"tenant"`
	Digest      string `json:"digest"`
	RequestedAt string `json:"requestedAt"`
	State       string `json:"state"`
	DecidedBy   string `json:"decidedBy,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// ScannerApprovalList lists queued approvals.
type ScannerApprovalList struct {
	Approvals []ScannerApproval `json:"approvals"`
}

// ApprovalDecision approves or denies a queued approval.
type ApprovalDecision struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason"`
}

// Offline Kit routes (admin):
//
//	POST /api/v1/admin/kit/import   a kit (application/gzip) -> KitImport
//	GET  /api/v1/admin/kit/status   -> KitStatus
//	GET  /api/v1/admin/kit/export   -> a kit of this appliance's log (query: since = a tree size the other side holds)
//	GET  /api/v2/mirror/{origin}/…  a peer appliance's mirrored checkpoint and tiles (C2SP tlog-tiles), read-only

// KitImport says what an accepted kit changed.
type KitImport struct {
	Source         string            `json:"source"`
	Sequence       uint64            `json:"sequence"`
	Kind           string            `json:"kind"`
	ManifestSHA256 string            `json:"manifestSha256"`
	Installed      []string          `json:"installed"`
	Checkpoints    map[string]uint64 `json:"checkpoints"`
	Tiles          int               `json:"tiles"`
	Bundles        int               `json:"bundles"`
	Licences       []string          `json:"licences"`
	AuditHead      bool              `json:"auditHead"`
}

// KitStatus is the appliance's imported trust and mirrored logs.
type KitStatus struct {
	TrustedRootSHA256 string          `json:"trustedRootSha256,omitempty"`
	TrustedRootStart  string          `json:"trustedRootNewestStart,omitempty"`
	KitKeys           []string        `json:"kitKeys"`
	KitThreshold      int             `json:"kitThreshold"`
	WitnessPolicy     string          `json:"witnessPolicy,omitempty"`
	Sources           []KitSource     `json:"sources"`
	Origins           []MirrorOrigin  `json:"origins"`
	SplitViews        []KitSplitView  `json:"splitViews"`
	Revocations       json.RawMessage `json:"revocations,omitempty"`
}

// KitSource is the last kit accepted from one source.
type KitSource struct {
	Source     string `json:"source"`
	Sequence   uint64 `json:"sequence"`
	Kind       string `json:"kind"`
	ImportedAt string `json:"importedAt"`
	Actor      string `json:"actor"`
}

// MirrorOrigin is a log whose checkpoint (and tiles, for a peer appliance) was accepted.
type MirrorOrigin struct {
	Origin    string   `json:"origin"`
	TreeSize  uint64   `json:"treeSize"`
	RootHash  []byte   `json:"rootHash"`
	Witnesses []string `json:"witnesses"`
	TilesSize uint64   `json:"tilesSize"`
	Bundles   int      `json:"bundles"`
}

// KitSplitView is evidence of a log showing two inconsistent views.
type KitSplitView struct {
	Origin       string `json:"origin"`
	AcceptedSize uint64 `json:"acceptedSize"`
	AcceptedRoot []byte `json:"acceptedRoot"`
	OfferedSize  uint64 `json:"offeredSize"`
	OfferedRoot  []byte `json:"offeredRoot"`
	KitSource    string `json:"kitSource"`
	KitSequence  uint64 `json:"kitSequence"`
	Reason       string `json:"reason"`
	DetectedAt   string `json:"detectedAt"`
}
