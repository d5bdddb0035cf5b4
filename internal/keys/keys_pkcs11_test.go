//go:build cgo

package keys_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/keystest"
	"github.com/stellaops/stellad/internal/keys/pkcs11"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestConformanceSoftHSM runs the conformance suite against a SoftHSM2 token.
// Every token is made before the first Open: SoftHSM2 reads its configuration
// when the module is loaded.
func TestConformanceSoftHSM(t *testing.T) {
	tok := softhsmtest.NewToken(t, "conformance")
	other := softhsmtest.NewToken(t, "wrongpin")
	badPIN := filepath.Join(t.TempDir(), "bad.pin")
	if err := os.WriteFile(badPIN, []byte("9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := keys.NewOpener(keys.Config{})
	t.Cleanup(func() { o.Close() })
	var n atomic.Int64
	withPIN := func(tk *softhsmtest.Token, object, pinFile string) string {
		u := pkcs11.URI{Token: tk.Label, Object: object, ModulePath: tk.ModulePath, PINSource: pinFile}
		return u.String()
	}
	keystest.Run(t, keystest.Backend{
		Open:     o.Open,
		Generate: o.Generate,
		NewURI:   func(t *testing.T) string { return tok.URI(fmt.Sprintf("key-%d", n.Add(1))) },
		Broken: []keystest.Broken{
			{
				Name: "WrongPIN",
				URI:  func(t *testing.T) string { return withPIN(other, "any", badPIN) },
				Want: []string{`PIN for token "wrongpin" is incorrect`},
			},
			{
				Name: "WrongPINForOpenToken",
				URI:  func(t *testing.T) string { return withPIN(tok, "key-1", badPIN) },
				Want: []string{`PIN for token "conformance" is incorrect`},
			},
			{
				Name:    "MissingObject",
				URI:     func(t *testing.T) string { return tok.URI("no-such-key") },
				Want:    []string{`object "no-such-key"`, `token "conformance"`},
				WantErr: keys.ErrNotFound,
			},
			{
				Name: "MissingToken",
				URI: func(t *testing.T) string {
					return (&pkcs11.URI{Token: "no-such-token", Object: "x", ModulePath: tok.ModulePath, PINSource: tok.PINFile}).String()
				},
				Want: []string{`token "no-such-token" not found`, tok.ModulePath},
			},
			{
				Name: "MissingModule",
				URI: func(t *testing.T) string {
					return (&pkcs11.URI{Token: tok.Label, Object: "x", ModulePath: "/nonexistent/libp11.so", PINSource: tok.PINFile}).String()
				},
				Want: []string{"/nonexistent/libp11.so", `token "conformance"`},
			},
			{
				Name: "PINValueRefused",
				URI: func(t *testing.T) string {
					return (&pkcs11.URI{Token: tok.Label, Object: "key-1", ModulePath: tok.ModulePath, PINValue: softhsmtest.PIN}).String()
				},
				Want:    []string{"pin-value is refused", "pin-source"},
				WantErr: pkcs11.ErrInvalidURI,
			},
			{
				Name: "LoosePINFile",
				URI: func(t *testing.T) string {
					p := filepath.Join(t.TempDir(), "loose.pin")
					os.WriteFile(p, []byte(softhsmtest.PIN), 0o644)
					return withPIN(tok, "key-1", p)
				},
				Want: []string{"loose.pin", "mode 0644"},
			},
		},
	})
}

func TestSoftHSMDevelopmentPINValue(t *testing.T) {
	tok := softhsmtest.NewToken(t, "dev")
	ctx := context.Background()
	o := keys.NewOpener(keys.Config{Development: true, DefaultModule: tok.ModulePath})
	defer o.Close()
	uri := "pkcs11:token=dev;object=k?pin-value=" + softhsmtest.PIN
	k, err := o.Generate(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.URI(), "pkcs11:token=dev;object=k"; got != want {
		t.Errorf("URI() = %q; want %q (no pin-value)", got, want)
	}
	if _, err := o.Open(ctx, uri); err != nil {
		t.Fatal(err)
	}
}

func TestSoftHSMListAndAttributes(t *testing.T) {
	tok := softhsmtest.NewToken(t, "list")
	ctx := context.Background()
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	var keysMade []keys.Key
	for _, obj := range []string{"b", "a b;c"} {
		k, err := o.Generate(ctx, tok.URI(obj))
		if err != nil {
			t.Fatal(err)
		}
		keysMade = append(keysMade, k)
	}
	// An explicit id is kept.
	idURI := (&pkcs11.URI{Token: tok.Label, Object: "c", ID: []byte{0xca, 0xfe}, ModulePath: tok.ModulePath, PINSource: tok.PINFile}).String()
	if _, err := o.Generate(ctx, idURI); err != nil {
		t.Fatal(err)
	}
	// The same id under another label is refused.
	dupID := (&pkcs11.URI{Token: tok.Label, Object: "d", ID: []byte{0xca, 0xfe}, ModulePath: tok.ModulePath, PINSource: tok.PINFile}).String()
	if _, err := o.Generate(ctx, dupID); !errors.Is(err, keys.ErrExists) || !strings.Contains(err.Error(), "id %ca%fe") {
		t.Errorf("Generate with a used id: %v; want ErrExists naming the id", err)
	}

	infos, err := o.List(ctx, tok.TokenURI())
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("List = %+v; want 3 keys", infos)
	}
	labels := map[string]bool{}
	for _, info := range infos {
		u, err := pkcs11.ParseURI(info.URI)
		if err != nil {
			t.Fatalf("List URI %q: %v", info.URI, err)
		}
		labels[u.Object] = true
		if u.PINSource != tok.PINFile || u.ModulePath != tok.ModulePath || len(u.ID) == 0 || u.Type != "private" {
			t.Errorf("List URI %q lacks pin-source, module-path, id or type", info.URI)
		}
		k, err := o.Open(ctx, info.URI)
		if err != nil {
			t.Fatalf("Open(%s): %v", info.URI, err)
		}
		kid, _ := keyID(k)
		if info.KeyID != kid || info.Algorithm != "ECDSA P-256" {
			t.Errorf("info %+v; want KeyID %s, ECDSA P-256", info, kid)
		}
		if u.Object == "c" && string(u.ID) != "\xca\xfe" {
			t.Errorf("key c has id %x; want cafe", u.ID)
		}
	}
	for _, l := range []string{"a b;c", "b", "c"} {
		if !labels[l] {
			t.Errorf("List lacks label %q: %+v", l, infos)
		}
	}
	_ = keysMade
}

// TestSoftHSMKeyAttributes checks what the token reports: the private key was
// generated inside it, is sensitive and cannot be extracted.
func TestSoftHSMKeyAttributes(t *testing.T) {
	tok := softhsmtest.NewToken(t, "attrs")
	ctx := context.Background()
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	k, err := o.Generate(ctx, tok.URI("sealed"))
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := k.(*pkcs11.Key).Attributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := pkcs11.Attributes{Label: "sealed", ID: attrs.ID, Token: true, Private: true, Sign: true,
		Sensitive: true, Extractable: false, AlwaysSensitive: true, NeverExtractable: true}
	if !reflect.DeepEqual(*attrs, want) {
		t.Errorf("attributes %+v; want %+v", *attrs, want)
	}
	if len(attrs.ID) != 16 {
		t.Errorf("generated CKA_ID is %d bytes; want 16", len(attrs.ID))
	}
}

func keyID(k keys.Key) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func TestSoftHSMContextCancelled(t *testing.T) {
	tok := softhsmtest.NewToken(t, "cancel")
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	k, err := o.Generate(ctx, tok.URI("k"))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := o.Open(ctx, tok.URI("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v; want context.Canceled", err)
	}
	type contextSigner interface {
		SignContext(context.Context, []byte, crypto.SignerOpts) ([]byte, error)
	}
	if _, err := k.(contextSigner).SignContext(ctx, make([]byte, 32), crypto.SHA256); !errors.Is(err, context.Canceled) {
		t.Errorf("SignContext with a cancelled context: %v; want context.Canceled", err)
	}
}

func TestSoftHSMClose(t *testing.T) {
	tok := softhsmtest.NewToken(t, "close")
	o := keys.NewOpener(keys.Config{})
	k, err := o.Generate(context.Background(), tok.URI("k"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := k.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
		t.Fatal("Sign after Close succeeded")
	}
	if _, err := o.Open(context.Background(), tok.URI("k")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Open after Close: %v; want a closed error", err)
	}
}
