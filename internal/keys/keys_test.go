package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/keystest"
)

func fileBackend(t *testing.T) keystest.Backend {
	o := keys.NewOpener(keys.Config{})
	t.Cleanup(func() { o.Close() })
	dir := filepath.Join(t.TempDir(), "keys")
	var n atomic.Int64
	writeKey := func(t *testing.T, mode os.FileMode) string {
		uri := "file:" + filepath.Join(dir, "loose.pem")
		if _, err := o.Generate(context.Background(), uri); err != nil && !errors.Is(err, keys.ErrExists) {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "loose.pem"), mode); err != nil {
			t.Fatal(err)
		}
		return uri
	}
	return keystest.Backend{
		Open:     o.Open,
		Generate: o.Generate,
		NewURI: func(t *testing.T) string {
			return "file:" + filepath.Join(dir, fmt.Sprintf("k%d.pem", n.Add(1)))
		},
		Broken: []keystest.Broken{
			{
				Name: "ModeGroupReadable",
				URI:  func(t *testing.T) string { return writeKey(t, 0o640) },
				Want: []string{filepath.Join(dir, "loose.pem"), "has mode 0640; want 0600 or stricter"},
			},
			{
				Name: "ModeWorldReadable",
				URI:  func(t *testing.T) string { return writeKey(t, 0o644) },
				Want: []string{filepath.Join(dir, "loose.pem"), "has mode 0644; want 0600 or stricter"},
			},
			{
				Name:    "MissingFile",
				URI:     func(t *testing.T) string { return "file:" + filepath.Join(dir, "nope.pem") },
				Want:    []string{filepath.Join(dir, "nope.pem")},
				WantErr: keys.ErrNotFound,
			},
			{
				Name: "RSAKey",
				URI: func(t *testing.T) string {
					k, err := rsa.GenerateKey(rand.Reader, 2048)
					if err != nil {
						t.Fatal(err)
					}
					return writePKCS8(t, "rsa.pem", k)
				},
				Want: []string{"rsa.pem", "*rsa.PrivateKey; want ECDSA P-256"},
			},
			{
				Name: "P384Key",
				URI: func(t *testing.T) string {
					k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
					if err != nil {
						t.Fatal(err)
					}
					return writePKCS8(t, "p384.pem", k)
				},
				Want: []string{"p384.pem", "ECDSA P-384; want ECDSA P-256"},
			},
			{
				Name: "SEC1Key",
				URI: func(t *testing.T) string {
					k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
					der, _ := x509.MarshalECPrivateKey(k)
					p := filepath.Join(t.TempDir(), "sec1.pem")
					os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
					return "file:" + p
				},
				Want: []string{"sec1.pem", `"EC PRIVATE KEY"; want "PRIVATE KEY"`},
			},
		},
	}
}

func TestConformanceFile(t *testing.T) {
	keystest.Run(t, fileBackend(t))
}

func TestOpenerSchemes(t *testing.T) {
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	ctx := context.Background()
	tests := []struct {
		name string
		uri  string
		want string
	}{
		{"NoScheme", "/etc/key.pem", "no scheme"},
		{"UnknownScheme", "awskms:///alias/x", `scheme "awskms" is not supported`},
		{"FileHost", "file://example.com/k.pem", "names a host"},
		{"FileEmpty", "file:", "has no path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []func(context.Context, string) error{
				func(ctx context.Context, u string) error { _, err := o.Open(ctx, u); return err },
				func(ctx context.Context, u string) error { _, err := o.Generate(ctx, u); return err },
				func(ctx context.Context, u string) error { _, err := o.List(ctx, u); return err },
			} {
				err := op(ctx, tc.uri)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v; want it to contain %q", err, tc.want)
				}
			}
		})
	}
}

func TestListFileDir(t *testing.T) {
	ctx := context.Background()
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	dir := filepath.Join(t.TempDir(), "keys")
	var want []string
	for _, name := range []string{"b.pem", "a.pem"} {
		k, err := o.Generate(ctx, "file:"+filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{k.URI()}, want...)
	}
	// Not keys: skipped.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not pem"), 0o600)
	infos, err := o.List(ctx, "file:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("List = %+v; want 2 keys", infos)
	}
	for i, info := range infos {
		if info.URI != want[i] || info.Algorithm != "ECDSA P-256" || len(info.KeyID) != 64 {
			t.Errorf("info[%d] = %+v; want URI %s, ECDSA P-256, 64 hex digits", i, info, want[i])
		}
		if _, err := o.Open(ctx, info.URI); err != nil {
			t.Errorf("Open(%s): %v", info.URI, err)
		}
	}
	if _, err := o.List(ctx, "file:"+filepath.Join(dir, "missing")); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("List of a missing directory: %v; want ErrNotFound", err)
	}
}

func TestGenerateFileModes(t *testing.T) {
	ctx := context.Background()
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	dir := filepath.Join(t.TempDir(), "a", "b")
	p := filepath.Join(dir, "k.pem")
	if _, err := o.Generate(ctx, "file:"+p); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{p: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %04o; want %04o", path, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Generate; want only the key (no temporary files)", len(entries))
	}
}

// writePKCS8 writes k as a 0600 PKCS#8 PEM file in a fresh directory.
func writePKCS8(t *testing.T, name string, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + p
}
