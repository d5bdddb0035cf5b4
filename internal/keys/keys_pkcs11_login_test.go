//go:build cgo

package keys_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/pkcs11"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestSoftHSMWrongPINSecondOpener checks that a second Opener in the same
// process cannot use a token with a wrong PIN, although PKCS#11 keeps the
// process logged in from the first Opener's login.
func TestSoftHSMWrongPINSecondOpener(t *testing.T) {
	tok := softhsmtest.NewToken(t, "twice")
	bad := filepath.Join(t.TempDir(), "bad.pin")
	if err := os.WriteFile(bad, []byte("9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o1 := keys.NewOpener(keys.Config{})
	defer o1.Close()
	if _, err := o1.Generate(ctx, tok.URI("k")); err != nil {
		t.Fatal(err)
	}
	o2 := keys.NewOpener(keys.Config{})
	defer o2.Close()
	badURI := (&pkcs11.URI{Token: tok.Label, Object: "k", ModulePath: tok.ModulePath, PINSource: bad}).String()
	if _, err := o2.Open(ctx, badURI); err == nil || !strings.Contains(err.Error(), `PIN for token "twice" is incorrect`) {
		t.Fatalf("second Opener with a wrong PIN: %v; want an incorrect-PIN error", err)
	}
	if _, err := o2.Open(ctx, tok.URI("k")); err != nil {
		t.Fatalf("second Opener with the right PIN: %v", err)
	}
}
