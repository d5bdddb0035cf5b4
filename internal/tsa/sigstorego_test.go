package tsa_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// TestSigstoreGoTrustedRoot lists Chain() in a trusted_root.json
// timestampAuthorities entry, in that order, and has sigstore-go (the
// verifier inside cosign v3) parse it and verify a token for cosign's query.
func TestSigstoreGoTrustedRoot(t *testing.T) {
	f := newFixture(t, nil, nil)
	ca := &prototrustroot.CertificateAuthority{Uri: "http://stellad.test/api/v1/timestamp", CertChain: &protocommon.X509CertificateChain{}}
	for _, c := range f.tsa.Chain() {
		ca.CertChain.Certificates = append(ca.CertChain.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	tsaRoot, err := root.ParseTimestampingAuthority(ca)
	if err != nil {
		t.Fatalf("ParseTimestampingAuthority: %v", err)
	}
	sig := []byte("signature bytes")
	req, err := timestamp.CreateRequest(bytes.NewReader(sig), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.tsa.Respond(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tsaRoot.Verify(resp, sig)
	if err != nil {
		t.Fatalf("sigstore-go Verify: %v", err)
	}
	if !got.Time.Equal(f.now.Truncate(time.Second)) {
		t.Errorf("time %s", got.Time)
	}
	if _, err := tsaRoot.Verify(resp, []byte("other")); err == nil {
		t.Error("verified for another signature")
	}
}
