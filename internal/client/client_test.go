package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/internal/client"
)

// fakeDaemon answers every route with fixed apitype values and records the
// last request.
type fakeDaemon struct {
	lastMethod, lastPath, lastQuery, lastBody, lastCT string
}

func (d *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.lastMethod, d.lastPath, d.lastQuery, d.lastBody, d.lastCT = r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), r.Header.Get("Content-Type")
	write := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	p := strings.TrimPrefix(r.URL.Path, "/prefix")
	switch {
	case p == "/api/v1/signer/sign/dsse" && r.Method == http.MethodPost:
		write(apitype.SignResponse{UUID: "ab12", LogIndex: 7, Bundle: json.RawMessage(`{"mediaType":"x"}`)})
	case p == "/api/v1/rekor/entries" && r.Method == http.MethodPost:
		write(apitype.EntryResponse{UUID: "cd34", Index: 8, Proof: apitype.InclusionProof{LogIndex: 8, TreeSize: 9}})
	case p == "/api/v1/rekor/entries" && r.Method == http.MethodGet:
		n := uint64(20)
		write(apitype.EntryList{Entries: []apitype.EntrySummary{{UUID: "ef56", Index: 3}}, Next: &n})
	case p == "/api/v1/rekor/entries/missing":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		write(apitype.Error{Code: apitype.CodeNotFound, Message: "no entry missing", RequestID: "req-1"})
	case strings.HasPrefix(p, "/api/v1/rekor/entries/"):
		write(apitype.EntryResponse{UUID: strings.TrimPrefix(p, "/api/v1/rekor/entries/"), Index: 1})
	case p == "/api/v1/log/status":
		write(apitype.LogStatus{Origin: "log.test", TreeSize: 42, RootHash: []byte{1, 2}, Checkpoint: "log.test\n42\nAQI=\n"})
	case p == "/api/v1/log/proof/consistency":
		write(apitype.ConsistencyProof{From: 1, To: 2, Hashes: [][]byte{{3}}})
	case p == "/api/v1/keys":
		write(apitype.KeyList{Keys: []apitype.Key{{Purpose: "dsse", URI: "file:/k", KeyID: "00"}}})
	case p == "/api/v1/trust/root":
		_, _ = io.WriteString(w, `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": []}`)
	case p == "/api/v1/system":
		write(apitype.SystemStatus{Version: "v1", PID: 9, PeakRSSBytes: 1 << 20})
	case p == "/healthz":
		_, _ = io.WriteString(w, "ok")
	case p == "/boom":
		http.Error(w, "gateway exploded", http.StatusBadGateway)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func newClient(t *testing.T, d *fakeDaemon, prefix string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL+prefix, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoutes(t *testing.T) {
	for _, prefix := range []string{"", "/prefix/"} {
		d := &fakeDaemon{}
		c := newClient(t, d, prefix)
		ctx := context.Background()

		sr, err := c.Sign(ctx, apitype.SignRequest{PredicateType: "p", Predicate: json.RawMessage(`{}`),
			Subjects: []apitype.Subject{{Name: "a", Digest: map[string]string{"sha256": "00"}}}})
		if err != nil || sr.UUID != "ab12" || sr.LogIndex != 7 || string(sr.Bundle) != `{"mediaType":"x"}` {
			t.Fatalf("Sign = %+v, %v", sr, err)
		}
		if d.lastMethod != http.MethodPost || d.lastCT != "application/json" || !strings.Contains(d.lastBody, `"predicateType":"p"`) {
			t.Errorf("sign request: %s %s %q", d.lastMethod, d.lastCT, d.lastBody)
		}

		er, err := c.SubmitEntry(ctx, []byte(`{"payload":""}`))
		if err != nil || er.UUID != "cd34" || er.Proof.TreeSize != 9 || d.lastBody != `{"payload":""}` {
			t.Fatalf("SubmitEntry = %+v, %v (body %q)", er, err, d.lastBody)
		}

		ge, err := c.GetEntry(ctx, "a/b c")
		if err != nil || ge.UUID != "a/b c" || d.lastPath != prefixPath(prefix)+"/api/v1/rekor/entries/a%2Fb%20c" {
			t.Fatalf("GetEntry = %+v, %v (path %s)", ge, err, d.lastPath)
		}

		after := uint64(4)
		el, err := c.ListEntries(ctx, client.ListOptions{After: &after, Limit: 5, PredicateType: "https://x/y", Subject: "sha256:00"})
		if err != nil || len(el.Entries) != 1 || el.Next == nil || *el.Next != 20 {
			t.Fatalf("ListEntries = %+v, %v", el, err)
		}
		if d.lastQuery != "after=4&limit=5&predicateType=https%3A%2F%2Fx%2Fy&subject=sha256%3A00" {
			t.Errorf("list query = %s", d.lastQuery)
		}

		ls, err := c.LogStatus(ctx)
		if err != nil || ls.TreeSize != 42 || ls.Origin != "log.test" {
			t.Fatalf("LogStatus = %+v, %v", ls, err)
		}
		cp, err := c.ConsistencyProof(ctx, 1, 2)
		if err != nil || cp.To != 2 || len(cp.Hashes) != 1 || d.lastQuery != "from=1&to=2" {
			t.Fatalf("ConsistencyProof = %+v, %v (query %s)", cp, err, d.lastQuery)
		}
		kl, err := c.Keys(ctx)
		if err != nil || len(kl.Keys) != 1 || kl.Keys[0].Purpose != "dsse" {
			t.Fatalf("Keys = %+v, %v", kl, err)
		}
		tr, err := c.TrustedRoot(ctx)
		if err != nil || !strings.HasPrefix(string(tr), `{"mediaType"`) || !strings.Contains(string(tr), `"tlogs": []`) {
			t.Fatalf("TrustedRoot = %s, %v (want verbatim)", tr, err)
		}
		ss, err := c.System(ctx)
		if err != nil || ss.PeakRSSBytes != 1<<20 {
			t.Fatalf("System = %+v, %v", ss, err)
		}
		if err := c.Healthz(ctx); err != nil {
			t.Fatalf("Healthz: %v", err)
		}
	}
}

func prefixPath(p string) string { return strings.TrimSuffix(p, "/") }

func TestAPIError(t *testing.T) {
	c := newClient(t, &fakeDaemon{}, "")
	_, err := c.GetEntry(context.Background(), "missing")
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *APIError", err)
	}
	if ae.Status != 404 || ae.Code != apitype.CodeNotFound || ae.Message != "no entry missing" || ae.RequestID != "req-1" {
		t.Errorf("APIError = %+v", ae)
	}
	for _, want := range []string{"404", "not_found", "no entry missing", "req-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if errors.Is(err, client.ErrUnreachable) {
		t.Error("an answer is not unreachable")
	}
}

func TestNonJSONError(t *testing.T) {
	d := &fakeDaemon{}
	srv := httptest.NewServer(d)
	defer srv.Close()
	c, err := client.New(srv.URL+"/boom", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	err = c.Healthz(context.Background()) // /boom/healthz -> 404 with an empty body
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "" || ae.Message != "Not Found" {
		t.Fatalf("empty 404: %v", err)
	}
	c2, _ := client.New(srv.URL, srv.Client())
	_, err = c2.System(context.Background())
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.New("http://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LogStatus(context.Background())
	if !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "http://"+addr+"/api/v1/log/status") {
		t.Fatalf("closed port: %v", err)
	}

	// A server that never answers: the context deadline makes it unreachable.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, _ = client.New(srv.URL, srv.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Keys(ctx); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("timeout: %v", err)
	}
}

func TestBadAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/log/status":
			_, _ = io.WriteString(w, "not json")
		case "/api/v1/trust/root":
			_, _ = io.WriteString(w, "<html>")
		case "/api/v1/system":
			chunk := strings.Repeat("x", 1<<20)
			for i := 0; i <= client.MaxResponseSize>>20; i++ {
				_, _ = io.WriteString(w, chunk)
			}
		}
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, srv.Client())
	ctx := context.Background()
	if _, err := c.LogStatus(ctx); err == nil || !strings.Contains(err.Error(), "/api/v1/log/status") {
		t.Errorf("undecodable answer: %v", err)
	}
	if _, err := c.TrustedRoot(ctx); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("non-JSON trusted root: %v", err)
	}
	if _, err := c.System(ctx); !errors.Is(err, client.ErrResponseTooLarge) {
		t.Errorf("oversized answer: %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"http", "http://127.0.0.1:8080", true},
		{"https with path", "https://stellad.example/base/", true},
		{"no scheme", "127.0.0.1:8080", false},
		{"ftp", "ftp://x", false},
		{"no host", "http://", false},
		{"bad", "http://[::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.New(tt.url, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q) error = %v", tt.url, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.url) {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}
