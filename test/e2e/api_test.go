package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/kit/dsse"
	"github.com/stellaops/stellad/kit/verify"
)

// TestSubmitSignedElsewhere logs an envelope signed by a CI key that the
// operator trusts, refuses one signed by an unknown key, and answers a
// resubmission with the same entry.
func TestSubmitSignedElsewhere(t *testing.T) {
	dataDir := t.TempDir()
	ciKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(ciKey.Public())
	if err := os.MkdirAll(filepath.Join(dataDir, "trusted-keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dataDir, "trusted-keys", "ci.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	d := startDaemon(t, dataDir, nil)

	artifact := []byte("built by CI\n")
	digest := sha256.Sum256(artifact)
	stmt, err := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "ci.bin", Digest: map[string]string{"sha256": fmt.Sprintf("%x", digest)}}},
		testPredicateType, json.RawMessage(`{"builder":"ci"}`))
	if err != nil {
		t.Fatal(err)
	}
	env, err := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: ciKey})
	if err != nil {
		t.Fatal(err)
	}
	envJSON, _ := env.Marshal()

	status, body := post(t, d.url+"/api/v1/rekor/entries", envJSON)
	if status != http.StatusCreated {
		t.Fatalf("submit: %d %s", status, body)
	}
	var er apitype.EntryResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	trustedRoot := getBytes(t, d.url+"/api/v1/trust/root")
	if _, err := verify.Verify(er.Bundle, verify.Options{TrustedRoot: trustedRoot, Key: ciKey.Public(), ArtifactDigest: digest[:]}); err != nil {
		t.Fatalf("bundle of the submitted envelope does not verify: %v", err)
	}
	// Resubmission: the same entry, not a second leaf.
	status, body = post(t, d.url+"/api/v1/rekor/entries", envJSON)
	var again apitype.EntryResponse
	_ = json.Unmarshal(body, &again)
	if status != http.StatusCreated || again.UUID != er.UUID || again.Index != er.Index {
		t.Fatalf("resubmission: %d uuid %s index %d, want the first entry %s index %d", status, again.UUID, again.Index, er.UUID, er.Index)
	}

	// Two trusted signatures (the CI key and a second trusted key) in one
	// request: two entries, and the request's one DPoP proof recorded once.
	second, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der2, _ := x509.MarshalPKIXPublicKey(second.Public())
	writeFile(t, filepath.Join(dataDir, "trusted-keys", "second.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der2}))
	d.stop()
	d.start()
	stmt2, _ := dsse.NewStatement([]dsse.ResourceDescriptor{{Name: "ci2.bin", Digest: map[string]string{"sha256": fmt.Sprintf("%x", sha256.Sum256([]byte("two")))}}},
		testPredicateType, json.RawMessage(`{"builder":"ci"}`))
	multi, _ := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt2, dsse.KeySigner{Signer: ciKey}, dsse.KeySigner{Signer: second})
	multiJSON, _ := multi.Marshal()
	status, body = post(t, d.url+"/api/v1/rekor/entries", multiJSON)
	var both apitype.EntryResponse
	if err := json.Unmarshal(body, &both); status != http.StatusCreated || err != nil || len(both.Entries) != 2 {
		t.Fatalf("submit with two trusted signatures: %d %s", status, body)
	}

	// A key nobody trusts.
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	env2, _ := dsse.Sign(rand.Reader, dsse.PayloadTypeInToto, stmt, dsse.KeySigner{Signer: stranger})
	env2JSON, _ := env2.Marshal()
	status, body = post(t, d.url+"/api/v1/rekor/entries", env2JSON)
	wantError(t, status, body, http.StatusUnprocessableEntity, apitype.CodeUntrustedSignature)
}

// TestAPIErrors checks that bad requests get the right status, a stable code,
// a message naming the problem and the request id.
func TestAPIErrors(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	tests := []struct {
		name       string
		path, body string
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{"not JSON", "/api/v1/signer/sign/dsse", `{"subjects":`, 400, apitype.CodeBadRequest, "decoding request"},
		{"unknown field", "/api/v1/signer/sign/dsse", `{"subjectz":[]}`, 400, apitype.CodeBadRequest, "subjectz"},
		{"no subjects", "/api/v1/signer/sign/dsse", `{"predicateType":"https://x.example/p"}`, 400, apitype.CodeBadRequest, "subject"},
		{"bad digest", "/api/v1/signer/sign/dsse", `{"subjects":[{"name":"a","digest":{"sha256":"zz"}}],"predicateType":"https://x.example/p"}`, 400, apitype.CodeInvalidStatement, "sha256"},
		{"bad statement type", "/api/v1/signer/sign/dsse", `{"statement":{"_type":"nope","subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("a", 64) + `"}}],"predicateType":"https://x.example/p"}}`, 400, apitype.CodeInvalidStatement, "_type"},
		{"envelope not JSON", "/api/v1/rekor/entries", `[]`, 400, apitype.CodeInvalidEnvelope, ""},
		{"too large", "/api/v1/signer/sign/dsse", `{"predicate":"` + strings.Repeat("x", 2<<20) + `"}`, 413, apitype.CodePayloadTooLarge, "bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, d.url+tc.path, []byte(tc.body))
			e := wantError(t, status, body, tc.wantStatus, tc.wantCode)
			if !strings.Contains(e.Message, tc.wantInMsg) {
				t.Errorf("message %q does not mention %q", e.Message, tc.wantInMsg)
			}
		})
	}
	for _, path := range []string{
		"/api/v1/rekor/entries/" + strings.Repeat("ab", 32),
		"/api/v1/log/proof/consistency?from=1&to=99999", // beyond the log
	} {
		resp, err := d.devClient(t).Get(d.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp.StatusCode, b, http.StatusNotFound, apitype.CodeNotFound)
	}
}

func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "e2e-test-1")
	resp, err := httpClientFor(t, url).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func wantError(t *testing.T, status int, body []byte, wantStatus int, wantCode string) apitype.Error {
	t.Helper()
	var e apitype.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d, body is not an error object: %s", status, body)
	}
	if status != wantStatus || e.Code != wantCode {
		t.Fatalf("got %d %q (%s), want %d %q", status, e.Code, e.Message, wantStatus, wantCode)
	}
	if e.RequestID != "e2e-test-1" && e.RequestID == "" {
		t.Errorf("error has no request id: %s", body)
	}
	return e
}
