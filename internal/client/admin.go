package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stellaops/stellad/internal/apitype"
)

// ImportLicence sends a licence (a DSSE envelope, verbatim) for import.
func (c *Client) ImportLicence(ctx context.Context, doc []byte) (*apitype.Licence, error) {
	var out apitype.Licence
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/admin/licences", nil, doc, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LicenceStatus lists the licences and the bypass in force.
func (c *Client) LicenceStatus(ctx context.Context) (*apitype.LicenceStatus, error) {
	var out apitype.LicenceStatus
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/admin/licences", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Bypass opens an emergency bypass of the entitlement check.
func (c *Client) Bypass(ctx context.Context, req apitype.BypassRequest) (*apitype.Bypass, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var out apitype.Bypass
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/admin/licences/bypass", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Quota returns the caller's tenant's quota usage.
func (c *Client) Quota(ctx context.Context) (*apitype.QuotaUsage, error) {
	var out apitype.QuotaUsage
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/quota", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditQuery filters and pages audit rows. Tenant is honoured on the admin
// route only; the tenant route always answers the caller's tenant.
type AuditQuery struct {
	Admin    bool
	Tenant   string
	After    *uint64
	Limit    int
	Decision string
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	if q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	if q.After != nil {
		v.Set("after", strconv.FormatUint(*q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Decision != "" {
		v.Set("decision", q.Decision)
	}
	return v
}

// Audit lists audit rows.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (*apitype.AuditList, error) {
	path := "/api/v1/audit"
	if q.Admin {
		path = "/api/v1/admin/audit"
	}
	var out apitype.AuditList
	if err := c.doJSON(ctx, http.MethodGet, path, q.values(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// VerifyAudit asks the daemon to recompute the audit chain and its anchors.
func (c *Client) VerifyAudit(ctx context.Context) (*apitype.AuditVerify, error) {
	var out apitype.AuditVerify
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/admin/audit/verify", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportAudit returns the audit rows as JSON Lines (all tenants unless tenant is set).
func (c *Client) ExportAudit(ctx context.Context, tenant string) ([]byte, error) {
	v := url.Values{}
	if tenant != "" {
		v.Set("tenant", tenant)
	}
	return c.do(ctx, http.MethodGet, "/api/v1/admin/audit/export", v, nil)
}

// ImportScannerReleases asks the daemon to import the OCI image layout at dir
// (a path on the appliance).
func (c *Client) ImportScannerReleases(ctx context.Context, dir string) (*apitype.ScannerImport, error) {
	body, err := json.Marshal(apitype.ScannerImportRequest{Dir: dir})
	if err != nil {
		return nil, err
	}
	var out apitype.ScannerImport
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/admin/scanner/releases", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ScannerApprovals lists the queued approvals.
func (c *Client) ScannerApprovals(ctx context.Context) (*apitype.ScannerApprovalList, error) {
	var out apitype.ScannerApprovalList
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/admin/scanner/approvals", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DecideScannerApproval approves or denies the queued approval id.
func (c *Client) DecideScannerApproval(ctx context.Context, id int64, d apitype.ApprovalDecision) (*apitype.ScannerApproval, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out apitype.ScannerApproval
	if err := c.doJSON(ctx, http.MethodPost, fmt.Sprintf("/api/v1/admin/scanner/approvals/%d", id), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportKit sends an Offline Kit (the archive's bytes) for import.
func (c *Client) ImportKit(ctx context.Context, kit []byte) (*apitype.KitImport, error) {
	var out apitype.KitImport
	if err := c.doJSON(ctx, http.MethodPost, "/api/v1/admin/kit/import", nil, kit, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KitStatus returns the imported trust and the mirrored logs.
func (c *Client) KitStatus(ctx context.Context) (*apitype.KitStatus, error) {
	var out apitype.KitStatus
	if err := c.doJSON(ctx, http.MethodGet, "/api/v1/admin/kit/status", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExportKit returns a kit of the daemon's log from the tree size since.
func (c *Client) ExportKit(ctx context.Context, since uint64) ([]byte, error) {
	v := url.Values{}
	if since > 0 {
		v.Set("since", strconv.FormatUint(since, 10))
	}
	return c.do(ctx, http.MethodGet, "/api/v1/admin/kit/export", v, nil)
}
