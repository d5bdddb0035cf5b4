package authn

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
	"time"
)

func TestHTUMatches(t *testing.T) {
	tests := []struct {
		name   string
		htu    string
		target string // request URL (scheme picks r.TLS)
		want   bool
	}{
		{"same", "https://signer.example/api/v1/x", "https://signer.example/api/v1/x", true},
		{"query and fragment ignored", "https://signer.example/api/v1/x?a=1#f", "https://signer.example/api/v1/x?b=2", true},
		{"host case", "https://Signer.EXAMPLE/api/v1/x", "https://signer.example/api/v1/x", true},
		{"scheme case", "HTTPS://signer.example/api/v1/x", "https://signer.example/api/v1/x", true},
		{"default port in htu", "https://signer.example:443/x", "https://signer.example/x", true},
		{"default port in Host", "https://signer.example/x", "https://signer.example:443/x", true},
		{"http default port", "http://127.0.0.1:80/x", "http://127.0.0.1/x", true},
		{"explicit port", "https://signer.example:8443/x", "https://signer.example:8443/x", true},
		{"IPv6", "https://[::1]:8443/x", "https://[::1]:8443/x", true},
		{"IPv6 default port", "https://[::1]/x", "https://[::1]:443/x", true},
		{"empty path", "https://signer.example", "https://signer.example/", true},
		{"other port", "https://signer.example:8443/x", "https://signer.example/x", false},
		{"443 on http", "http://signer.example:443/x", "http://signer.example/x", false},
		{"other scheme", "http://signer.example/x", "https://signer.example/x", false},
		{"other host", "https://evil.example/x", "https://signer.example/x", false},
		{"other path", "https://signer.example/y", "https://signer.example/x", false},
		{"path case", "https://signer.example/X", "https://signer.example/x", false},
		{"relative", "/x", "https://signer.example/x", false},
		{"userinfo", "https://u@signer.example/x", "https://signer.example/x", false},
		{"garbage", "%zz", "https://signer.example/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.target, nil)
			if r.URL.Scheme == "https" {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			if got := htuMatches(tt.htu, r); got != tt.want {
				t.Fatalf("htuMatches(%q, %s) = %v, want %v", tt.htu, tt.target, got, tt.want)
			}
		})
	}
}

func TestReplayCacheBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newReplayCache(2)
	k := func(s string) [32]byte { return replayKey("jkt", s) }
	if err := c.reserve(k("a"), now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := c.reserve(k("b"), now.Add(2*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	err := c.reserve(k("c"), now.Add(time.Minute), now)
	if e, ok := err.(*Error); !ok || e.Code != CodeDPoPInvalid || e.RetryAfter == 0 {
		t.Fatalf("full cache: %v", err)
	}
	// Once "a" has expired the sweep makes room, and "a" may be reused.
	later := now.Add(90 * time.Second)
	if err := c.reserve(k("c"), later.Add(time.Minute), later); err != nil {
		t.Fatal(err)
	}
	if c.len() != 2 {
		t.Fatalf("len %d, want 2", c.len())
	}
	if err := c.reserve(k("b"), later.Add(time.Minute), later); err == nil {
		t.Fatal("unexpired jti reserved twice")
	}
	if replayKey("a", "bc") == replayKey("ab", "c") {
		t.Fatal("replay keys collide across the separator")
	}
}

func TestTokenCacheBounds(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newTokenCache(3)
	for i := range 10 {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(-time.Hour)
		}
		c.put([32]byte{byte(i)}, &verifiedToken{exp: exp}, now, time.Minute)
		if c.len() > 3 {
			t.Fatalf("after %d puts: %d entries", i+1, c.len())
		}
	}
	off := newTokenCache(-1)
	off.put([32]byte{1}, &verifiedToken{exp: now.Add(time.Hour)}, now, 0)
	if off.get([32]byte{1}) != nil {
		t.Fatal("disabled cache returned a token")
	}
}
