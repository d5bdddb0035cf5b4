package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/stellaops/stellad/internal/authn"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/attest"
)

// Admin is the administration use cases (internal/attest.Service).
type Admin interface {
	ImportLicence(ctx context.Context, call attest.Call, doc []byte) (*apitype.Licence, error)
	LicenceStatus(ctx context.Context, call attest.Call) (*apitype.LicenceStatus, error)
	Bypass(ctx context.Context, call attest.Call, req apitype.BypassRequest) (*apitype.Bypass, error)
	Quota(ctx context.Context, call attest.Call) (*apitype.QuotaUsage, error)
	AuditList(ctx context.Context, call attest.Call, q attest.AuditQuery) (*apitype.AuditList, error)
	AuditVerify(ctx context.Context, call attest.Call) (*apitype.AuditVerify, error)
	AuditExport(ctx context.Context, call attest.Call, w io.Writer, tenant string) error
	ImportScannerReleases(ctx context.Context, call attest.Call, dir string) (*apitype.ScannerImport, error)
	ScannerApprovals(ctx context.Context, call attest.Call) (*apitype.ScannerApprovalList, error)
	DecideScannerApproval(ctx context.Context, call attest.Call, id int64, d apitype.ApprovalDecision) (*apitype.ScannerApproval, error)
	KitImport(ctx context.Context, call attest.Call, r io.Reader) (*apitype.KitImport, error)
	KitStatus(ctx context.Context, call attest.Call) (*apitype.KitStatus, error)
	KitExport(ctx context.Context, call attest.Call, w io.Writer, since uint64) error
}

func (s *Server) adminRoutes() {
	a := s.cfg.Admin
	s.route("GET /api/v1/quota", "quota", needSign, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		s.answer(w, r, http.StatusOK)(a.Quota(r.Context(), call))
	})
	s.route("GET /api/v1/audit", "audit.list", needVerify, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		q, err := auditQuery(r)
		if err != nil {
			s.refused(w, r, call, "audit.list", err)
			return
		}
		q.Tenant, q.AllTenants = "", false
		s.answer(w, r, http.StatusOK)(a.AuditList(r.Context(), call, q))
	})
	s.route("POST /api/v1/admin/licences", "licence.import", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		body, err := s.writeRequestBody(w, r)
		if err != nil {
			s.refused(w, r, call, "licence.import", err)
			return
		}
		s.answer(w, r, http.StatusCreated)(a.ImportLicence(r.Context(), call, body))
	})
	s.route("GET /api/v1/admin/licences", "licence.status", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		s.answer(w, r, http.StatusOK)(a.LicenceStatus(r.Context(), call))
	})
	s.route("POST /api/v1/admin/licences/bypass", "licence.bypass", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		var req apitype.BypassRequest
		if err := s.decodeBody(w, r, &req); err != nil {
			s.refused(w, r, call, "licence.bypass", err)
			return
		}
		s.answer(w, r, http.StatusCreated)(a.Bypass(r.Context(), call, req))
	})
	s.route("GET /api/v1/admin/audit", "audit.list", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		q, err := auditQuery(r)
		if err != nil {
			s.refused(w, r, call, "audit.list", err)
			return
		}
		s.answer(w, r, http.StatusOK)(a.AuditList(r.Context(), call, q))
	})
	s.route("GET /api/v1/admin/audit/verify", "verify", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		s.answer(w, r, http.StatusOK)(a.AuditVerify(r.Context(), call))
	})
	s.route("GET /api/v1/admin/audit/export", "audit.export", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		// Rows are streamed: a failure after the first byte ends the stream
		// early, which the reader sees as a missing final newline or a short
		// chain (audit.ParseExport refuses both).
		w.Header().Set("Content-Type", "application/jsonl")
		if err := a.AuditExport(r.Context(), call, w, r.URL.Query().Get("tenant")); err != nil {
			s.fail(w, r, err)
		}
	})
	s.route("POST /api/v1/admin/scanner/releases", "scanner.import", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		var req apitype.ScannerImportRequest
		if err := s.decodeBody(w, r, &req); err != nil {
			s.refused(w, r, call, "scanner.import", err)
			return
		}
		s.answer(w, r, http.StatusCreated)(a.ImportScannerReleases(r.Context(), call, req.Dir))
	})
	s.route("GET /api/v1/admin/scanner/approvals", "scanner.approvals", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		s.answer(w, r, http.StatusOK)(a.ScannerApprovals(r.Context(), call))
	})
	s.route("POST /api/v1/admin/scanner/approvals/{id}", "scanner.approve", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id < 1 {
			s.refused(w, r, call, "scanner.approve", badRequest(fmt.Sprintf("approval id %q is not a positive number", r.PathValue("id"))))
			return
		}
		var d apitype.ApprovalDecision
		if err := s.decodeBody(w, r, &d); err != nil {
			s.refused(w, r, call, "scanner.approve", err)
			return
		}
		s.answer(w, r, http.StatusOK)(a.DecideScannerApproval(r.Context(), call, id, d))
	})
}

// kitTransferTime bounds the transfer of one kit, in place of the server's
// per-request timeouts (sized for signing requests).
const kitTransferTime = 30 * time.Minute

func (s *Server) kitRoutes() {
	a := s.cfg.Admin
	s.route("POST /api/v1/admin/kit/import", "kit.import", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		if !s.cfg.Ready() {
			s.refused(w, r, call, "kit.import", fmt.Errorf("%w: not ready", attest.ErrUnavailable))
			return
		}
		// A kit may take longer to arrive than the server's default read timeout.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(kitTransferTime))
		body := http.MaxBytesReader(w, r.Body, s.cfg.MaxKitBytes)
		s.answer(w, r, http.StatusCreated)(a.KitImport(r.Context(), call, body))
	})
	s.route("GET /api/v1/admin/kit/status", "kit.status", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		s.answer(w, r, http.StatusOK)(a.KitStatus(r.Context(), call))
	})
	s.route("GET /api/v1/admin/kit/export", "kit.export", needAdmin, func(w http.ResponseWriter, r *http.Request, call attest.Call) {
		var since uint64
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				s.refused(w, r, call, "kit.export", badRequest(fmt.Sprintf("since=%q is not a tree size", v)))
				return
			}
			since = n
		}
		// The kit is built completely before the first byte is sent, so that a
		// failure is an error answer, never a truncated kit.
		var buf bytes.Buffer
		if err := a.KitExport(r.Context(), call, &buf, since); err != nil {
			s.fail(w, r, err)
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(kitTransferTime))
		w.Header().Set("Content-Type", "application/gzip")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	})
}

// route registers a handler that runs once the caller is authenticated for
// req; a refused caller is answered (and audited) by authenticate.
func (s *Server) route(pattern, action string, req authn.Requirement, h func(w http.ResponseWriter, r *http.Request, call attest.Call)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if call, ok := s.authenticate(w, r, req, action); ok {
			h(w, r, call)
		}
	})
}

// refused answers a request that failed after its caller was authenticated
// but before the use case ran (a body too large, a bad parameter): its audit
// row and DPoP proof id are written first, as for every refusal.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, call attest.Call, action string, err error) {
	s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, action, err))
}

// answer returns a function that writes v as JSON with status, or the error.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int) func(v any, err error) {
	return func(v any, err error) {
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, status, v)
	}
}

// decodeBody reads a bounded JSON body into v, refusing unknown fields.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.writeRequestBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

func auditQuery(r *http.Request) (attest.AuditQuery, error) {
	v := r.URL.Query()
	q := attest.AuditQuery{Tenant: v.Get("tenant"), Decision: v.Get("decision")}
	q.AllTenants = q.Tenant == ""
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, badRequest(fmt.Sprintf("after=%q is not a sequence number", s))
		}
		q.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, badRequest(fmt.Sprintf("limit=%q is not a positive number", s))
		}
		q.Limit = n
	}
	return q, nil
}
