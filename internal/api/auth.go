package api

import (
	"net"
	"net/http"
	"os"
	"slices"

	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/authn"
)

// Authenticator identifies callers (internal/authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request, req authn.Requirement) (*authn.Principal, error)
}

// AudienceAdmin is the audience of tokens for the administration routes.
const AudienceAdmin = "stellad"

// What each route's token must carry.
var (
	needSign   = authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign}
	needWrite  = authn.Requirement{Audience: authn.AudienceAttestor, Scope: authn.ScopeWrite}
	needVerify = authn.Requirement{Audience: authn.AudienceAttestor, Scope: authn.ScopeVerify}
	needAdmin  = authn.Requirement{Audience: AudienceAdmin, Scope: authn.ScopeAdmin}
)

// authenticate identifies the caller of r for a route needing req and returns
// the call to hand to the use case. Without an Authenticator (tests of the
// bare path) every caller passes as nobody. A caller on the admin socket is
// identified by its unix credentials. A refusal is answered here, after its
// audit row is written, and ok is false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, req authn.Requirement, action string) (call attest.Call, ok bool) {
	call.RequestID = requestID(r)
	if s.cfg.Auth == nil {
		return call, true
	}
	var err error
	if conn, isUnix := unixConn(r.Context()); isUnix && s.cfg.Peer != nil {
		call.Caller, err = s.cfg.Peer(conn)
		if err == nil && !call.Caller.HasScope(req.Scope) {
			err = &authn.Error{Code: authn.CodeInsufficientScope, Msg: "the admin socket grants " + authn.ScopeAdmin + " only; use a token for " + req.Scope}
		}
	} else {
		call.Caller, err = s.cfg.Auth.Authenticate(r, req)
	}
	if err != nil {
		s.fail(w, r, s.cfg.Attest.Refuse(r.Context(), call, action, err))
		return call, false
	}
	return call, true
}

// PeerPrincipal returns the Config.Peer function for the admin socket: root,
// the daemon's own user and members of gid (as their primary group or a
// supplementary one, read from /proc) are admins.
func PeerPrincipal(gid int) func(net.Conn) (*authn.Principal, error) {
	self := os.Getuid()
	return func(c net.Conn) (*authn.Principal, error) {
		uid, pgid, pid, err := authn.PeerCredentials(c)
		if err != nil {
			return nil, &authn.Error{Code: authn.CodeMissing, Msg: "admin socket: reading the peer's credentials: " + err.Error()}
		}
		if uid == self {
			// The socket's owner: its mode already lets only it and the group in.
			return authn.UnixPrincipal(uid, pgid, pgid)
		}
		if pgid != gid && gid >= 0 {
			// A member of the admin group through a supplementary group.
			if groups, err := authn.PeerGroups(pid); err == nil && slices.Contains(groups, gid) {
				return authn.UnixPrincipal(uid, gid, gid)
			}
		}
		return authn.UnixPrincipal(uid, pgid, gid)
	}
}
