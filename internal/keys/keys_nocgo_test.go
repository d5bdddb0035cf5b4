//go:build !cgo

package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
)

// TestPKCS11WithoutCgo runs in CGO_ENABLED=0 builds: pkcs11 URIs fail with
// ErrPKCS11Unavailable and a message that says to build with cgo.
func TestPKCS11WithoutCgo(t *testing.T) {
	o := keys.NewOpener(keys.Config{})
	defer o.Close()
	ctx := context.Background()
	const uri = "pkcs11:token=stellad;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin"
	_, errOpen := o.Open(ctx, uri)
	_, errGen := o.Generate(ctx, uri)
	_, errList := o.List(ctx, "pkcs11:token=stellad")
	for _, err := range []error{errOpen, errGen, errList} {
		if !errors.Is(err, keys.ErrPKCS11Unavailable) || !strings.Contains(err.Error(), "cgo") {
			t.Errorf("error %v; want ErrPKCS11Unavailable saying to build with cgo", err)
		}
	}
}

func benchSoftHSM(b *testing.B) { b.Skip("PKCS#11 needs cgo") }

func softhsmKey(b *testing.B) keys.Key { return nil }
