package authn

import "strconv"

// UnixPrincipal is the principal of an admin-socket caller with the given
// peer credentials: a caller whose group is allowedGID, or root, holds the
// stellad.admin scope for every tenant (Tenant is empty); any other caller is
// refused with CodeInsufficientScope. The socket's own mode (0660, group
// stellad) decides who may connect at all; gid is the primary group reported
// by PeerCredentials.
func UnixPrincipal(uid, gid int, allowedGID int) (*Principal, error) {
	if uid < 0 || gid < 0 {
		return nil, refuse(CodeInsufficientScope, "invalid peer credentials uid=%d gid=%d", uid, gid)
	}
	if uid != 0 && gid != allowedGID {
		return nil, refuse(CodeInsufficientScope, "unix peer uid=%d gid=%d is not in the admin group %d", uid, gid, allowedGID)
	}
	return &Principal{
		Subject: "unix:uid=" + strconv.Itoa(uid),
		Binding: BindingUnix,
		Scopes:  []string{ScopeAdmin},
	}, nil
}
