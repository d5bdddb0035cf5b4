package api

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/ca"
)

// CertIssuer is the certificate authority (internal/ca.CA).
type CertIssuer interface {
	Issue(ctx context.Context, id ca.Identity, pub crypto.PublicKey) ([]*x509.Certificate, error)
}

// IdentityVerifier checks the identity tokens the CA's callers present
// (internal/authn.Authenticator).
type IdentityVerifier interface {
	VerifyIdentity(raw, audience string) (*authn.Identity, error)
}

// handleSigningCert is Fulcio's v2 POST /api/v2/signingCert, the way cosign
// calls it: an identity token from the site's Authority in the Authorization
// header (or in the body's credentials), a public key with a proof of
// possession over the token's subject (or a CSR), and the certificate chain
// with an embedded SCT out, 200. Every issuance and every refusal after the
// token was read is audited with the token's subject and issuer.
func (s *Server) handleSigningCert(w http.ResponseWriter, r *http.Request) {
	call := attest.Call{RequestID: requestID(r)}
	source := sourceOf(r)
	refuse := func(err error) {
		s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, attest.ActionCertIssue, err))
	}
	if allowed, wait := s.writeLimits.allow("ca:"+source, time.Now()); !allowed {
		refuse(&authn.Error{Code: CodeRateLimited, Msg: fmt.Sprintf("too many certificate requests from %s; retry later", source), RetryAfter: wait})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ca.MaxRequestSize+1))
	if err != nil {
		refuse(badRequest("reading the request body: " + err.Error()))
		return
	}
	req, err := ca.DecodeRequest(body)
	if err != nil {
		refuse(err)
		return
	}
	token := req.IdentityToken()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			refuse(&authn.Error{Code: authn.CodeMalformed, Msg: "Authorization: want Bearer <identity token>"})
			return
		}
		token = cred
	}
	if token == "" {
		refuse(&authn.Error{Code: authn.CodeMissing, Msg: "no identity token: send Authorization: Bearer <token from the site's Authority>"})
		return
	}
	id, err := s.cfg.Identity.VerifyIdentity(token, authn.AudienceSigstore)
	if err != nil {
		refuse(err)
		return
	}
	call.Caller = &authn.Principal{Subject: id.Subject, Issuer: id.Issuer, Tenant: id.Tenant}
	if call.Caller.Tenant == "" {
		call.Caller.Tenant = s.cfg.LogWrite.Tenant
	}
	if err := req.VerifyPossession(id.Subject); err != nil {
		refuse(err)
		return
	}
	chain, err := s.cfg.CA.Issue(r.Context(), ca.Identity{Subject: id.Subject, Email: id.Email, Issuer: id.Issuer}, req.PublicKey())
	if err != nil {
		refuse(fmt.Errorf("issuing a certificate for %s: %w", id.Subject, err))
		return
	}
	leaf := chain[0]
	sum := sha256.Sum256(leaf.Raw)
	note := fmt.Sprintf("serial %s for %s until %s", leaf.SerialNumber.Text(16), id.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	if err := s.cfg.Attest.Allow(r.Context(), call, attest.ActionCertIssue, note, []string{"sha256:" + hex.EncodeToString(sum[:])}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ca.EncodeResponse(chain))
}
