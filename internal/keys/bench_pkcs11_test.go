//go:build cgo

package keys_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

func benchSoftHSM(*testing.B) {}

// softhsmKey generates a key in a fresh SoftHSM2 token, closed with b.
func softhsmKey(b *testing.B) keys.Key {
	tok := softhsmtest.NewToken(b, "bench")
	o := keys.NewOpener(keys.Config{})
	b.Cleanup(func() { o.Close() })
	k, err := o.Generate(context.Background(), tok.URI("bench"))
	if err != nil {
		b.Fatal(err)
	}
	return k
}
