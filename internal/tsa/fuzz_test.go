package tsa_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"math/big"
	"testing"

	"github.com/digitorus/timestamp"

	"github.com/stellaops/stellad/internal/tsa"
)

// FuzzRespond feeds arbitrary queries to Respond: it never panics, always
// returns a bounded DER TimeStampResp, and either grants a token that parses
// and echoes the query's digest and nonce, or rejects with a *RejectError
// whose failure info is the one in the answer.
func FuzzRespond(f *testing.F) {
	for _, opts := range []*timestamp.RequestOptions{
		nil,
		{Hash: crypto.SHA384, Certificates: true, Nonce: big.NewInt(42)},
		{Hash: crypto.SHA512, TSAPolicyOID: tsa.DefaultPolicy},
		{Hash: crypto.SHA1},
	} {
		q, err := timestamp.CreateRequest(bytes.NewReader([]byte("seed")), opts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(q)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte("not a query"))

	fx := newFixture(f, nil, nil)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, query []byte) {
		resp, err := fx.tsa.Respond(ctx, query)
		if len(resp) == 0 {
			t.Fatalf("no answer (err %v)", err)
		}
		if len(resp) > 2*tsa.MaxQuerySize+4096 {
			t.Fatalf("answer of %d bytes for a query of %d", len(resp), len(query))
		}
		if err != nil {
			var rej *tsa.RejectError
			if !errors.As(err, &rej) {
				t.Fatalf("error %v is not a *RejectError", err)
			}
			status, bits, _ := statusOf(t, resp)
			if status != 2 || len(bits) != 1 || bits[0] != int(rej.Info) {
				t.Fatalf("answer status %d bits %v for %v", status, bits, rej)
			}
			return
		}
		ts, perr := timestamp.ParseResponse(resp)
		if perr != nil {
			t.Fatalf("granted answer does not parse: %v", perr)
		}
		req, perr := timestamp.ParseRequest(query)
		if perr != nil {
			return // accepted by us, stricter than digitorus in other ways
		}
		if !bytes.Equal(ts.HashedMessage, req.HashedMessage) || ts.HashAlgorithm != req.HashAlgorithm {
			t.Fatalf("token does not echo the digest")
		}
		if (req.Nonce == nil) != (ts.Nonce == nil) || (req.Nonce != nil && req.Nonce.Cmp(ts.Nonce) != 0) {
			t.Fatalf("nonce %v echoed as %v", req.Nonce, ts.Nonce)
		}
	})
}
