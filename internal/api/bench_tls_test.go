package api_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/klog/v2"
)

// BenchmarkAdmissionCostTLS is BenchmarkAdmissionCost with each request
// arriving the way it does in production: over TLS 1.3 on 127.0.0.1 from a
// client that presents a certificate, HTTP/1.1 keep-alive, 64 clients. Bare
// and admitted rounds use the same transport (the bare server asks for the
// same client certificate and ignores it), so mtls/bare prices admission
// against a whole signing request, transport included. The clients run in
// the benchmark's process, on the same two cores, so the CPU ratios include
// their work too; the wall ratios are the ones to read. Each mode has warm
// connections before the first timed round. Run it with -benchtime 7x or more.
func BenchmarkAdmissionCostTLS(b *testing.B) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	const perRound, callers = 3000, 64
	modes := []string{"bare", "admission-mtls", "admission-dpop"}
	type target struct {
		env    *benchEnv
		url    string
		client *http.Client
	}
	targets := map[string]*target{}
	for _, mode := range modes {
		env := newBenchEnv(b, mode != "bare")
		if mode == "bare" {
			_, env.tlsCert = selfSigned(b)
		}
		ts := httptest.NewUnstartedServer(env.srv)
		ts.TLS = &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAnyClientCert}
		ts.StartTLS()
		b.Cleanup(ts.Close)
		tr := ts.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{env.tlsCert}
		tr.TLSClientConfig.MinVersion = tls.VersionTLS13
		tr.MaxIdleConnsPerHost = callers
		tr.MaxConnsPerHost = callers
		targets[mode] = &target{env: env, url: ts.URL + "/api/v1/signer/sign/dsse", client: &http.Client{Transport: tr, Timeout: time.Minute}}
	}
	// requests builds n client requests for mode. The Host header is the one
	// the proofs name (https://stellad.example/...), whatever address the
	// test server listens on.
	requests := func(mode string, n, offset int) []*http.Request {
		t := targets[mode]
		out := make([]*http.Request, n)
		for i := range out {
			j := offset + i
			body := []byte(fmt.Sprintf(`{"subjects":[{"name":"a%d","digest":{"sha256":"%064x"}}],"predicateType":"https://example.com/bench/v1","predicate":{"i":%d}}`, j, j, j))
			r, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			r.Host = "stellad.example"
			r.Header.Set("Content-Type", "application/json")
			switch mode {
			case "admission-mtls":
				r.Header.Set("Authorization", "Bearer "+t.env.mtlsT)
			case "admission-dpop":
				r.Header.Set("Authorization", "DPoP "+t.env.dpopT)
				r.Header.Set("DPoP", t.env.dpop.Proof(b, http.MethodPost, "https://stellad.example/api/v1/signer/sign/dsse", t.env.dpopT))
			}
			out[i] = r
		}
		return out
	}
	offset := 0
	round := func(mode string) span {
		reqs := requests(mode, perRound, offset)
		offset += perRound
		c := targets[mode].client
		var n atomic.Int64
		var wg sync.WaitGroup
		c0 := cpuTime(b)
		start := time.Now()
		for range callers {
			wg.Go(func() {
				for {
					i := n.Add(1) - 1
					if i >= perRound {
						return
					}
					resp, err := c.Do(reqs[i])
					if err != nil {
						b.Error(err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("%s: status %d: %s", mode, resp.StatusCode, body)
						return
					}
				}
			})
		}
		wg.Wait()
		return span{wall: time.Since(start), cpu: cpuTime(b) - c0}
	}
	for _, mode := range modes {
		round(mode) // warm connections, caches and the token cache
	}
	var mtls, dpop, rate, cpuMTLS, cpuDPoP []float64
	b.ResetTimer()
	for it := range b.N {
		var sp [3]span
		for k := range modes {
			if it%2 == 1 {
				k = len(modes) - 1 - k
			}
			sp[k] = round(modes[k])
		}
		rate = append(rate, perRound/sp[0].wall.Seconds())
		mtls = append(mtls, float64(sp[1].wall)/float64(sp[0].wall))
		dpop = append(dpop, float64(sp[2].wall)/float64(sp[0].wall))
		cpuMTLS = append(cpuMTLS, float64(sp[1].cpu)/float64(sp[0].cpu))
		cpuDPoP = append(cpuDPoP, float64(sp[2].cpu)/float64(sp[0].cpu))
	}
	b.ReportMetric(median(rate), "bare-attestations/s")
	b.ReportMetric(median(mtls), "mtls/bare")
	b.ReportMetric(median(dpop), "dpop/bare")
	b.ReportMetric(median(cpuMTLS), "cpu-mtls/bare")
	b.ReportMetric(median(cpuDPoP), "cpu-dpop/bare")
}
