package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
	"github.com/stellaops/stellad/kit/verify"
	"github.com/urfave/cli/v2"
)

// Bounds of the load generator.
const (
	benchMaxRequests      = 10_000_000
	benchMaxConcurrency   = 4096
	benchMaxPredicateSize = 16 << 20
	benchPredicateType    = "https://stellaops.io/bench/v1"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "bounded load generators against a running stellad",
		Subcommands: []*cli.Command{{
			Name:      "sign",
			Usage:     "sign N distinct statements with C concurrent clients and report throughput and latency",
			ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "n", Usage: fmt.Sprintf("number of requests `N` (at most %d)", benchMaxRequests), Value: 1000},
				&cli.IntFlag{Name: "c", Usage: fmt.Sprintf("concurrent clients `C` (at most %d)", benchMaxConcurrency), Value: 16},
				&cli.DurationFlag{Name: "duration", Usage: "stop issuing requests after this long even if N is not reached (0: no limit)"},
				&cli.IntFlag{Name: "predicate-size", Usage: "approximate predicate size in `BYTES`", Value: 256},
				&cli.IntFlag{Name: "verify-sample", Usage: "verify `K` returned bundles offline with kit/verify"},
				&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
			},
			Action: benchSign,
		}},
	}
}

// latencySummary holds latency percentiles in milliseconds.
type latencySummary struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// benchReport is what bench sign prints.
type benchReport struct {
	Server                string         `json:"server"`
	Requests              int            `json:"requests"`
	Concurrency           int            `json:"concurrency"`
	PredicateSize         int            `json:"predicateSize"`
	OK                    int            `json:"ok"`
	Errors                map[string]int `json:"errors"`
	StoppedBy             string         `json:"stoppedBy"` // "count", "duration" or "interrupt"
	Seconds               float64        `json:"seconds"`
	AttestationsPerSecond float64        `json:"attestationsPerSecond"`
	LatencyMs             latencySummary `json:"latencyMs"`
	PeakRSSBeforeBytes    uint64         `json:"daemonPeakRssBytesBefore"`
	PeakRSSAfterBytes     uint64         `json:"daemonPeakRssBytesAfter"`
	RawSignPerSecond      float64        `json:"rawEcdsaP256SignPerSecond"`
	RawSignGoroutines     int            `json:"rawSignGoroutines"`
	Ratio                 float64        `json:"ratioAttestationsToRawSign"`
	VerifySample          int            `json:"verifySample"`
	Verified              int            `json:"verified"`
	VerifyFailures        []string       `json:"verifyFailures,omitempty"`
}

// sample is one returned bundle kept for offline verification.
type sample struct {
	bundle []byte
	digest []byte
}

func benchSign(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	n, conc, size, k := c.Int("n"), c.Int("c"), c.Int("predicate-size"), c.Int("verify-sample")
	switch {
	case n < 1 || n > benchMaxRequests:
		return usageErrorf("-n: %d is outside 1..%d", n, benchMaxRequests)
	case conc < 1 || conc > benchMaxConcurrency:
		return usageErrorf("-c: %d is outside 1..%d", conc, benchMaxConcurrency)
	case size < 0 || size > benchMaxPredicateSize:
		return usageErrorf("--predicate-size: %d is outside 0..%d", size, benchMaxPredicateSize)
	case k < 0 || k > n:
		return usageErrorf("--verify-sample: %d is outside 0..%d (-n)", k, n)
	case c.Duration("duration") < 0:
		return usageErrorf("--duration: %s is negative", c.Duration("duration"))
	}
	conc = min(conc, n)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * conc
	tr.MaxIdleConnsPerHost = conc
	cl, err := daemonClientWith(c, &http.Client{Transport: tr, Timeout: c.Duration("timeout")})
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	ctx := c.Context

	before, err := cl.System(ctx)
	if err != nil {
		return fmt.Errorf("reading daemon figures before the run: %w", err)
	}
	rawRate, rawG := rawSignRate(ctx, time.Second)

	rep := &benchReport{Server: cl.BaseURL(), Requests: n, Concurrency: conc, PredicateSize: size,
		Errors: map[string]int{}, PeakRSSBeforeBytes: before.PeakRSSBytes, RawSignPerSecond: rawRate,
		RawSignGoroutines: rawG, VerifySample: k}
	samples, latencies, err := runSignLoad(ctx, cl, n, conc, size, k, c.Duration("duration"), rep)
	if err != nil {
		return err
	}
	summarize(rep, latencies)

	after, err := cl.System(ctx)
	if err != nil {
		return fmt.Errorf("reading daemon figures after the run: %w", err)
	}
	rep.PeakRSSAfterBytes = after.PeakRSSBytes
	if k > 0 {
		if err := verifySamples(ctx, cl, samples, rep); err != nil {
			return err
		}
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		printBench(c.App.Writer, rep)
	}
	if len(rep.VerifyFailures) > 0 {
		return fmt.Errorf("%w: %d of %d sampled bundles do not verify: %s", errVerifyFailed,
			len(rep.VerifyFailures), len(samples), rep.VerifyFailures[0])
	}
	return nil
}

// runSignLoad sends n sign requests from conc goroutines; it stops issuing
// requests after d (when d > 0) or when ctx ends. It keeps the first k bundles.
func runSignLoad(ctx context.Context, cl *client.Client, n, conc, size, k int, d time.Duration, rep *benchReport) ([]sample, []time.Duration, error) {
	var runID [16]byte
	if _, err := rand.Read(runID[:]); err != nil {
		return nil, nil, fmt.Errorf("reading randomness: %w", err)
	}
	pad := strings.Repeat("x", max(0, size-len(`{"pad":""}`)))
	predicate, err := json.Marshal(map[string]string{"pad": pad})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding predicate: %w", err)
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		samples  []sample
		errs     = map[string]int{}
		all      = make([][]time.Duration, conc)
		wg       sync.WaitGroup
		stopFlag atomic.Bool
	)
	start := time.Now()
	var deadline time.Time
	if d > 0 {
		deadline = start.Add(d)
	}
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, n/conc+1)
			for {
				if ctx.Err() != nil || (d > 0 && time.Now().After(deadline)) {
					stopFlag.Store(true)
					break
				}
				i := next.Add(1) - 1
				if i >= int64(n) {
					break
				}
				var buf [24]byte
				copy(buf[:], runID[:])
				binary.BigEndian.PutUint64(buf[16:], uint64(i))
				digest := sha256.Sum256(buf[:])
				req := apitype.SignRequest{
					Subjects:      []apitype.Subject{{Name: fmt.Sprintf("bench-%d", i), Digest: map[string]string{"sha256": hex.EncodeToString(digest[:])}}},
					PredicateType: benchPredicateType,
					Predicate:     predicate,
				}
				t0 := time.Now()
				resp, err := cl.Sign(ctx, req)
				elapsed := time.Since(t0)
				if err != nil {
					mu.Lock()
					errs[errorClass(err)]++
					mu.Unlock()
					continue
				}
				lat = append(lat, elapsed)
				if k > 0 {
					mu.Lock()
					if len(samples) < k {
						samples = append(samples, sample{bundle: resp.Bundle, digest: digest[:]})
					}
					mu.Unlock()
				}
			}
			all[g] = lat
		}(g)
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	switch {
	case ctx.Err() != nil:
		rep.StoppedBy = "interrupt"
	case stopFlag.Load():
		rep.StoppedBy = "duration"
	default:
		rep.StoppedBy = "count"
	}
	rep.Errors = errs
	latencies := slices.Concat(all...)
	rep.OK = len(latencies)
	if rep.Seconds > 0 {
		rep.AttestationsPerSecond = float64(rep.OK) / rep.Seconds
	}
	if rep.RawSignPerSecond > 0 {
		rep.Ratio = rep.AttestationsPerSecond / rep.RawSignPerSecond
	}
	return samples, latencies, nil
}

// errorClass names an error for the per-code count.
func errorClass(err error) string {
	var api *client.APIError
	switch {
	case errors.As(err, &api) && api.Code != "":
		return api.Code
	case errors.As(err, &api):
		return fmt.Sprintf("http_%d", api.Status)
	case errors.Is(err, client.ErrUnreachable):
		return "unreachable"
	default:
		return "other"
	}
}

// summarize fills the latency percentiles from every sample (nearest rank).
func summarize(rep *benchReport, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		i = max(0, min(i, len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	rep.LatencyMs = latencySummary{P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: pct(1)}
}

// rawSignRate measures ECDSA P-256 signatures per second over SHA-256 digests
// on runtime.NumCPU() goroutines for about d: the machine's signing ceiling.
func rawSignRate(ctx context.Context, d time.Duration) (float64, int) {
	g := runtime.NumCPU()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, g
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			digest := sha256.Sum256([]byte{byte(w)})
			count := int64(0)
			for ctx.Err() == nil && time.Now().Before(stop) {
				for j := 0; j < 64; j++ {
					if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
						return
					}
				}
				count += 64
			}
			total.Add(count)
		}(w)
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds(), g
}

// verifySamples verifies the kept bundles with kit/verify, using the trusted
// root and the dsse keys fetched from the daemon.
func verifySamples(ctx context.Context, cl *client.Client, samples []sample, rep *benchReport) error {
	root, err := cl.TrustedRoot(ctx)
	if err != nil {
		return fmt.Errorf("fetching the trusted root: %w", err)
	}
	kl, err := cl.Keys(ctx)
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	var pubs []any
	for _, k := range kl.Keys {
		if k.Purpose != "dsse" {
			continue
		}
		pub, err := parsePublicKeyPEM("stellad key "+k.KeyID, []byte(k.PublicKeyPEM))
		if err != nil {
			return fmt.Errorf("stellad's key list: %v", err)
		}
		pubs = append(pubs, pub)
	}
	if len(pubs) == 0 {
		return fmt.Errorf("verifying samples: %s lists no dsse key", cl.BaseURL())
	}
	for i, s := range samples {
		var lastErr error
		for _, pub := range pubs {
			_, lastErr = verify.Verify(s.bundle, verify.Options{TrustedRoot: root, Key: pub,
				ArtifactDigest: s.digest, PredicateType: benchPredicateType})
			if lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			rep.VerifyFailures = append(rep.VerifyFailures, fmt.Sprintf("sample %d: %v", i, lastErr))
			continue
		}
		rep.Verified++
	}
	return nil
}

func printBench(w io.Writer, r *benchReport) {
	errTotal := 0
	codes := make([]string, 0, len(r.Errors))
	for code, cnt := range r.Errors {
		errTotal += cnt
		codes = append(codes, fmt.Sprintf("%s=%d", code, cnt))
	}
	sort.Strings(codes)
	fmt.Fprintf(w, "server: %s\n", r.Server)
	fmt.Fprintf(w, "requests: %d asked, %d ok, %d errors, %d clients, predicate %d bytes, stopped by %s after %.2f s\n",
		r.Requests, r.OK, errTotal, r.Concurrency, r.PredicateSize, r.StoppedBy, r.Seconds)
	fmt.Fprintf(w, "attestations/s: %.1f\n", r.AttestationsPerSecond)
	fmt.Fprintf(w, "latency to bundle+proof (ms): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	if len(codes) > 0 {
		fmt.Fprintf(w, "errors by code: %s\n", strings.Join(codes, " "))
	}
	fmt.Fprintf(w, "daemon peak RSS: before %.1f MiB, after %.1f MiB\n",
		float64(r.PeakRSSBeforeBytes)/(1<<20), float64(r.PeakRSSAfterBytes)/(1<<20))
	fmt.Fprintf(w, "raw ECDSA P-256 sign/s (local, %d goroutines): %.0f\n", r.RawSignGoroutines, r.RawSignPerSecond)
	fmt.Fprintf(w, "attestations/s ÷ raw sign/s: %.4f\n", r.Ratio)
	if r.VerifySample > 0 {
		fmt.Fprintf(w, "verified offline: %d of %d sampled bundles\n", r.Verified, r.Verified+len(r.VerifyFailures))
	}
}
