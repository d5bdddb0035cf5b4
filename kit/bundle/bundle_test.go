package bundle

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stellaops/stellad/kit/internal/strictjson"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stellaops/stellad/kit/dsse"
)

func TestNewDSSEGoldenAndParse(t *testing.T) {
	f := fixture(t)
	out, err := NewDSSE(f.env, f.hint, f.entry)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "bundle.golden", out)
	b, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(NewDSSE): %v", err)
	}
	if b.KeyHint != f.hint || len(b.Entries) != 1 || b.Entries[0].Kind != KindHashedRekord || b.Entries[0].Version != VersionHashedRekord {
		t.Fatalf("parsed %+v", b)
	}
	envJSON, _ := f.env.Marshal()
	if !bytes.Equal(b.EnvelopeJSON, envJSON) {
		t.Fatalf("EnvelopeJSON = %s, want %s", b.EnvelopeJSON, envJSON)
	}
	again, err := NewDSSE(b.Envelope, b.KeyHint, b.Entries[0])
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("NewDSSE(Parse(x)) != x: %v", err)
	}
	nv, _ := NewNoteVerifier("localhost", f.logKey.Public())
	if err := b.Entries[0].Verify(nv); err != nil {
		t.Fatalf("fixture entry does not verify: %v", err)
	}
	// The protobuf-specs types (what sigstore-go and cosign use) read it.
	var pbb protobundle.Bundle
	if err := protojson.Unmarshal(out, &pbb); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if pbb.GetVerificationMaterial().GetTlogEntries()[0].GetLogIndex() != 1 {
		t.Fatal("protojson read a different log index")
	}
}

func TestNewDSSEErrors(t *testing.T) {
	f := fixture(t)
	two := *f.env
	two.Signatures = append([]dsse.Signature{}, f.env.Signatures[0], f.env.Signatures[0])
	badKind := f.entry
	badKind.Kind = "dsse"
	noProof := f.entry
	noProof.Proof.Checkpoint = ""
	wrongIndex := f.entry
	wrongIndex.Proof.LogIndex = 0
	tests := []struct {
		name string
		env  *dsse.Envelope
		hint string
		e    Entry
	}{
		{"two signatures", &two, f.hint, f.entry},
		{"nil envelope", nil, f.hint, f.entry},
		{"no hint", f.env, "", f.entry},
		{"other kind", f.env, f.hint, badKind},
		{"no proof", f.env, f.hint, noProof},
		{"proof index differs", f.env, f.hint, wrongIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewDSSE(tt.env, tt.hint, tt.e); err == nil {
				t.Fatal("NewDSSE succeeded")
			}
		})
	}
}

// TestParseProtojsonBundle reads a bundle written by protojson from the
// protobuf-specs types, as cosign v3 writes them (zero logIndex omitted,
// unpadded or not, numbers as strings).
func TestParseProtojsonBundle(t *testing.T) {
	f := fixture(t)
	pbb := &protobundle.Bundle{
		MediaType: MediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: f.hint}},
			TlogEntries: []*protorekor.TransparencyLogEntry{{
				LogIndex:          0,
				LogId:             &protocommon.LogId{KeyId: f.entry.LogID},
				KindVersion:       &protorekor.KindVersion{Kind: "hashedrekord", Version: "0.0.2"},
				InclusionProof:    &protorekor.InclusionProof{LogIndex: 0, RootHash: f.root, TreeSize: 1, Checkpoint: &protorekor.Checkpoint{Envelope: f.entry.Proof.Checkpoint}},
				CanonicalizedBody: f.body,
			}},
			TimestampVerificationData: &protobundle.TimestampVerificationData{},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: f.env.Payload, PayloadType: f.env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: f.env.Signatures[0].Sig}},
		}},
	}
	raw, err := protojson.MarshalOptions{Multiline: true}.Marshal(pbb)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(protojson bundle): %v\n%s", err, raw)
	}
	if b.Entries[0].LogIndex != 0 || b.Entries[0].Proof.TreeSize != 1 || !bytes.Equal(b.Envelope.Payload, f.env.Payload) || b.KeyHint != f.hint {
		t.Fatalf("parsed %+v", b)
	}
}

func TestParseErrors(t *testing.T) {
	f := fixture(t)
	good, err := NewDSSE(f.env, f.hint, f.entry)
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	cpJSON, _ := strictjson.AppendString(nil, f.entry.Proof.Checkpoint)
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"not JSON", `{`, "bundle"},
		{"unknown top field", strings.Replace(g, `{"mediaType"`, `{"x":1,"mediaType"`, 1), `unknown field "x"`},
		{"duplicate mediaType", strings.Replace(g, `{"mediaType"`, `{"mediaType":"a","mediaType"`, 1), `duplicate field "mediaType"`},
		{"v0.1 media type", strings.Replace(g, "bundle.v0.3+json", "bundle+json;version=0.1", 1), "bundle.mediaType: unsupported"},
		{"message signature", strings.Replace(g, `"dsseEnvelope"`, `"messageSignature"`, 1), "messageSignature"},
		{"no key material", strings.Replace(g, `"publicKey":{"hint":"`+f.hint+`"},`, "", 1), "want exactly 1"},
		{"empty hint", strings.Replace(g, f.hint, "", 1), "publicKey.hint: empty"},
		{"negative logIndex", strings.Replace(g, `"logIndex":"1"`, `"logIndex":"-1"`, 1), "tlogEntries[0].logIndex"},
		{"bad body base64", strings.Replace(g, `"canonicalizedBody":"`, `"canonicalizedBody":"*`, 1), "canonicalizedBody"},
		{"unknown entry field", strings.Replace(g, `"logIndex":"1",`, `"logIndex":"1","extra":{},`, 1), `tlogEntries[0]: unknown field "extra"`},
		{"envelope with two payloads", strings.Replace(g, `"dsseEnvelope":{"payload":`, `"dsseEnvelope":{"payload":"","payload":`, 1), "bundle.dsseEnvelope"},
		{"empty checkpoint", strings.Replace(g, `"envelope":`+string(cpJSON), `"envelope":""`, 1), "checkpoint.envelope: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
