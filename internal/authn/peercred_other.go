//go:build !linux

package authn

import (
	"errors"
	"net"
)

// PeerCredentials returns the user, group and process id of the peer of a
// unix socket connection. It is implemented on Linux only; elsewhere it
// returns an error.
func PeerCredentials(c net.Conn) (uid, gid, pid int, err error) {
	return 0, 0, 0, errors.New("authn: peer credentials are supported on Linux only")
}

// PeerGroups returns the supplementary groups of a process; Linux only.
func PeerGroups(pid int) ([]int, error) {
	return nil, errors.New("authn: peer groups are supported on Linux only")
}
