package translog

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	f_log "github.com/transparency-dev/formats/log"
)

func TestHandler(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	l := openLog(t, testConfig(dir, k))
	defer closeLog(t, l)
	// 300 leaves: entry bundle 000 and level-0 tile 000 are full, 001 is partial (44).
	appendAll(t, l, "h", 10, 30)
	waitPublished(t, l, 300, k.verifier)

	mux := http.NewServeMux()
	mux.Handle("/api/v2/", http.StripPrefix("/api/v2", l.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	direct := httptest.NewServer(l.Handler())
	defer direct.Close()

	const (
		immutable = "public, max-age=31536000, immutable"
		noCache   = "no-cache"
		octets    = "application/octet-stream"
	)
	tests := []struct {
		name      string
		base      string
		method    string
		path      string
		wantCode  int
		wantType  string
		wantCache string
	}{
		{name: "checkpoint", base: srv.URL, path: "/api/v2/checkpoint", wantCode: 200, wantType: "text/plain; charset=utf-8", wantCache: noCache},
		{name: "checkpoint head", base: srv.URL, method: http.MethodHead, path: "/api/v2/checkpoint", wantCode: 200, wantCache: noCache},
		{name: "full tile", base: srv.URL, path: "/api/v2/tile/0/000", wantCode: 200, wantType: octets, wantCache: immutable},
		{name: "partial tile", base: srv.URL, path: "/api/v2/tile/0/001.p/44", wantCode: 200, wantType: octets, wantCache: noCache},
		{name: "level 1 partial tile", base: srv.URL, path: "/api/v2/tile/1/000.p/1", wantCode: 200, wantType: octets, wantCache: noCache},
		{name: "full bundle", base: srv.URL, path: "/api/v2/tile/entries/000", wantCode: 200, wantType: octets, wantCache: immutable},
		{name: "partial bundle", base: srv.URL, path: "/api/v2/tile/entries/001.p/44", wantCode: 200, wantType: octets, wantCache: noCache},
		{name: "direct checkpoint", base: direct.URL, path: "/checkpoint", wantCode: 200},
		{name: "missing tile", base: srv.URL, path: "/api/v2/tile/0/x001/234", wantCode: 404},
		{name: "missing width", base: srv.URL, path: "/api/v2/tile/0/001.p/45", wantCode: 404},
		{name: "width zero", base: srv.URL, path: "/api/v2/tile/0/000.p/0", wantCode: 404},
		{name: "width 256", base: srv.URL, path: "/api/v2/tile/0/000.p/256", wantCode: 404},
		{name: "level 64", base: srv.URL, path: "/api/v2/tile/64/000", wantCode: 404},
		{name: "leading zero level", base: srv.URL, path: "/api/v2/tile/00/000", wantCode: 404},
		{name: "non-canonical index", base: srv.URL, path: "/api/v2/tile/0/x000/000", wantCode: 404},
		{name: "short index", base: srv.URL, path: "/api/v2/tile/0/0", wantCode: 404},
		{name: "state file", base: direct.URL, path: "/.state/treeState", wantCode: 404},
		{name: "lock file", base: direct.URL, path: "/.translog.lock", wantCode: 404},
		{name: "traversal", base: direct.URL, path: "/tile/0/../../checkpoint", wantCode: 404},
		{name: "encoded traversal", base: direct.URL, path: "/tile/entries/%2e%2e/%2e%2e/.state/treeState", wantCode: 404},
		{name: "tile dir", base: direct.URL, path: "/tile/0", wantCode: 404},
		{name: "root", base: direct.URL, path: "/", wantCode: 404},
		{name: "trailing slash", base: direct.URL, path: "/checkpoint/", wantCode: 404},
		{name: "post", base: direct.URL, method: http.MethodPost, path: "/checkpoint", wantCode: 405},
		{name: "put", base: direct.URL, method: http.MethodPut, path: "/tile/0/000", wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, tt.base, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Set the raw path so the client sends it verbatim (no cleaning of "..").
			req.URL.Opaque = tt.path
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tt.wantCode, body)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			if tt.wantCache != "" && resp.Header.Get("Cache-Control") != tt.wantCache {
				t.Errorf("Cache-Control %q, want %q", resp.Header.Get("Cache-Control"), tt.wantCache)
			}
		})
	}

	// The checkpoint served is Tessera's published note, and the full bundle holds the bytes.
	resp, err := http.Get(srv.URL + "/api/v2/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, _, _, err := f_log.ParseCheckpoint(body, testOrigin, k.verifier); err != nil {
		t.Fatalf("served checkpoint does not verify: %v", err)
	}
	leaf, err := l.ReadLeaf(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(srv.URL + "/api/v2/tile/entries/000")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, leaf) {
		t.Fatal("entry bundle does not contain leaf 5")
	}
}

func TestParseResource(t *testing.T) {
	tests := []struct {
		path    string
		want    resource
		wantErr bool
	}{
		{path: "/checkpoint", want: resource{checkpoint: true}},
		{path: "checkpoint", want: resource{checkpoint: true}},
		{path: "/tile/0/000", want: resource{}},
		{path: "/tile/63/x001/x234/067.p/255", want: resource{level: 63, index: 1234067, width: 255}},
		{path: "/tile/entries/x018/x446/x744/x073/x709/x551/615", want: resource{entries: true, index: 18446744073709551615}},
		{path: "/tile/entries/x018/x446/x744/x073/x709/x551/616", wantErr: true}, // overflows uint64
		{path: "/tile/entries/x001/x000/x000/x000/x000/x000/x000/000", wantErr: true},
		{path: "/tile/0/x000/001", wantErr: true},
		{path: "/tile/0/001.p/007", wantErr: true},
		{path: "/tile/0/001.p/", wantErr: true},
		{path: "/tile/-1/000", wantErr: true},
		{path: "/tile/0/000/", wantErr: true},
		{path: "/tile/entries/000.p/0", wantErr: true},
		{path: "/tile//000", wantErr: true},
		{path: "/tiles/0/000", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.path, "/", "_"), func(t *testing.T) {
			got, err := parseResource(tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseResource(%q): err %v, wantErr %v", tt.path, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("parseResource(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

// FuzzParseResource: request paths are outside input. No panic, and every accepted path is
// canonical: it re-encodes to itself and stays inside the tile tree or is the checkpoint.
func FuzzParseResource(f *testing.F) {
	for _, s := range []string{"/checkpoint", "/tile/0/000", "/tile/1/x001/x234/067.p/8", "/tile/entries/000.p/255", "/tile/0/../x", "/tile/63/x999/999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := parseResource(p)
		if err != nil {
			return
		}
		rel := r.relPath()
		if strings.TrimPrefix(p, "/") != rel {
			t.Fatalf("accepted %q but serves %q", p, rel)
		}
		if strings.Contains(rel, "..") || (rel != "checkpoint" && !strings.HasPrefix(rel, "tile/")) {
			t.Fatalf("accepted %q outside the tile tree", p)
		}
	})
}
