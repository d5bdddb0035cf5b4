package offline

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"
)

func FuzzParseRevocations(f *testing.F) {
	f.Add([]byte(`{"revocations":[{"keyId":"` + string(bytes.Repeat([]byte("a"), 64)) + `","reason":"lost","revokedAt":"2026-11-25T10:30:00Z"}]}`))
	f.Add([]byte(`{"revocations":[]}`))
	f.Add([]byte(`{"revocations":[],"revocations":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRevocations(data)
		if err != nil {
			return
		}
		for _, r := range rs {
			if len(r.KeyID) != 64 || r.Reason == "" || r.RevokedAt.IsZero() {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

func FuzzParseKitKeys(f *testing.F) {
	pem, _ := MarshalKitKeys(KeySet{Keys: []crypto.PublicKey{edKey(1).Public(), edKey(2).Public()}, Threshold: 2})
	f.Add(pem)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nThreshold: 1\n\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParseKitKeys(data)
		if err != nil {
			return
		}
		if ks.Threshold < 1 || ks.Threshold > len(ks.Keys) {
			t.Fatalf("threshold %d of %d", ks.Threshold, len(ks.Keys))
		}
		// Round trip: what parses marshals back to something that parses to
		// the same set.
		out, err := MarshalKitKeys(ks)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseKitKeys(out)
		if err != nil || again.Threshold != ks.Threshold || len(again.Keys) != len(ks.Keys) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseConsistency(f *testing.F) {
	f.Add([]byte(`{"hashes":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],"newSize":5,"oldSize":3}`))
	f.Add([]byte(`{"hashes":[],"newSize":5,"oldSize":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		from, to, hs, err := ParseConsistency(data)
		if err != nil {
			return
		}
		if from == 0 || from > to || len(hs) > 64 {
			t.Fatalf("accepted %d -> %d with %d hashes", from, to, len(hs))
		}
	})
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/entries/x001/234.p/5", "tile/63/x999/x999/999", "tile/0/001.p/0", "tile/0/0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, err := parseTilePath(p)
		if err != nil {
			return
		}
		if id.path() != p {
			t.Fatalf("%q parsed to %+v which writes %q", p, id, id.path())
		}
		_ = id.validFor(1 << 40)
	})
}

func FuzzParseAuditHead(f *testing.F) {
	f.Add([]byte(`{"hash":"00","origin":"a","seq":1,"statement":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = parseAuditHead(data)
	})
}

func FuzzParseTrustedRoot(f *testing.F) {
	l := newPublicLog(f, "rekor.example")
	f.Add(l.trustedRoot(f, t0))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := parseTrustedRoot(data)
		if err != nil {
			return
		}
		if tr.NewestStart.IsZero() || len(tr.Logs) == 0 {
			t.Fatalf("accepted a root without keys or validity")
		}
	})
}

func TestTilesBetweenCoverWhatIsNew(t *testing.T) {
	tests := []struct {
		since, size uint64
		want        []string
	}{
		{0, 3, []string{"tile/0/000.p/3", "tile/entries/000.p/3"}},
		{0, 256, []string{"tile/0/000", "tile/entries/000", "tile/1/000.p/1"}},
		{300, 450, []string{"tile/0/001.p/194", "tile/entries/001.p/194"}},
		{256, 256, nil},
		{200, 600, []string{"tile/0/000", "tile/entries/000", "tile/0/001", "tile/entries/001", "tile/0/002.p/88", "tile/entries/002.p/88", "tile/1/000.p/2"}},
	}
	for _, tc := range tests {
		var got []string
		for _, id := range tilesBetween(tc.since, tc.size) {
			got = append(got, id.path())
			if !id.validFor(tc.size) {
				t.Errorf("%s not valid for %d", id.path(), tc.size)
			}
		}
		if len(got) != len(tc.want) || len(got) > 0 && fmtList(got) != fmtList(tc.want) {
			t.Errorf("tilesBetween(%d, %d) = %v, want %v", tc.since, tc.size, got, tc.want)
		}
	}
}

func fmtList(s []string) string { return string(bytes.Join(toBytes(s), []byte(","))) }

func toBytes(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

// FuzzParseAuthorities: no panic; whatever is accepted has unique
// well-formed issuers and compact JSON objects as JWKS, and parses again
// to the same result when re-encoded.
func FuzzParseAuthorities(f *testing.F) {
	jwks := `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	f.Add([]byte(`{"authorities":[{"issuer":"https://authority.example","jwks":` + jwks + `}]}`))
	f.Add([]byte(`{"authorities":[{"issuer":"http://a.example/realm","jwks":{}},{"issuer":"https://b.example","jwks":{"keys":[]}}]}`))
	f.Add([]byte(`{"authorities":[{"issuer":"https://a.example","issuer":"x","jwks":{}}]}`))
	f.Add([]byte(`{"authorities":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := ParseAuthorities(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		var entries []map[string]any
		for _, a := range as {
			if seen[a.Issuer] || checkIssuer(a.Issuer) != nil || len(a.JWKS) == 0 || a.JWKS[0] != '{' {
				t.Fatalf("accepted %q", a.Issuer)
			}
			seen[a.Issuer] = true
			var buf bytes.Buffer
			if err := json.Compact(&buf, a.JWKS); err != nil || !bytes.Equal(buf.Bytes(), a.JWKS) {
				t.Fatalf("JWKS of %s is not compact JSON", a.Issuer)
			}
			entries = append(entries, map[string]any{"issuer": a.Issuer, "jwks": json.RawMessage(a.JWKS)})
		}
		var again bytes.Buffer
		enc := json.NewEncoder(&again)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(map[string]any{"authorities": entries}); err != nil {
			t.Fatal(err)
		}
		as2, err := ParseAuthorities(again.Bytes())
		if err != nil || len(as2) != len(as) {
			t.Fatalf("re-encoded authorities: %v", err)
		}
		for i := range as {
			if as[i].Issuer != as2[i].Issuer || !bytes.Equal(as[i].JWKS, as2[i].JWKS) {
				t.Fatalf("round trip changed entry %d", i)
			}
		}
	})
}

// FuzzParseScannerKey: no panic; an accepted file holds one PKIX key whose
// DER is returned.
func FuzzParseScannerKey(f *testing.F) {
	der, _ := x509.MarshalPKIXPublicKey(edKey(1).Public())
	good := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f.Add(good)
	f.Add(append([]byte("  \n"), good...))
	f.Add(append(append([]byte{}, good...), good...))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nA: b\n\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, der, err := ParseScannerKey(data)
		if err != nil {
			return
		}
		again, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("DER does not round-trip: %v", err)
		}
	})
}
