package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// transport is how stellad listens: TLS 1.3 (optionally asking for client
// certificates signed by a configured CA), or plain HTTP on loopback in
// development mode only; plus the admin socket.
type transport struct {
	listen     string
	tlsCert    string
	tlsKey     string
	clientCA   string
	adminSock  string
	adminGroup string
}

// checkTransport validates the listener settings before anything is opened:
// plain HTTP is refused unless the address is loopback and dev is set.
func (t transport) check(dev bool) error {
	host, _, err := net.SplitHostPort(t.listen)
	if err != nil {
		return configErrorf("--listen %q: %v", t.listen, err)
	}
	switch {
	case (t.tlsCert == "") != (t.tlsKey == ""):
		return configErrorf("--tls-cert and --tls-key go together")
	case t.clientCA != "" && t.tlsCert == "":
		return configErrorf("--client-ca needs a TLS listener (--tls-cert and --tls-key)")
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || ip != nil && ip.IsLoopback()
	if dev && !loopback {
		// Development mode trusts an Authority whose key lies in DATA/dev.
		return configErrorf("--listen %q: development mode (--dev) serves on loopback only", t.listen)
	}
	if t.tlsCert != "" {
		return nil
	}
	if !loopback {
		return configErrorf("--listen %q: plain HTTP is served on loopback only; give --tls-cert and --tls-key", t.listen)
	}
	if !dev {
		return configErrorf("--listen %q: plain HTTP is allowed only in development mode (--dev); give --tls-cert and --tls-key", t.listen)
	}
	return nil
}

// tlsConfig builds the TLS 1.3 server configuration, or nil for plain HTTP.
// Client certificates are asked for and verified against the CA bundle when
// one is configured, but not required: a caller may also authenticate with a
// DPoP-bound token. The authenticator decides what a request needs.
func (t transport) tlsConfig() (*tls.Config, error) {
	if t.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.tlsCert, t.tlsKey)
	if err != nil {
		return nil, configErrorf("loading TLS certificate %s and key %s: %v", t.tlsCert, t.tlsKey, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if t.clientCA != "" {
		pem, err := os.ReadFile(t.clientCA)
		if err != nil {
			return nil, configErrorf("reading --client-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configErrorf("--client-ca %s holds no PEM certificate", t.clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// listenAdmin opens the admin socket: mode 0660, group adminGroup when that
// group exists (a missing group is logged, and the socket stays the owner's
// alone). A stale socket file from a previous run is removed first; any other
// file at that path is refused.
func (t transport) listenAdmin(gid int) (net.Listener, error) {
	if t.adminSock == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(t.adminSock), 0o750); err != nil {
		return nil, fmt.Errorf("creating the admin socket's directory: %w", err)
	}
	if fi, err := os.Lstat(t.adminSock); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, configErrorf("--admin-socket %s exists and is not a socket", t.adminSock)
		}
		if err := os.Remove(t.adminSock); err != nil {
			return nil, fmt.Errorf("removing the stale admin socket: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket %s: %w", t.adminSock, err)
	}
	ln, err := net.Listen("unix", t.adminSock)
	if err != nil {
		return nil, configErrorf("listening on the admin socket %s: %v", t.adminSock, err)
	}
	if gid >= 0 {
		if err := os.Chown(t.adminSock, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("giving the admin socket to group %s: %w", t.adminGroup, err)
		}
	}
	if err := os.Chmod(t.adminSock, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("setting the admin socket's mode: %w", err)
	}
	return ln, nil
}

// groupID is the admin group's id, or -1 (logged) when it does not exist: then
// the admin socket is its owner's alone.
func (t transport) groupID(logger *slog.Logger) int {
	if t.adminSock == "" || t.adminGroup == "" {
		return -1
	}
	g, err := user.LookupGroup(t.adminGroup)
	if err != nil {
		logger.Warn("admin group not found; the admin socket is reachable by its owner only", "group", t.adminGroup)
		return -1
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return gid
}
