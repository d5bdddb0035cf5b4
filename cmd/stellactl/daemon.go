package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/stellaops/stellad/internal/client"
)

// connectionFlags are the global flags that say how to reach and authenticate
// to the daemon.
func connectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "token-file", Usage: "file holding the OAuth access token from the site's Authority", EnvVars: []string{"STELLAD_TOKEN_FILE"}},
		&cli.StringFlag{Name: "dpop-key", Usage: "PEM private key that signs DPoP proofs for a DPoP-bound token (else the token is sent as a bearer token bound to --client-cert)", EnvVars: []string{"STELLAD_DPOP_KEY"}},
		&cli.StringFlag{Name: "cacert", Usage: "PEM CA bundle that verifies the daemon's TLS certificate (default: the system's)", EnvVars: []string{"STELLAD_CACERT"}},
		&cli.StringFlag{Name: "client-cert", Usage: "PEM client certificate for mutual TLS", EnvVars: []string{"STELLAD_CLIENT_CERT"}},
		&cli.StringFlag{Name: "client-key", Usage: "PEM private key of --client-cert", EnvVars: []string{"STELLAD_CLIENT_KEY"}},
		&cli.StringFlag{Name: "admin-socket", Usage: "the daemon's admin socket; admin commands use it instead of --server when set", EnvVars: []string{"STELLAD_ADMIN_SOCKET"}},
	}
}

// daemonClient returns a client of the daemon named by --server, with
// --timeout as the per-request timeout and the credentials of the global flags.
func daemonClient(c *cli.Context) (*client.Client, error) {
	return daemonClientWith(c, &http.Client{Timeout: c.Duration("timeout")})
}

// daemonClientWith is daemonClient on the caller's http.Client, whose
// transport (an *http.Transport or nil) gets the TLS settings and credentials.
func daemonClientWith(c *cli.Context, hc *http.Client) (*client.Client, error) {
	base, err := transportFor(c, hc.Transport)
	if err != nil {
		return nil, err
	}
	creds, err := credentials(c)
	if err != nil {
		return nil, err
	}
	if hc.Transport, err = creds.Transport(base); err != nil {
		return nil, usageErrorf("--token-file: %v", err)
	}
	server := c.String("server")
	cl, err := client.New(server, hc)
	if err != nil {
		return nil, usageErrorf("--server: %v", err)
	}
	return cl, nil
}

// adminClient returns a client for admin commands: through --admin-socket
// (the daemon identifies the caller by its unix credentials) when set, else
// like daemonClient (the token must carry the stellad.admin scope).
func adminClient(c *cli.Context) (*client.Client, error) {
	sock := c.String("admin-socket")
	if sock == "" {
		return daemonClient(c)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	cl, err := client.New("http://stellad.sock", &http.Client{Transport: tr, Timeout: c.Duration("timeout")})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// transportFor applies --cacert, --cert and --key to rt (nil means a clone of
// http.DefaultTransport).
func transportFor(c *cli.Context, rt http.RoundTripper) (http.RoundTripper, error) {
	if c.String("cacert") == "" && c.String("client-cert") == "" && c.String("client-key") == "" {
		return rt, nil
	}
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("internal error: TLS settings need an *http.Transport, got %T", rt)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13}
	if p := c.String("cacert"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, usageErrorf("--cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, usageErrorf("--cacert %s holds no PEM certificate", p)
		}
		cfg.RootCAs = pool
	}
	if (c.String("client-cert") == "") != (c.String("client-key") == "") {
		return nil, usageErrorf("--client-cert and --client-key go together")
	}
	if c.String("client-cert") != "" {
		pair, err := tls.LoadX509KeyPair(c.String("client-cert"), c.String("client-key"))
		if err != nil {
			return nil, usageErrorf("--client-cert/--client-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}

// credentials reads --token-file and --dpop-key.
func credentials(c *cli.Context) (client.Credentials, error) {
	var creds client.Credentials
	p := c.String("token-file")
	if p == "" {
		if c.String("dpop-key") != "" {
			return creds, usageErrorf("--dpop-key needs --token-file")
		}
		return creds, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return creds, usageErrorf("--token-file: %v", err)
	}
	creds.Token = strings.TrimSpace(string(b))
	if k := c.String("dpop-key"); k != "" {
		signer, err := readPrivateKey(k)
		if err != nil {
			return creds, usageErrorf("--dpop-key: %v", err)
		}
		creds.DPoPKey = signer
	}
	return creds, nil
}

// readPrivateKey reads a PKCS#8, SEC 1 or PKCS#1 PEM private key.
func readPrivateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%s: unexpected PEM block %q", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key of type %T cannot sign", path, k)
	}
	return s, nil
}

// requireFlags fails with a usage error naming the first missing flag.
func requireFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if !c.IsSet(n) {
			return usageErrorf("%s: missing required flag --%s", cmdName(c), n)
		}
	}
	return nil
}
