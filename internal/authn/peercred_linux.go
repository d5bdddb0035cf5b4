package authn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PeerCredentials returns the user, group and process id of the peer of c,
// a unix domain socket connection, as the kernel recorded them when the peer
// connected (SO_PEERCRED). gid is the peer's primary group. Any other kind of
// connection gives an error.
func PeerCredentials(c net.Conn) (uid, gid, pid int, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, 0, 0, fmt.Errorf("authn: peer credentials need a unix socket connection, not %T", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("authn: reading peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, 0, fmt.Errorf("authn: reading peer credentials: %w", err)
	}
	if credErr != nil {
		return 0, 0, 0, fmt.Errorf("authn: reading peer credentials: %w", credErr)
	}
	if cred == nil {
		return 0, 0, 0, errors.New("authn: reading peer credentials: none returned")
	}
	return int(cred.Uid), int(cred.Gid), int(cred.Pid), nil
}

// PeerGroups returns the supplementary groups of process pid, read from the
// Groups line of /proc/PID/status (SO_PEERCRED reports the primary group
// only). Read right after PeerCredentials, while the peer's connection is
// open, it names the groups of the process that connected.
func PeerGroups(pid int) ([]int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, fmt.Errorf("authn: reading the groups of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Groups:")
		if !ok {
			continue
		}
		var out []int
		for _, f := range strings.Fields(rest) {
			g, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("authn: the groups of process %d: %q is not a group id", pid, f)
			}
			out = append(out, g)
		}
		return out, nil
	}
	return nil, fmt.Errorf("authn: /proc/%d/status has no Groups line", pid)
}
