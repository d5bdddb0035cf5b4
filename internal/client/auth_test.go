package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestCredentialsDPoP(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	got := make(chan *http.Request, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	defer srv.Close()
	tr, err := Credentials{Token: "tok.en.x", DPoPKey: key, Now: func() time.Time { return now }}.Transport(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: tr}
	var jtis []string
	for range 2 {
		resp, err := hc.Post(srv.URL+"/api/v1/signer/sign/dsse?x=1", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r := <-got
		if a := r.Header.Get("Authorization"); a != "DPoP tok.en.x" {
			t.Fatalf("Authorization = %q", a)
		}
		proof, err := jwt.ParseSigned(r.Header.Get("DPoP"), []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		h := proof.Headers[0]
		if h.ExtraHeaders["typ"] != "dpop+jwt" || h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
			t.Fatalf("proof header = %+v", h)
		}
		var c dpopClaims
		if err := proof.Claims(h.JSONWebKey.Key, &c); err != nil {
			t.Fatalf("proof does not verify with its jwk: %v", err)
		}
		ath := sha256.Sum256([]byte("tok.en.x"))
		if c.HTM != "POST" || c.HTU != srv.URL+"/api/v1/signer/sign/dsse" || c.IAT != now.Unix() ||
			c.ATH != base64.RawURLEncoding.EncodeToString(ath[:]) || len(c.JTI) != 32 {
			t.Fatalf("proof claims = %+v", c)
		}
		jtis = append(jtis, c.JTI)
	}
	if jtis[0] == jtis[1] {
		t.Error("two requests share a DPoP jti")
	}
}

func TestCredentialsBearerAndRefusals(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	defer srv.Close()
	tr, err := Credentials{Token: "abc"}.Transport(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-got; r.Header.Get("Authorization") != "Bearer abc" || r.Header.Get("DPoP") != "" {
		t.Errorf("headers = %v", r.Header)
	}
	if _, err := (Credentials{Token: "abc\n"}).Transport(nil); err == nil {
		t.Error("a token with a newline was accepted")
	}
}
