//go:build cgo

package ctlog_test

import (
	"context"
	"testing"

	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/stellaops/stellad/internal/keys"
	"github.com/stellaops/stellad/internal/keys/pkcs11/softhsmtest"
)

// TestSoftHSMLogKey runs the log with its key in a SoftHSM2 token through internal/keys: the
// SCT and the checkpoint are signed in the HSM and verify with the token's public key.
func TestSoftHSMLogKey(t *testing.T) {
	tok := softhsmtest.NewToken(t, "ctlog")
	o := keys.NewOpener(keys.Config{})
	t.Cleanup(func() { o.Close() })
	key, err := o.Generate(context.Background(), tok.URI("ct-log"))
	if err != nil {
		t.Fatal(err)
	}
	l := openLog(t, t.TempDir(), key)
	defer closeLog(t, l) // before the Opener closes the token
	ca := newCA(t, "HSM test CA")
	is := issueThroughLog(t, l, ca, 42)
	chain := []*ctx509.Certificate{ctParse(t, is.final), ctParse(t, ca.cert.Raw)}
	if err := ctutil.VerifySCT(key.Public(), chain, is.sct, true); err != nil {
		t.Fatalf("HSM-signed SCT does not verify against the final certificate: %v", err)
	}
	srv := newTestServer(t, l)
	waitCheckpoint(t, srv+"/", l, 1)
}
