package e2e

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/client"
)

// Development mode writes a token for the local user and its DPoP key under
// DATA/dev; the tests sign and read as that user unless they say otherwise.

var (
	daemonsMu sync.Mutex
	daemons   = map[string]*daemon{} // by base URL
)

func register(d *daemon) {
	daemonsMu.Lock()
	defer daemonsMu.Unlock()
	daemons[d.url] = d
}

// daemonFor returns the daemon serving url, if a test started one.
func daemonFor(url string) *daemon {
	daemonsMu.Lock()
	defer daemonsMu.Unlock()
	for base, d := range daemons {
		if url == base || strings.HasPrefix(url, base+"/") {
			return d
		}
	}
	return nil
}

// devCredentials are the environment that makes stellactl use d's
// development token and DPoP key.
func (d *daemon) devCredentials() []string {
	dir := filepath.Join(d.dataDir, "dev")
	return []string{"STELLAD_TOKEN_FILE=" + filepath.Join(dir, "token"), "STELLAD_DPOP_KEY=" + filepath.Join(dir, "dpop-key.pem")}
}

// devClient returns an HTTP client that presents d's development token with a
// fresh DPoP proof per request.
func (d *daemon) devClient(t testing.TB) *http.Client {
	t.Helper()
	return &http.Client{Transport: withCredentials(t, d, nil)}
}

// withCredentials wraps base (nil: the default transport) with d's
// development credentials.
func withCredentials(t testing.TB, d *daemon, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	dir := filepath.Join(d.dataDir, "dev")
	tok, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatalf("reading the development token: %v", err)
	}
	tr, err := client.Credentials{Token: strings.TrimSpace(string(tok)), DPoPKey: readSigner(t, filepath.Join(dir, "dpop-key.pem"))}.Transport(base)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// httpClientFor returns the development client of the daemon serving url, or
// http.DefaultClient.
func httpClientFor(t testing.TB, url string) *http.Client {
	if d := daemonFor(url); d != nil {
		return d.devClient(t)
	}
	return http.DefaultClient
}

func readSigner(t testing.TB, path string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k.(crypto.Signer)
}
