package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stellaops/stellad/internal/authn"
	"github.com/stellaops/stellad/internal/authn/authntest"
	"github.com/stellaops/stellad/internal/store/storetest"
)

func jwks(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewRefusesBadConfig(t *testing.T) {
	db := storetest.Open(t, authn.Migrations()...)
	auth := authntest.NewAuthority(t, issuerURL)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := authn.Issuer{URL: issuerURL, JWKS: auth.JWKS()}
	tests := []struct {
		name    string
		cfg     authn.Config
		wantErr string
	}{
		{"no issuers", authn.Config{DB: db}, "Issuers is empty"},
		{"no DB", authn.Config{Issuers: []authn.Issuer{good}}, "DB is nil"},
		{"empty URL", authn.Config{DB: db, Issuers: []authn.Issuer{{JWKS: auth.JWKS()}}}, "empty URL"},
		{"issuer twice", authn.Config{DB: db, Issuers: []authn.Issuer{good, good}}, "twice"},
		{"not JSON", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: []byte("{")}}}, "parsing JWKS"},
		{"no keys", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: []byte(`{"keys":[]}`)}}}, "no signing keys"},
		{"private key", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: ec, KeyID: "k"})}}}, "not a public key"},
		{"symmetric key", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "k"})}}}, "not a public key"},
		{"no kid", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: ec.Public()})}}}, "no kid"},
		{"duplicate kid", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: ec.Public(), KeyID: "k"}, jose.JSONWebKey{Key: ec.Public(), KeyID: "k"})}}}, "twice"},
		{"P-384", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: p384.Public(), KeyID: "k"})}}}, "P-384"},
		{"RSA 1024", authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: jwks(t, jose.JSONWebKey{Key: small.Public(), KeyID: "k"})}}}, "too small"},
		{"negative skew", authn.Config{DB: db, Issuers: []authn.Issuer{good}, ClockSkew: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authn.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	// Encryption keys are ignored, not refused.
	mixed := jwks(t, jose.JSONWebKey{Key: ec.Public(), KeyID: "sig"}, jose.JSONWebKey{Key: p384.Public(), KeyID: "enc", Use: "enc"})
	if _, err := authn.New(context.Background(), authn.Config{DB: db, Issuers: []authn.Issuer{{URL: issuerURL, JWKS: mixed}}}); err != nil {
		t.Fatalf("JWKS with an enc key: %v", err)
	}
}

func TestErrorIs(t *testing.T) {
	err := error(&authn.Error{Code: authn.CodeExpired, Msg: "token expired at x"})
	if !errors.Is(err, &authn.Error{Code: authn.CodeExpired}) {
		t.Error("errors.Is with the same code is false")
	}
	if errors.Is(err, &authn.Error{Code: authn.CodeMissing}) {
		t.Error("errors.Is with another code is true")
	}
	if got := err.Error(); got != "auth_expired: token expired at x" {
		t.Errorf("Error() = %q", got)
	}
}

func TestPrincipal(t *testing.T) {
	p := authn.Principal{Tenant: "tenant-a", Scopes: []string{"signer.sign", "attestor.verify"}}
	if !p.HasScope("signer.sign") || p.HasScope("stellad.admin") || p.HasScope("signer") {
		t.Error("HasScope")
	}
	if err := p.CheckTenant("tenant-a"); err != nil {
		t.Errorf("own tenant: %v", err)
	}
	if err := p.CheckTenant("tenant-b"); !errors.Is(err, &authn.Error{Code: authn.CodeTenantForbidden}) {
		t.Errorf("other tenant: %v", err)
	}
	admin := authn.Principal{Scopes: []string{authn.ScopeAdmin}}
	if err := admin.CheckTenant("tenant-b"); err != nil {
		t.Errorf("admin: %v", err)
	}
}

func TestUnixPrincipal(t *testing.T) {
	const group = 990
	tests := []struct {
		name     string
		uid, gid int
		want     string
	}{
		{"in the group", 1000, group, ""},
		{"root", 0, 0, ""},
		{"other group", 1000, 1000, authn.CodeInsufficientScope},
		{"negative", -1, group, authn.CodeInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := authn.UnixPrincipal(tt.uid, tt.gid, group)
			if tt.want != "" {
				if !errors.Is(err, &authn.Error{Code: tt.want}) {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil || p.Binding != authn.BindingUnix || !p.HasScope(authn.ScopeAdmin) || p.Tenant != "" || p.Subject == "" {
				t.Fatalf("got %+v, %v", p, err)
			}
		})
	}
}

// TestPeerCredentials reads the credentials of a real unix socket peer:
// this very process.
func TestPeerCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stellad.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-done
	if server == nil {
		t.FailNow()
	}
	defer server.Close()
	uid, gid, pid, err := authn.PeerCredentials(server)
	if err != nil {
		t.Fatal(err)
	}
	if uid != os.Getuid() || gid != os.Getgid() || pid != os.Getpid() {
		t.Fatalf("got uid %d gid %d pid %d, want %d %d %d", uid, gid, pid, os.Getuid(), os.Getgid(), os.Getpid())
	}
	// The peer's supplementary groups are this process's.
	groups, err := authn.PeerGroups(pid)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(groups)
	slices.Sort(want)
	if !slices.Equal(groups, want) {
		t.Fatalf("PeerGroups = %v, want %v", groups, want)
	}
	if _, err := authn.PeerGroups(-1); err == nil {
		t.Fatal("PeerGroups of pid -1 succeeded")
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	c, err := net.Dial("tcp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, _, err := authn.PeerCredentials(c); err == nil {
		t.Fatal("PeerCredentials on a TCP connection succeeded")
	}
}
