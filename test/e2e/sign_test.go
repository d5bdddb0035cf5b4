package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const testPredicateType = "https://stellad.example/test/v1"

// signed is one bundle issued by a running daemon, with what verifies it.
type signed struct {
	dir, bundle, artifact, other, trustedRoot, key string
}

func signOne(t *testing.T, d *daemon, env []string) signed {
	t.Helper()
	dir := t.TempDir()
	s := signed{
		dir:         dir,
		bundle:      filepath.Join(dir, "artifact.bundle.json"),
		artifact:    writeFile(t, filepath.Join(dir, "artifact.bin"), []byte("the artifact under test\n")),
		other:       writeFile(t, filepath.Join(dir, "other.bin"), []byte("another artifact\n")),
		trustedRoot: filepath.Join(dir, "trusted_root.json"),
		key:         filepath.Join(dir, "signer.pub"),
	}
	pred := writeFile(t, filepath.Join(dir, "predicate.json"), []byte(`{"scanner":"e2e","findings":[]}`))
	// A few entries first, so that the proof of the one under test has hashes.
	for i := 0; i < 3; i++ {
		mustCtl(t, d.url, env, "attest", "sign", "--predicate-type", testPredicateType, "--predicate", pred,
			"--subject", s.other, "-o", filepath.Join(dir, fmt.Sprintf("warmup-%d.json", i)))
	}
	mustCtl(t, d.url, env, "attest", "sign", "--predicate-type", testPredicateType, "--predicate", pred,
		"--subject", s.artifact, "-o", s.bundle)
	mustCtl(t, d.url, env, "trust-root", "export", "-o", s.trustedRoot)
	mustCtl(t, d.url, env, "key", "public", "-o", s.key)
	return s
}

func TestSignAndVerifyWithStellactlAndCosign(t *testing.T) {
	requireCosign(t)
	d := startDaemon(t, t.TempDir(), nil)
	s := signOne(t, d, nil)

	// Offline: no STELLAD_URL, and the daemon is not needed.
	if out, errs, code := ctl(t, "http://127.0.0.1:1", nil, "attest", "verify", "--bundle", s.bundle,
		"--trusted-root", s.trustedRoot, "--key", s.key, s.artifact); code != 0 {
		t.Fatalf("stellactl attest verify: exit %d\n%s%s", code, out, errs)
	}
	if code, out := cosignVerify(t, s.bundle, s.key, s.trustedRoot, testPredicateType, s.artifact); code != 0 {
		t.Fatalf("cosign verify-blob-attestation: exit %d\n%s", code, out)
	}

	// Another artifact: both refuse.
	if _, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", s.bundle, "--trusted-root", s.trustedRoot,
		"--key", s.key, s.other); code != 1 {
		t.Errorf("stellactl attest verify of another artifact: exit %d, want 1\n%s", code, errs)
	}
	if code, out := cosignVerify(t, s.bundle, s.key, s.trustedRoot, testPredicateType, s.other); code == 0 {
		t.Errorf("cosign accepted the bundle for another artifact:\n%s", out)
	}

	orig, err := os.ReadFile(s.bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tamperings() {
		t.Run(tc.name, func(t *testing.T) {
			mod := tc.apply(t, orig)
			if string(mod) == string(orig) {
				t.Fatal("tampering changed nothing")
			}
			p := writeFile(t, filepath.Join(t.TempDir(), "tampered.json"), mod)
			if out, errs, code := ctl(t, "", nil, "attest", "verify", "--bundle", p, "--trusted-root", s.trustedRoot,
				"--key", s.key, s.artifact); code != 1 {
				t.Errorf("stellactl attest verify: exit %d, want 1\n%s%s", code, out, errs)
			} else if strings.TrimSpace(errs) == "" {
				t.Errorf("stellactl attest verify refused without saying why")
			}
			code, out := cosignVerify(t, p, s.key, s.trustedRoot, testPredicateType, s.artifact)
			switch {
			case tc.cosignIgnores && code != 0:
				t.Logf("cosign now refuses a change to a field it used to ignore (exit %d): %s", code, out)
			case !tc.cosignIgnores && code == 0:
				t.Errorf("cosign accepted the tampered bundle:\n%s", out)
			}
		})
	}
}

type tampering struct {
	name  string
	apply func(t *testing.T, bundle []byte) []byte
	// cosignIgnores is set for redundant fields that cosign (sigstore-go v1.3.0)
	// does not read, so changing them cannot change its verdict: it compares the
	// proof with the checkpoint's root, not with inclusionProof.rootHash, and it
	// rebuilds a Rekor v2 leaf from the envelope's signature, the key and the PAE
	// digest instead of hashing canonicalizedBody. stellactl checks both.
	cosignIgnores bool
}

// tamperings change one byte of the envelope, the proof or the checkpoint each.
func tamperings() []tampering {
	flipB64 := func(at func(m map[string]any) (map[string]any, string), pos func(n int) int) func(*testing.T, []byte) []byte {
		return func(t *testing.T, b []byte) []byte {
			m := decode(t, b)
			obj, key := at(m)
			raw, err := base64.StdEncoding.DecodeString(obj[key].(string))
			if err != nil || len(raw) == 0 {
				t.Fatalf("field %s: %v (len %d)", key, err, len(raw))
			}
			raw[pos(len(raw))] ^= 0x01
			obj[key] = base64.StdEncoding.EncodeToString(raw)
			return encode(t, m)
		}
	}
	env := func(m map[string]any) map[string]any { return m["dsseEnvelope"].(map[string]any) }
	entry := func(m map[string]any) map[string]any {
		return m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
	}
	proof := func(m map[string]any) map[string]any { return entry(m)["inclusionProof"].(map[string]any) }
	checkpoint := func(m map[string]any) map[string]any { return proof(m)["checkpoint"].(map[string]any) }
	mid := func(n int) int { return n / 2 }
	last := func(n int) int { return n - 1 }
	editCheckpoint := func(edit func(lines []string) []string) func(*testing.T, []byte) []byte {
		return func(t *testing.T, b []byte) []byte {
			m := decode(t, b)
			cp := checkpoint(m)
			lines := strings.Split(cp["envelope"].(string), "\n")
			cp["envelope"] = strings.Join(edit(lines), "\n")
			return encode(t, m)
		}
	}
	return []tampering{
		{name: "envelope payload", apply: flipB64(func(m map[string]any) (map[string]any, string) { return env(m), "payload" }, mid)},
		{name: "envelope payload last byte", apply: flipB64(func(m map[string]any) (map[string]any, string) { return env(m), "payload" }, last)},
		{name: "envelope signature", apply: flipB64(func(m map[string]any) (map[string]any, string) {
			return env(m)["signatures"].([]any)[0].(map[string]any), "sig"
		}, last)},
		{name: "envelope payload type", apply: func(t *testing.T, b []byte) []byte {
			m := decode(t, b)
			env(m)["payloadType"] = "application/vnd.in-toto+jsoN"
			return encode(t, m)
		}},
		{name: "proof hash", apply: func(t *testing.T, b []byte) []byte {
			m := decode(t, b)
			hs := proof(m)["hashes"].([]any)
			raw, _ := base64.StdEncoding.DecodeString(hs[0].(string))
			raw[0] ^= 0x80
			hs[0] = base64.StdEncoding.EncodeToString(raw)
			return encode(t, m)
		}},
		{name: "proof root hash", apply: flipB64(func(m map[string]any) (map[string]any, string) { return proof(m), "rootHash" }, mid), cosignIgnores: true},
		{name: "proof log index", apply: func(t *testing.T, b []byte) []byte {
			m := decode(t, b)
			p := proof(m)
			n, _ := strconv.ParseUint(p["logIndex"].(string), 10, 64)
			p["logIndex"] = strconv.FormatUint(n+1, 10)
			entry(m)["logIndex"] = strconv.FormatUint(n+1, 10)
			return encode(t, m)
		}},
		{name: "log entry body", apply: flipB64(func(m map[string]any) (map[string]any, string) { return entry(m), "canonicalizedBody" }, mid), cosignIgnores: true},
		{name: "checkpoint root line", apply: editCheckpoint(func(l []string) []string {
			raw, _ := base64.StdEncoding.DecodeString(l[2])
			raw[3] ^= 0x01
			l[2] = base64.StdEncoding.EncodeToString(raw)
			return l
		})},
		{name: "checkpoint size line", apply: editCheckpoint(func(l []string) []string {
			n, _ := strconv.ParseUint(l[1], 10, 64)
			l[1] = strconv.FormatUint(n+1, 10)
			return l
		})},
		{name: "checkpoint signature", apply: editCheckpoint(func(l []string) []string {
			for i, line := range l {
				if strings.HasPrefix(line, "— ") {
					f := strings.Fields(line)
					raw, _ := base64.StdEncoding.DecodeString(f[2])
					raw[len(raw)-1] ^= 0x01
					f[2] = base64.StdEncoding.EncodeToString(raw)
					l[i] = strings.Join(f, " ")
					return l
				}
			}
			panic("no signature line in the checkpoint")
		})},
		{name: "checkpoint origin", apply: editCheckpoint(func(l []string) []string {
			l[0] = l[0] + "x"
			return l
		})},
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
