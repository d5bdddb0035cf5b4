package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/kit/verify"
)

type answered struct {
	uuid   string
	index  uint64
	digest [32]byte
	bundle []byte
}

// TestKillUnderLoadLosesNoAnsweredEntry kills a real stellad with SIGKILL while
// it signs for 32 concurrent clients, restarts it, and checks that every answer
// it gave survived: the entry is fetchable with the same bundle, the bundle
// verifies offline, and the checkpoints from before the crash are consistent
// with the log after it. Three rounds, each bounded in time.
func TestKillUnderLoadLosesNoAnsweredEntry(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, dataDir, nil)
	var all []answered
	for round := 0; round < 3; round++ {
		got := loadUntilKilled(t, d, 32, time.Duration(600+400*round)*time.Millisecond)
		if len(got) == 0 {
			t.Fatalf("round %d: no request was answered before the kill", round)
		}
		all = append(all, got...)
		d.start()
		checkSurvivors(t, d, all)
		t.Logf("round %d: %d answered before SIGKILL, %d checked after restart", round, len(got), len(all))
	}
}

// loadUntilKilled signs from c clients, kills the daemon with SIGKILL after
// the delay while requests are in flight, and returns the answers received.
func loadUntilKilled(t *testing.T, d *daemon, c int, after time.Duration) []answered {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	defer tr.CloseIdleConnections()
	hc := d.devClient(t)
	hc.Transport = withCredentials(t, d, tr)
	hc.Timeout = 30 * time.Second
	var (
		mu   sync.Mutex
		out  []answered
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				digest := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d/%d", d.dataDir, time.Now().UnixNano(), w, i)))
				a, err := signDigest(hc, d.url, digest)
				if err != nil {
					return // the daemon is gone
				}
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(after)
	// The appliance's memory budget under sustained signing: 256 MiB resident.
	var sys apitype.SystemStatus
	getJSON(t, d.url+"/api/v1/system", &sys)
	if sys.PeakRSSBytes == 0 || sys.PeakRSSBytes > 256<<20 {
		t.Errorf("stellad peak RSS under load is %d bytes; the budget is 256 MiB", sys.PeakRSSBytes)
	}
	d.kill()
	close(stop)
	wg.Wait()
	return out
}

func signDigest(hc *http.Client, base string, digest [32]byte) (answered, error) {
	req := apitype.SignRequest{
		Subjects:      []apitype.Subject{{Name: "blob", Digest: map[string]string{"sha256": fmt.Sprintf("%x", digest)}}},
		PredicateType: testPredicateType,
		Predicate:     json.RawMessage(`{"load":true}`),
	}
	body, _ := json.Marshal(req)
	resp, err := hc.Post(base+"/api/v1/signer/sign/dsse", "application/json", bytes.NewReader(body))
	if err != nil {
		return answered{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answered{}, err
	}
	if resp.StatusCode != http.StatusCreated {
		return answered{}, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var sr apitype.SignResponse
	if err := json.Unmarshal(b, &sr); err != nil {
		return answered{}, err
	}
	return answered{uuid: sr.UUID, index: sr.LogIndex, digest: digest, bundle: sr.Bundle}, nil
}

func checkSurvivors(t *testing.T, d *daemon, all []answered) {
	t.Helper()
	trustedRoot := getBytes(t, d.url+"/api/v1/trust/root")
	var keys apitype.KeyList
	getJSON(t, d.url+"/api/v1/keys", &keys)
	var signerKey any
	for _, k := range keys.Keys {
		if k.Purpose == "dsse" {
			blk, _ := pem.Decode([]byte(k.PublicKeyPEM))
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			signerKey = pub
		}
	}
	var st apitype.LogStatus
	getJSON(t, d.url+"/api/v1/log/status", &st)

	// Every answered entry is there, with the same bundle, and verifies offline.
	checkpoints := map[uint64][]byte{} // tree size -> root, from the answers
	for _, a := range all {
		var e apitype.EntryResponse
		getJSON(t, d.url+"/api/v1/rekor/entries/"+a.uuid, &e)
		if e.Index != a.index {
			t.Fatalf("entry %s: index %d after restart, %d when answered", a.uuid, e.Index, a.index)
		}
		if !bytes.Equal(compactJSON(t, e.Bundle), compactJSON(t, a.bundle)) {
			t.Fatalf("entry %s: bundle after restart differs from the one answered", a.uuid)
		}
		res, err := verify.Verify(a.bundle, verify.Options{TrustedRoot: trustedRoot, Key: signerKey, ArtifactDigest: a.digest[:]})
		if err != nil {
			t.Fatalf("entry %s (index %d): answered bundle does not verify after restart: %v", a.uuid, a.index, err)
		}
		checkpoints[res.TreeSize] = res.RootHash
		if a.index >= st.TreeSize {
			t.Fatalf("entry %s: index %d is beyond the log's size %d after restart", a.uuid, a.index, st.TreeSize)
		}
	}
	// Every checkpoint issued before the crash is consistent with the log now.
	for size, root := range checkpoints {
		var cp apitype.ConsistencyProof
		getJSON(t, fmt.Sprintf("%s/api/v1/log/proof/consistency?from=%d&to=%d", d.url, size, st.TreeSize), &cp)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, size, st.TreeSize, cp.Hashes, root, st.RootHash); err != nil {
			t.Fatalf("checkpoint at size %d is not consistent with the log at size %d: %v", size, st.TreeSize, err)
		}
	}
	// And the daemon signs again.
	digest := sha256.Sum256([]byte("after restart " + time.Now().String()))
	if _, err := signDigest(d.devClient(t), d.url, digest); err != nil {
		t.Fatalf("signing after restart: %v", err)
	}
}

func getBytes(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := httpClientFor(t, url).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b
}

func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	return buf.Bytes()
}
