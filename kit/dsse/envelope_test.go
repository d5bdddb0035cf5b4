package dsse

import (
	"bytes"
	"crypto/elliptic"
	"strings"
	"testing"
)

func TestPAE(t *testing.T) {
	// Test vector from the DSSE protocol specification.
	got := PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if got := PAE("", nil); string(got) != "DSSEv1 0  0 " {
		t.Fatalf("PAE of empty = %q", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
		payload string
		sig     string
		keyid   string
	}{
		{name: "std padded", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k","sig":"AQI="}]}`, payload: "hi", sig: "\x01\x02", keyid: "k"},
		{name: "std unpadded", in: `{"payload":"aGk","payloadType":"t","signatures":[{"sig":"AQI"}]}`, payload: "hi", sig: "\x01\x02"},
		{name: "url-safe", in: `{"payload":"-_8","payloadType":"t","signatures":[{"sig":"__8="}]}`, payload: "\xfb\xff", sig: "\xff\xff"},
		{name: "member order free, whitespace", in: " {\"signatures\":[{\"sig\":\"AQI=\",\"keyid\":\"\"}],\n\"payloadType\":\"t\",\"payload\":\"\"} ", payload: "", sig: "\x01\x02"},
		{name: "unknown field", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI="}],"x":1}`, wantErr: `unknown field "x"`},
		{name: "unknown signature field", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI=","cert":""}]}`, wantErr: `envelope.signatures[0]: unknown field "cert"`},
		{name: "case-folded name", in: `{"Payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: `unknown field "Payload"`},
		{name: "duplicate key", in: `{"payload":"aGk=","payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: `duplicate field "payload"`},
		{name: "duplicate sig", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI=","sig":"AQI="}]}`, wantErr: `duplicate field "sig"`},
		{name: "bad base64 payload", in: `{"payload":"a*k=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payload: bad base64"},
		{name: "mixed alphabets", in: `{"payload":"+-8=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payload: bad base64"},
		{name: "non-zero trailing bits", in: `{"payload":"aGl=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payload: bad base64"},
		{name: "newline in base64", in: `{"payload":"aG\nk=","payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payload"},
		{name: "bad base64 sig", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"!"}]}`, wantErr: "envelope.signatures[0].sig: bad base64"},
		{name: "empty sig", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":""}]}`, wantErr: "envelope.signatures[0].sig: empty"},
		{name: "missing sig", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"k"}]}`, wantErr: "envelope.signatures[0].sig: missing"},
		{name: "empty payloadType", in: `{"payload":"aGk=","payloadType":"","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payloadType: empty"},
		{name: "missing payloadType", in: `{"payload":"aGk=","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payloadType: missing"},
		{name: "no signatures", in: `{"payload":"aGk=","payloadType":"t","signatures":[]}`, wantErr: "envelope.signatures: no signatures"},
		{name: "null signatures", in: `{"payload":"aGk=","payloadType":"t","signatures":null}`, wantErr: "envelope.signatures: not a JSON array"},
		{name: "payload not a string", in: `{"payload":5,"payloadType":"t","signatures":[{"sig":"AQI="}]}`, wantErr: "envelope.payload: not a JSON string"},
		{name: "trailing data", in: `{"payload":"aGk=","payloadType":"t","signatures":[{"sig":"AQI="}]} {}`, wantErr: "trailing data"},
		{name: "not an object", in: `[]`, wantErr: "not a JSON object"},
		{name: "empty", in: ``, wantErr: "envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(e.Payload) != tt.payload || string(e.Signatures[0].Sig) != tt.sig || e.Signatures[0].KeyID != tt.keyid {
				t.Fatalf("Parse = %+v", e)
			}
			out, err := e.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			e2, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v", err)
			}
			out2, _ := e2.Marshal()
			if !bytes.Equal(out, out2) {
				t.Fatalf("Marshal not stable: %s vs %s", out, out2)
			}
		})
	}
}

func TestMarshalGolden(t *testing.T) {
	k1 := testECDSA(t, elliptic.P256(), "golden signer 1")
	k2 := testEd25519("golden signer 2")
	stmt := testStatement(t)
	e, err := Sign(nil, PayloadTypeInToto, stmt, KeySigner{KeyID: "signer-1", Signer: k1}, KeySigner{Signer: k2})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "envelope.golden", out)
	if !bytes.HasPrefix(out, []byte(`{"payload":"`)) || !strings.Contains(string(out), `,"payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"signer-1","sig":"`) {
		t.Fatalf("unexpected layout: %s", out)
	}
}

func TestMarshalEscapes(t *testing.T) {
	e := &Envelope{PayloadType: "a\"b\\c\n\x01<é>", Payload: []byte{0}, Signatures: []Signature{{KeyID: "\u2028", Sig: []byte{1}}}}
	out, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"payload":"AA==","payloadType":"a\"b\\c\n\u0001<é>","signatures":[{"keyid":"` + "\u2028" + `","sig":"AQ=="}]}`
	if string(out) != want {
		t.Fatalf("Marshal = %s\nwant %s", out, want)
	}
	back, err := Parse(out)
	if err != nil || back.PayloadType != e.PayloadType || back.Signatures[0].KeyID != e.Signatures[0].KeyID {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	bad := &Envelope{PayloadType: "\xff", Signatures: []Signature{{Sig: []byte{1}}}}
	if _, err := bad.Marshal(); err == nil {
		t.Fatal("Marshal accepted invalid UTF-8")
	}
	if _, err := (&Envelope{PayloadType: "t"}).Marshal(); err == nil {
		t.Fatal("Marshal accepted an envelope without signatures")
	}
}
