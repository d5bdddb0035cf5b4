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
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/json"
	"k8s.io/klog/v2"

	"github.com/stellaops/stellad/internal/api"
	"github.com/stellaops/stellad/internal/attest"
	"github.com/stellaops/stellad/internal/audit"
	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/entitlement"
	"github.com/stellaops/stellad/internal/entitlement/entitlementtest"
	"github.com/stellaops/stellad/internal/offline"
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
	srv     *api.Server
	tlsCert tls.Certificate // the client certificate env.cert, with its key
	auth    *authntest.Authority
	cert    *x509.Certificate
	dpop    *authntest.DPoPKey
	mtlsT   string
	dpopT   string
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
	for _, m := range [][]store.Migration{attest.Migrations(), authn.Migrations(), entitlement.Migrations(), audit.Migrations(), policy.Migrations(), offline.Migrations()} {
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
		env.cert, env.tlsCert = selfSigned(b)
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

func selfSigned(b *testing.B) (*x509.Certificate, tls.Certificate) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, k.Public(), k)
	if err != nil {
		b.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: c}
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
//
// Each iteration also times, next to those rounds, the verification alone of
// 3,000 fresh DPoP proofs by 64 callers (what authn does per proof: parse the
// compact JWS, verify its ECDSA P-256 signature with its jwk, decode the
// claims, compute the key's thumbprint; RFC 9449 §4.3). dpop-verify/bare is
// that time over the bare round's, and dpop-rest/bare is (DPoP round - proof
// verification) / bare: what DPoP admission costs beyond the proof's
// signature. bare-attestations/s is the median rate of the bare rounds;
// the cpu- figures are the same ratios of process CPU time instead of wall
// time (the request lists and proofs are made before each round's clocks
// start), which other work on the machine disturbs less. Every other
// iteration runs the rounds in reverse order.
// Run it with -benchtime 7x or more.
func BenchmarkAdmissionCost(b *testing.B) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	const perRound, callers = 3000, 64
	envs := map[string]*benchEnv{
		"bare":           newBenchEnv(b, false),
		"admission-mtls": newBenchEnv(b, true),
		"admission-dpop": newBenchEnv(b, true),
	}
	// parallel runs do(i) for i in [0, perRound) from 64 goroutines and
	// returns the wall and process CPU time it took.
	parallel := func(do func(i int64) bool) span {
		var n atomic.Int64
		var wg sync.WaitGroup
		c0 := cpuTime(b)
		start := time.Now()
		for range callers {
			wg.Go(func() {
				for {
					i := n.Add(1) - 1
					if i >= perRound || !do(i) {
						return
					}
				}
			})
		}
		wg.Wait()
		return span{wall: time.Since(start), cpu: cpuTime(b) - c0}
	}
	round := func(mode string) span {
		reqs := envs[mode].requests(b, mode, perRound)
		return parallel(func(i int64) bool {
			w := httptest.NewRecorder()
			envs[mode].srv.ServeHTTP(w, reqs[i])
			if w.Code != http.StatusCreated {
				b.Errorf("%s: status %d: %s", mode, w.Code, w.Body)
				return false
			}
			return true
		})
	}
	verifyRound := func() span {
		e := envs["admission-dpop"]
		proofs := make([]string, perRound)
		for i := range proofs {
			proofs[i] = e.dpop.Proof(b, http.MethodPost, "https://stellad.example/api/v1/signer/sign/dsse", e.dpopT)
		}
		return parallel(func(i int64) bool {
			if err := verifyProof(proofs[i]); err != nil {
				b.Error(err)
				return false
			}
			return true
		})
	}
	var mtls, dpop, verify, rest, rate, cpuMTLS, cpuDPoP, cpuRest []float64
	b.ResetTimer()
	for it := range b.N {
		// Every other iteration runs the rounds in reverse order, so that a
		// load that rises or falls during an iteration (other builds on the
		// same cores) biases the ratios both ways.
		var sp [4]span
		do := []func() span{
			func() span { return round("bare") },
			func() span { return round("admission-mtls") },
			func() span { return round("admission-dpop") },
			verifyRound,
		}
		for k := range do {
			if it%2 == 1 {
				k = len(do) - 1 - k
			}
			sp[k] = do[k]()
		}
		bare, m, d, v := sp[0].wall, sp[1].wall, sp[2].wall, sp[3].wall
		rate = append(rate, perRound/bare.Seconds())
		mtls = append(mtls, float64(m)/float64(bare))
		dpop = append(dpop, float64(d)/float64(bare))
		verify = append(verify, float64(v)/float64(bare))
		rest = append(rest, float64(d-v)/float64(bare))
		cpuMTLS = append(cpuMTLS, float64(sp[1].cpu)/float64(sp[0].cpu))
		cpuDPoP = append(cpuDPoP, float64(sp[2].cpu)/float64(sp[0].cpu))
		cpuRest = append(cpuRest, float64(sp[2].cpu-sp[3].cpu)/float64(sp[0].cpu))
	}
	b.ReportMetric(median(rate), "bare-attestations/s")
	b.ReportMetric(median(mtls), "mtls/bare")
	b.ReportMetric(median(dpop), "dpop/bare")
	b.ReportMetric(median(verify), "dpop-verify/bare")
	b.ReportMetric(median(rest), "dpop-rest/bare")
	b.ReportMetric(median(cpuMTLS), "cpu-mtls/bare")
	b.ReportMetric(median(cpuDPoP), "cpu-dpop/bare")
	b.ReportMetric(median(cpuRest), "cpu-dpop-rest/bare")
}

// span is what a round took.
type span struct{ wall, cpu time.Duration }

// cpuTime is the CPU time (user and system) the process used so far: the
// rounds' CPU ratios are what admission costs in work, whatever else runs on
// the machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// verifyProof does what authn does with each DPoP proof before its claims
// are compared with the request: parse, verify the signature with the
// header's jwk, decode the claims, take the key's RFC 7638 thumbprint.
func verifyProof(raw string) error {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return err
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	if jwk == nil {
		return errors.New("DPoP proof has no jwk")
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return err
	}
	var claims struct {
		JTI string `json:"jti"`
		HTM string `json:"htm"`
		HTU string `json:"htu"`
		IAT int64  `json:"iat"`
		ATH string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	_, err = jwk.Thumbprint(crypto.SHA256)
	return err
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
