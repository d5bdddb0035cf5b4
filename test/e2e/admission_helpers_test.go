package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
)

// The admission tests trust an external Authority and licence vendor of their
// own (authntest, entitlementtest) next to development mode's, and talk to the
// daemon with tokens and DPoP proofs they make themselves.

// testIssuer is the iss of the tests' own Authority.
const testIssuer = "https://authority.e2e.test"

// sbomPredicateType is a predicate type whose signing needs a trusted scanner digest.
const sbomPredicateType = "https://cyclonedx.org/bom"

// trust is an Authority and a licence vendor, written as stellad's trust
// configuration under dir.
type trust struct {
	auth            *authntest.Authority
	vendor          *entitlementtest.Vendor
	authoritiesPath string
	licenceKeysDir  string
}

// newTrust makes an Authority and a vendor and writes authorities.json and
// licence-keys/vendor.pem under dir.
func newTrust(t *testing.T, dir string) *trust {
	t.Helper()
	tr := &trust{auth: authntest.NewAuthority(t, testIssuer), vendor: entitlementtest.NewVendor(t)}
	if err := os.MkdirAll(filepath.Join(dir, "licence-keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(map[string]any{"authorities": []any{map[string]any{"issuer": testIssuer, "jwks": json.RawMessage(tr.auth.JWKS())}}})
	if err != nil {
		t.Fatal(err)
	}
	tr.authoritiesPath = writeFile(t, filepath.Join(dir, "authorities.json"), doc)
	tr.licenceKeysDir = filepath.Join(dir, "licence-keys")
	writeFile(t, filepath.Join(tr.licenceKeysDir, "vendor.pem"), publicPEM(t, tr.vendor.Public()))
	return tr
}

// flags are the serve flags that make stellad trust tr.
func (tr *trust) flags() []string {
	return []string{"--authorities", tr.authoritiesPath, "--licence-keys-dir", tr.licenceKeysDir}
}

// importLicence signs l as tr's vendor and imports it through the admin socket.
func (tr *trust) importLicence(t *testing.T, d *daemon, l entitlement.Licence) {
	t.Helper()
	path := writeFile(t, filepath.Join(t.TempDir(), l.LicenceID+".dsse.json"), tr.vendor.Sign(t, l))
	mustCtl(t, "", nil, "--admin-socket", d.adminSocket(), "license", "import", path)
}

func publicPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func privatePEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (d *daemon) adminSocket() string { return filepath.Join(d.dataDir, "stellad.sock") }

// caller is a tenant's principal: a DPoP-bound token of tr's Authority and its
// proof key, also as files for stellactl.
type caller struct {
	token     string
	key       *ecdsa.PrivateKey
	tokenFile string
	keyFile   string
}

// newCaller issues a token for tenant with scope and audiences, bound to a
// fresh DPoP key.
func (tr *trust) newCaller(t *testing.T, tenant, scope string, aud ...string) *caller {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	c := &caller{key: k, token: tr.auth.Token(t, authntest.Claims{
		Subject: "user-" + tenant, Tenant: tenant, Scope: scope, Audience: aud, JKT: base64.RawURLEncoding.EncodeToString(tp),
		ExpiresAt: time.Now().Add(time.Hour),
	})}
	dir := t.TempDir()
	c.tokenFile = writeFile(t, filepath.Join(dir, "token"), []byte(c.token))
	c.keyFile = filepath.Join(dir, "dpop-key.pem")
	if err := os.WriteFile(c.keyFile, privatePEM(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// env makes stellactl present c's credentials.
func (c *caller) env() []string {
	return []string{"STELLAD_TOKEN_FILE=" + c.tokenFile, "STELLAD_DPOP_KEY=" + c.keyFile}
}

// client is an HTTP client that sends c's token with a fresh proof per request.
func (c *caller) client(t testing.TB) *http.Client {
	t.Helper()
	tr, err := client.Credentials{Token: c.token, DPoPKey: c.key}.Transport(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode is the code of an error answer, or "" when the body is not one.
func (r response) errorCode() string {
	var e apitype.Error
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (r response) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// send sends req with hc (nil: a client without credentials) and reads the answer.
func send(t testing.TB, hc *http.Client, req *http.Request) response {
	t.Helper()
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func newRequest(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// signBody is a sign request for one random subject; scanner, when set, is
// the scanner digest and makes the predicate an SBOM's.
func signBody(t testing.TB, tenant, predicateType, scanner string) []byte {
	t.Helper()
	var d [32]byte
	if _, err := rand.Read(d[:]); err != nil {
		t.Fatal(err)
	}
	req := apitype.SignRequest{
		Subjects:      []apitype.Subject{{Name: "artifact.bin", Digest: map[string]string{"sha256": fmt.Sprintf("%x", d)}}},
		PredicateType: predicateType, Predicate: json.RawMessage(`{"e2e":true}`), ScannerDigest: scanner, Tenant: tenant,
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signAs signs one statement for hc's tenant and returns the answer.
func signAs(t testing.TB, hc *http.Client, base string) apitype.SignResponse {
	t.Helper()
	r := send(t, hc, newRequest(t, http.MethodPost, base+"/api/v1/signer/sign/dsse", signBody(t, "", testPredicateType, "")))
	if r.status != http.StatusCreated {
		t.Fatalf("sign: %s", r)
	}
	var out apitype.SignResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("sign: decoding %s: %v", r.body, err)
	}
	return out
}

// keyUse is the sum of stellad_key_signatures_total over every key, read
// from GET /metrics (zero while no key has signed).
func keyUse(t testing.TB, hc *http.Client, base string) float64 {
	t.Helper()
	r := send(t, hc, newRequest(t, http.MethodGet, base+"/metrics", nil))
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %s", r)
	}
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "stellad_key_signatures_total") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// logSize is the tree size of the published checkpoint.
func logSize(t testing.TB, hc *http.Client, base string) uint64 {
	t.Helper()
	r := send(t, hc, newRequest(t, http.MethodGet, base+"/api/v1/log/status", nil))
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/log/status: %s", r)
	}
	var st apitype.LogStatus
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatal(err)
	}
	return st.TreeSize
}

// auditRows lists audit rows through the admin socket with extra flags.
func auditRows(t *testing.T, d *daemon, extra ...string) []apitype.AuditRow {
	t.Helper()
	args := append([]string{"--admin-socket", d.adminSocket(), "audit", "list", "--json", "--limit", "1000"}, extra...)
	out := mustCtl(t, "", nil, args...)
	var l apitype.AuditList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("audit list: decoding %s: %v", out, err)
	}
	return l.Rows
}

// pki is a test CA with a server certificate for 127.0.0.1 and client certificates.
type pki struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	dir    string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	if p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stellad e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.caKey.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = writeFile(t, filepath.Join(p.dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

// issue makes a leaf certificate; server leaves name 127.0.0.1 and localhost.
// It returns the certificate, its TLS pair and the PEM files.
func (p *pki) issue(t *testing.T, name string, server bool) (*x509.Certificate, tls.Certificate, string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, k.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, filepath.Join(p.dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile := filepath.Join(p.dir, name+"-key.pem")
	if err := os.WriteFile(keyFile, privatePEM(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: cert}, certFile, keyFile
}

// tlsClient trusts p's CA and presents cert when it is given.
func (p *pki) tlsClient(cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: time.Minute}
}

// startTLSDaemon starts stellad outside development mode on a TLS 1.3
// listener that asks for client certificates of p's CA. The signing and log
// keys are file keys the test writes.
func startTLSDaemon(t *testing.T, dataDir string, p *pki, extra ...string) *daemon {
	t.Helper()
	keysDir := filepath.Join(dataDir, "keys")
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signing.pem", "log.pem"} {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keysDir, name), privatePEM(t, k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, certFile, keyFile := p.issue(t, "server", true)
	port := freePort(t)
	d := &daemon{
		t:       t,
		dataDir: dataDir,
		url:     fmt.Sprintf("https://127.0.0.1:%d", port),
		args: append([]string{"serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--public-url", fmt.Sprintf("https://localhost:%d", port), "--tls-cert", certFile, "--tls-key", keyFile,
			"--client-ca", p.caFile, "--log-level", "info"}, extra...),
	}
	d.logs = &syncBuffer{}
	d.cmd = exec.Command(stelladBin, d.args...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting stellad: %v", err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("stellad (TLS) log:\n%s", tail(d.logs.String(), 4000))
		}
	})
	hc := p.tlsClient(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case <-d.done:
			t.Fatalf("stellad exited during start-up:\n%s", d.logs.String())
		default:
		}
		resp, err := hc.Get(d.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("stellad (TLS) not ready after 60s:\n%s", d.logs.String())
	return nil
}

// waitLogSize waits (bounded) until the published checkpoint covers at least
// n entries and returns its size: a signature's answer comes before the
// checkpoint that covers it is published.
func waitLogSize(t testing.TB, hc *http.Client, base string, n uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		size := logSize(t, hc, base)
		if size >= n {
			return size
		}
		if time.Now().After(deadline) {
			t.Fatalf("published tree size still %d after 30 s, want at least %d", size, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
