package file

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
)

func TestPathFromURI(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"Absolute", "file:/var/lib/stellad/keys/a.pem", "/var/lib/stellad/keys/a.pem", ""},
		{"Relative", "file:keys/a.pem", "keys/a.pem", ""},
		{"EmptyAuthority", "file:///etc/a.pem", "/etc/a.pem", ""},
		{"Localhost", "file://localhost/etc/a.pem", "/etc/a.pem", ""},
		{"Host", "file://example.com/a.pem", "", "names a host"},
		{"NoPath", "file:", "", "has no path"},
		{"OtherScheme", "pkcs11:token=x", "", `does not start with "file:"`},
		{"NUL", "file:/a\x00b", "", "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PathFromURI(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("PathFromURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := MarshalPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(p256)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: PEMType, Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})
	tests := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"Good", good, ""},
		{"TrailingNewlines", append(append([]byte{}, good...), "\n\n"...), ""},
		{"Empty", nil, "no PEM block"},
		{"Trailing", append(append([]byte{}, good...), "junk"...), "unexpected data after"},
		{"TwoBlocks", append(append([]byte{}, good...), good...), "unexpected data after"},
		{"Headers", withHeaders, "headers"},
		{"Garbage", pem.EncodeToMemory(&pem.Block{Type: PEMType, Bytes: []byte{1, 2, 3}}), "parsing PKCS#8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !k.Equal(p256) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

// TestGenerateRace checks that of many concurrent Generate calls for one path
// exactly one succeeds and the file holds its key.
func TestGenerateRace(t *testing.T) {
	ctx := context.Background()
	uri := "file:" + filepath.Join(t.TempDir(), "k.pem")
	var mu sync.Mutex
	var won []*Key
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			k, err := Generate(ctx, uri, nil)
			if err != nil {
				if !errors.Is(err, keymeta.ErrExists) {
					t.Errorf("Generate: %v; want success or ErrExists", err)
				}
				return
			}
			mu.Lock()
			won = append(won, k)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d Generate calls succeeded; want 1", len(won))
	}
	k, err := Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if !k.priv.Equal(won[0].priv) {
		t.Fatal("the file holds a different key from the winner's")
	}
	entries, _ := os.ReadDir(filepath.Dir(won[0].Path()))
	if len(entries) != 1 {
		t.Fatalf("%d directory entries; want 1 (temporary files left behind)", len(entries))
	}
}

func TestOpenRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	if _, err := Open(context.Background(), "file:"+dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open(directory): %v; want not a regular file", err)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	uri := "file:" + filepath.Join(t.TempDir(), "k.pem")
	if _, err := Generate(ctx, uri, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Generate: %v", err)
	}
	if _, err := Open(ctx, uri); !errors.Is(err, context.Canceled) {
		t.Errorf("Open: %v", err)
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := MarshalPrivateKey(k)
	f.Add(good)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKey(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to a key that parses to the same key.
		out, err := MarshalPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePrivateKey(out)
		if err != nil || !k2.Equal(k) {
			t.Fatalf("re-encoded key does not round-trip: %v", err)
		}
	})
}
