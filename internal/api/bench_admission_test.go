package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/stellaops/stellad/internal/api"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/policy"
	"github.com/stellaops/stellad/internal/signer"
	"github.com/stellaops/stellad/internal/store"
	"github.com/stellaops/stellad/internal/translog"
	"github.com/stellaops/stellad/kit/bundle"
)

// BenchmarkSignRequest prices admission: the same signing request (HTTP
// handler, JSON, DSSE signature with a file key, log append with its proof,
// the entry's row) from 64 concurrent callers, bare and with every admission
// check (token, tenant, licence, quota, audit row; the scanner check does not
// apply to this predicate type). Compare the attestations/s of the
// sub-benchmarks of one run: bare is the baseline.
//
//	bare            no authentication, no admission, no audit
//	admission-mtls  an mTLS-bound access token (verified once, then cached)
//	admission-dpop  a DPoP-bound token with a fresh proof per request (made before the timer starts)
func BenchmarkSignRequest(b *testing.B) {
	// Tessera reports through klog on stderr; keep the benchmark's output to its figures.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	for _, mode := range []string{"bare", "admission-mtls", "admission-dpop"} {
		b.Run(mode, func(b *testing.B) {
			env := newBenchEnv(b, mode != "bare")
			reqs := env.requests(b, mode, b.N)
			var n atomic.Int64
			b.SetParallelism(32) // 32 x GOMAXPROCS(2) = 64 callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := reqs[n.Add(1)-1]
					w := httptest.NewRecorder()
					env.srv.ServeHTTP(w, r)
					if w.Code != http.StatusCreated {
						b.Errorf("status %d: %s", w.Code, w.Body)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "attestations/s")
		})
	}
}

type benchEnv struct {
	srv   *api.Server
	auth  *authntest.Authority
	cert  *x509.Certificate
	dpop  *authntest.DPoPKey
	mtlsT string
	dpopT string
}

func newBenchEnv(b *testing.B, admission bool) *benchEnv {
	ctx := context.Background()
	dir := b.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	logKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ns, _ := bundle.NewNoteSigner("localhost", logKey)
	nv, _ := bundle.NewNoteVerifier("localhost", logKey.Public())
	tlog, err := translog.New(ctx, translog.Config{Dir: filepath.Join(dir, "log"), Origin: "localhost", Signer: ns, Verifier: nv})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tlog.Close(context.Background()) })
	var migs []store.Migration
	for _, m := range [][]store.Migration{attest.Migrations(), authn.Migrations(), entitlement.Migrations(), audit.Migrations(), policy.Migrations()} {
		migs = append(migs, m...)
	}
	db, err := store.Open(ctx, store.Config{Path: filepath.Join(dir, "stellad.db"), Migrations: migs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	k, _ := signer.NewKey(key, "file:bench.pem", bundle.KeyDetails)
	set, _ := signer.NewSet(k, nil)
	logID, _ := bundle.LogID("localhost", logKey.Public())
	cfg := attest.Config{DB: db, Log: tlog, Keys: set, LogID: logID}
	env := &benchEnv{}
	var auth *authn.Authenticator
	if admission {
		env.auth = authntest.NewAuthority(b, "https://authority.example")
		auth, err = authn.New(ctx, authn.Config{Issuers: []authn.Issuer{{URL: env.auth.URL, JWKS: env.auth.JWKS()}}, DB: db})
		if err != nil {
			b.Fatal(err)
		}
		vendor := entitlementtest.NewVendor(b)
		ent, err := entitlement.New(ctx, entitlement.Config{DB: db, VendorKeys: []crypto.PublicKey{vendor.Public()}})
		if err != nil {
			b.Fatal(err)
		}
		l := entitlementtest.Licence("bench", time.Now(), "tenant-a")
		l.Quotas = entitlement.Quotas{RequestsPerSecond: 1 << 30, Burst: 1 << 30, Concurrent: 1024, MaxPayloadBytes: 1 << 20, SignaturesPerDay: 1 << 40}
		if _, err := ent.Import(ctx, vendor.Sign(b, l), "bench"); err != nil {
			b.Fatal(err)
		}
		pol, err := policy.New(ctx, policy.Config{DB: db})
		if err != nil {
			b.Fatal(err)
		}
		trail, err := audit.New(ctx, audit.Config{DB: db})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Admission = &attest.Admission{Auth: auth, Entitlement: ent, Scanner: pol, Audit: trail, ScannerPredicates: attest.DefaultScannerPredicates}
		env.cert = selfSigned(b)
		env.dpop = authntest.NewDPoPKey(b)
		env.mtlsT = env.auth.Token(b, authntest.Claims{X5T: authntest.CertThumbprint(env.cert), ExpiresAt: time.Now().Add(time.Hour)})
		env.dpopT = env.auth.Token(b, authntest.Claims{JKT: env.dpop.JKT(), ExpiresAt: time.Now().Add(time.Hour)})
	}
	svc, err := attest.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	acfg := api.Config{Attest: svc, Log: logInfo{tlog}}
	if auth != nil {
		acfg.Auth = auth
	}
	env.srv, err = api.New(acfg)
	if err != nil {
		b.Fatal(err)
	}
	return env
}

// requests builds n distinct sign requests, their credentials included.
func (e *benchEnv) requests(b *testing.B, mode string, n int) []*http.Request {
	const url = "https://stellad.example/api/v1/signer/sign/dsse"
	out := make([]*http.Request, n)
	for i := range out {
		body := fmt.Sprintf(`{"subjects":[{"name":"a%d","digest":{"sha256":"%064x"}}],"predicateType":"https://example.com/bench/v1","predicate":{"i":%d}}`, i, i, i)
		r := httptest.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
		switch mode {
		case "admission-mtls":
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{e.cert}}
			r.Header.Set("Authorization", "Bearer "+e.mtlsT)
		case "admission-dpop":
			r.TLS = &tls.ConnectionState{}
			r.Header.Set("Authorization", "DPoP "+e.dpopT)
			r.Header.Set("DPoP", e.dpop.Proof(b, http.MethodPost, url, e.dpopT))
		}
		out[i] = r
	}
	return out
}

func selfSigned(b *testing.B) *x509.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, k.Public(), k)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// logInfo adapts the log for api.Config.Log.
type logInfo struct{ *translog.Log }

func (l logInfo) Handler() http.Handler { return l.Log.Handler() }

// BenchmarkAdmissionCost measures admission's share of a signing request as a
// same-run ratio that machine noise affects little: each iteration runs one
// round of 3,000 requests from 64 callers bare, then one with admission and an
// mTLS-bound token, then one with a DPoP proof per request, each on a
// long-lived environment, and the reported figures are the medians of the
// per-round ratios (admission time / bare time; 1.10 means 10 % more).
// Run it with -benchtime 7x or more.
func BenchmarkAdmissionCost(b *testing.B) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	const perRound = 3000
	envs := map[string]*benchEnv{
		"bare":           newBenchEnv(b, false),
		"admission-mtls": newBenchEnv(b, true),
		"admission-dpop": newBenchEnv(b, true),
	}
	round := func(mode string) time.Duration {
		reqs := envs[mode].requests(b, mode, perRound)
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := n.Add(1) - 1
					if i >= perRound {
						return
					}
					w := httptest.NewRecorder()
					envs[mode].srv.ServeHTTP(w, reqs[i])
					if w.Code != http.StatusCreated {
						b.Errorf("%s: status %d: %s", mode, w.Code, w.Body)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var mtls, dpop []float64
	b.ResetTimer()
	for range b.N {
		bare := round("bare")
		mtls = append(mtls, float64(round("admission-mtls"))/float64(bare))
		dpop = append(dpop, float64(round("admission-dpop"))/float64(bare))
	}
	b.ReportMetric(median(mtls), "mtls/bare")
	b.ReportMetric(median(dpop), "dpop/bare")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
