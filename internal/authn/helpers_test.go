package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/store/storetest"
)

const issuerURL = "https://authority.example"

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is an Authenticator trusting one Authority, on a real database.
type fixture struct {
	clock *clock
	auth  *authntest.Authority
	db    *store.DB
	a     *authn.Authenticator
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), db: storetest.Open(t, authn.Migrations()...)}
	f.auth = authntest.NewAuthority(t, issuerURL)
	f.auth.Now = f.clock.Now
	f.a = f.newAuthenticator(t, f.db, authn.Issuer{URL: issuerURL, JWKS: f.auth.JWKS()})
	return f
}

func (f *fixture) newAuthenticator(t testing.TB, db *store.DB, issuers ...authn.Issuer) *authn.Authenticator {
	t.Helper()
	a, err := authn.New(context.Background(), authn.Config{Issuers: issuers, DB: db, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) dpopKey(t testing.TB) *authntest.DPoPKey {
	k := authntest.NewDPoPKey(t)
	k.Now = f.clock.Now
	return k
}

// reply is what the test server answers.
type reply struct {
	Code      string           `json:"code,omitempty"`
	Principal *authn.Principal `json:"principal,omitempty"`
}

// handler authenticates each request with the requirement named by its
// query (aud, scope; defaults signer / signer.sign) and, when the query
// names a tenant, checks the principal may act for it.
func (f *fixture) handler(t testing.TB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := authn.Requirement{Audience: authn.AudienceSigner, Scope: authn.ScopeSign}
		if v := r.URL.Query().Get("aud"); v != "" {
			req.Audience = v
		}
		if v := r.URL.Query().Get("scope"); v != "" {
			req.Scope = v
		}
		p, err := f.a.Authenticate(r, req)
		if err == nil {
			if tenant := r.URL.Query().Get("tenant"); tenant != "" {
				err = p.CheckTenant(tenant)
			}
		}
		if err == nil {
			err = f.db.Commit(r.Context(), func(tx *sql.Tx) error { return f.a.RecordJTI(tx, p) })
		}
		var ae *authn.Error
		switch {
		case err == nil:
			w.WriteHeader(http.StatusOK)
			json.NewEncoder(w).Encode(reply{Principal: p})
		case errors.As(err, &ae):
			status := http.StatusUnauthorized
			if ae.Code == authn.CodeInsufficientScope || ae.Code == authn.CodeTenantForbidden {
				status = http.StatusForbidden
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(reply{Code: ae.Code})
		default:
			t.Errorf("handler: %v", err)
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
}

// send makes one request and returns the status and the decoded reply.
func send(t testing.TB, c *http.Client, method, url string, hdr http.Header) (int, reply) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep reply
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return resp.StatusCode, rep
}

// pki is a CA and client certificates for the mTLS tests.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{ca: ca, caKey: key, pool: pool, serial: 1}
}

// client issues a client certificate.
func (p *pki) client(t testing.TB, cn string) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert
}

// tlsServer starts an HTTPS server on 127.0.0.1 that verifies client
// certificates when given, as the daemon's listener does.
func (f *fixture) tlsServer(t testing.TB, p *pki) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(f.handler(t))
	srv.TLS = &tls.Config{ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// tlsClient is a client of srv presenting cert (none when cert is nil).
func tlsClient(srv *httptest.Server, cert *tls.Certificate) *http.Client {
	c := srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: tr}
}
