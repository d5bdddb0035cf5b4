package tsa_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const opensslPath = "/usr/bin/openssl"

// TestOpenSSL has openssl make the queries (nonce, certReq, SHA-256/384/512)
// and verify the answers: `openssl ts -verify` against the data and against
// the query, with the root as the trust anchor and the leaf as untrusted.
func TestOpenSSL(t *testing.T) {
	if _, err := os.Stat(opensslPath); err != nil {
		t.Skipf("openssl not installed: %v", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signers := []struct {
		name string
		key  crypto.Signer
	}{
		{"P256", genECDSA(t, elliptic.P256())},
		{"P384", genECDSA(t, elliptic.P384())},
		{"RSA2048", rsaKey},
	}
	queries := []struct {
		name string
		args []string
	}{
		{"SHA256Cert", []string{"-sha256", "-cert"}},
		{"SHA384NoNonce", []string{"-sha384", "-no_nonce"}},
		{"SHA512", []string{"-sha512"}},
	}
	for _, s := range signers {
		f := newFixture(t, s.key, nil)
		dir := t.TempDir()
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		rootPEM := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.chain[1].Raw}))
		leafPEM := write("leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.chain[0].Raw}))
		data := write("data.txt", []byte("an artifact to timestamp\n"))
		for _, q := range queries {
			t.Run(s.name+"/"+q.name, func(t *testing.T) {
				reqPath := filepath.Join(dir, q.name+".tsq")
				openssl(t, append([]string{"ts", "-query", "-data", data, "-out", reqPath}, q.args...)...)
				req, err := os.ReadFile(reqPath)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := f.tsa.Respond(context.Background(), req)
				if err != nil {
					t.Fatalf("Respond to openssl's query: %v", err)
				}
				respPath := write(q.name+".tsr", resp)
				// openssl checks the chain at its wall clock; -attime pins
				// that check to the TSA's fixed clock.
				at := strconv.FormatInt(f.now.Unix(), 10)
				openssl(t, "ts", "-verify", "-attime", at, "-data", data, "-in", respPath, "-CAfile", rootPEM, "-untrusted", leafPEM)
				openssl(t, "ts", "-verify", "-attime", at, "-queryfile", reqPath, "-in", respPath, "-CAfile", rootPEM, "-untrusted", leafPEM)
				// Another artifact fails.
				other := write("other.txt", []byte("another artifact\n"))
				if out, err := exec.Command(opensslPath, "ts", "-verify", "-attime", at, "-data", other, "-in", respPath, "-CAfile", rootPEM, "-untrusted", leafPEM).CombinedOutput(); err == nil {
					t.Errorf("openssl verified the token for another artifact:\n%s", out)
				}
				text := openssl(t, "ts", "-reply", "-in", respPath, "-text")
				for _, want := range []string{"Status: Granted.", "Policy OID: 1.3.6.1.4.1.32473.3161.1", "Accuracy: 0x01 seconds"} {
					if !strings.Contains(text, want) {
						t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
					}
				}
			})
		}
	}
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(opensslPath, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
