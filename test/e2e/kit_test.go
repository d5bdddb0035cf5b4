package e2e

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
)

// startNamedDaemon starts stellad --dev whose log origin is host (its public
// URL is http://host:PORT), so that two appliances in one test have distinct
// origins.
func startNamedDaemon(t *testing.T, dataDir, host string, extra ...string) *daemon {
	t.Helper()
	port := freePort(t)
	d := &daemon{
		t:       t,
		dataDir: dataDir,
		url:     fmt.Sprintf("http://127.0.0.1:%d", port),
		args: append([]string{"serve", "--dev", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--public-url", fmt.Sprintf("http://%s:%d", host, port), "--log-level", "info"}, extra...),
	}
	d.start()
	register(d)
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("stellad (%s) log:\n%s", host, tail(d.logs.String(), 3000))
		}
	})
	return d
}

// publicKeyPEM writes the public half of the PKCS#8 PEM private key at path.
func publicKeyPEM(t *testing.T, keyPath, out string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(readSigner(t, keyPath).Public())
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// TestKitExportImportMirror: appliance A signs and exports its log; appliance B,
// which trusts A's kit key and knows A's log key, imports the kit and then
// serves A's checkpoint and tiles read-only; B refuses a kit with a changed
// byte, a kit it has seen (replay) and a kit signed by a key it does not trust,
// each with exit 1 and no change to its state.
func TestKitExportImportMirror(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startNamedDaemon(t, dirA, "appliance-a")
	work := t.TempDir()
	artifact := writeFile(t, filepath.Join(work, "artifact.bin"), []byte("shipped across the air gap"))
	pred := writeFile(t, filepath.Join(work, "pred.json"), []byte(`{"k":"v"}`))
	var bundles []string
	for i := range 3 {
		out := filepath.Join(work, fmt.Sprintf("bundle-%d.json", i))
		mustCtl(t, a.url, nil, "attest", "sign", "--predicate-type", "https://example.com/kit/v1", "--predicate", pred,
			"--subject", artifact, "-o", out)
		bundles = append(bundles, out)
	}
	trustedRoot := filepath.Join(work, "trusted_root.json")
	mustCtl(t, a.url, nil, "trust-root", "export", "-o", trustedRoot)
	signerPub := filepath.Join(work, "signer.pub")
	mustCtl(t, a.url, nil, "key", "public", "-o", signerPub)

	// Wait (bounded) until A's published checkpoint covers its three entries.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st apitype.LogStatus
		getJSON(t, a.url+"/api/v1/log/status", &st)
		if st.TreeSize >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's published checkpoint stayed at %d entries", st.TreeSize)
		}
		time.Sleep(200 * time.Millisecond)
	}
	kitA := filepath.Join(work, "a.kit")
	mustCtl(t, "", nil, "--admin-socket", a.adminSocket(), "kit", "export", "-o", kitA)

	// B trusts A's kit key and A's log key.
	kitKeys := filepath.Join(dirB, "trust", "kit-keys")
	if err := os.MkdirAll(kitKeys, 0o700); err != nil {
		t.Fatal(err)
	}
	publicKeyPEM(t, filepath.Join(dirA, "keys", "kit.pem"), filepath.Join(kitKeys, "appliance-a.pem"))
	logPub := publicKeyPEM(t, filepath.Join(dirA, "keys", "log.pem"), filepath.Join(work, "a-log.pem"))
	b := startNamedDaemon(t, dirB, "appliance-b", "--peer", "appliance-a="+logPub)
	bctl := func(args ...string) (string, string, int) {
		return ctl(t, "", nil, append([]string{"--admin-socket", b.adminSocket()}, args...)...)
	}
	status := func() string {
		out, errs, code := bctl("kit", "status", "--json")
		if code != 0 {
			t.Fatalf("kit status: exit %d: %s", code, errs)
		}
		return out
	}
	before := status()

	// Refused, state unchanged: one changed byte.
	raw, err := os.ReadFile(kitA)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{len(raw) / 3, len(raw) / 2, len(raw) - 10} {
		bad := append([]byte(nil), raw...)
		bad[off] ^= 0xff
		badPath := writeFile(t, filepath.Join(work, fmt.Sprintf("bad-%d.kit", off)), bad)
		if _, errs, code := bctl("kit", "import", badPath); code != 1 || !strings.Contains(errs, "kit_refused") {
			t.Errorf("kit with byte %d changed: exit %d, want 1 and kit_refused\n%s", off, code, errs)
		}
	}
	// Refused: a kit signed by a key B does not trust (A's kit rebuilt by stellactl with a stranger's key).
	strangerDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(strangerDir, "checkpoints", "appliance-a"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(strangerDir, "checkpoints", "appliance-a", "checkpoint"), []byte("not used\n"))
	strangerKey := filepath.Join(t.TempDir(), "stranger.pem")
	mustCtl(t, "", nil, "key", "generate", "--uri", "file:"+strangerKey)
	stranger := filepath.Join(work, "stranger.kit")
	mustCtl(t, "", nil, "kit", "build", "--from", strangerDir, "-o", stranger, "--key", "file:"+strangerKey, "--source", "appliance-a", "--sequence", "9")
	if _, errs, code := bctl("kit", "import", stranger); code != 1 || !strings.Contains(errs, "kit_refused") {
		t.Errorf("kit signed by an unknown key: exit %d, want 1\n%s", code, errs)
	}
	if after := status(); after != before {
		t.Errorf("refused kits changed B's state:\nbefore %s\nafter  %s", before, after)
	}

	// Accepted.
	out, errs, code := bctl("kit", "import", "--json", kitA)
	if code != 0 {
		t.Fatalf("kit import: exit %d: %s", code, errs)
	}
	var res apitype.KitImport
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Checkpoints["appliance-a"] < 3 || res.Bundles < 3 || !res.AuditHead {
		t.Errorf("import result %+v: want A's checkpoint of >= 3 entries, its bundles and audit head", res)
	}
	// Replayed: the same kit again.
	if _, errs, code := bctl("kit", "import", kitA); code != 1 || !strings.Contains(errs, "kit_refused") {
		t.Errorf("the same kit imported twice: exit %d, want 1\n%s", code, errs)
	}

	// B serves A's log read-only, and A's bundles verify offline on B's side.
	cp := getBytes(t, b.url+"/api/v2/mirror/appliance-a/checkpoint")
	if !strings.HasPrefix(string(cp), "appliance-a\n") {
		t.Errorf("B's mirror of A's checkpoint: %q", cp)
	}
	getBytes(t, b.url+"/api/v2/mirror/appliance-a/tile/0/000.p/"+fmt.Sprint(res.Checkpoints["appliance-a"]))
	for _, bundle := range bundles {
		mustCtl(t, "", nil, "attest", "verify", "--bundle", bundle, "--trusted-root", trustedRoot, "--key", signerPub, artifact)
	}
}

// TestKitSplitView: a second appliance that holds A's log key but a different
// history (a fork of A's log) exports a kit under A's origin; B, which accepted
// A's view, refuses it as a split view (exit 1), keeps both checkpoints as
// evidence, and its accepted view of A does not change.
func TestKitSplitView(t *testing.T) {
	dirA, dirFork, dirB := t.TempDir(), t.TempDir(), t.TempDir()
	work := t.TempDir()
	pred := writeFile(t, filepath.Join(work, "pred.json"), []byte(`{}`))
	sign := func(d *daemon, n int, name string) {
		for i := range n {
			subj := writeFile(t, filepath.Join(work, fmt.Sprintf("%s-%d.bin", name, i)), []byte(name+fmt.Sprint(i)))
			mustCtl(t, d.url, nil, "attest", "sign", "--predicate-type", "https://example.com/kit/v1", "--predicate", pred,
				"--subject", subj, "-o", filepath.Join(work, fmt.Sprintf("%s-%d.bundle", name, i)))
		}
	}
	waitSize := func(d *daemon, n uint64) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			var st apitype.LogStatus
			getJSON(t, d.url+"/api/v1/log/status", &st)
			if st.TreeSize >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("published checkpoint stayed at %d, want %d", st.TreeSize, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The fork gets A's keys before either starts: same log key, same kit key.
	a := startNamedDaemon(t, dirA, "appliance-a")
	sign(a, 3, "a")
	waitSize(a, 3)
	kitA := filepath.Join(work, "a.kit")
	mustCtl(t, "", nil, "--admin-socket", a.adminSocket(), "kit", "export", "-o", kitA)
	a.stop()
	if err := os.MkdirAll(filepath.Join(dirFork, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"signing.pem", "log.pem", "kit.pem"} {
		b, err := os.ReadFile(filepath.Join(dirA, "keys", k))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dirFork, "keys", k), b)
		if err := os.Chmod(filepath.Join(dirFork, "keys", k), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fork := startNamedDaemon(t, dirFork, "appliance-a")
	sign(fork, 2, "fork-1")
	waitSize(fork, 2)
	mustCtl(t, "", nil, "--admin-socket", fork.adminSocket(), "kit", "export", "-o", filepath.Join(work, "fork-1.kit"))
	sign(fork, 3, "fork-2")
	waitSize(fork, 5)
	forkKit := filepath.Join(work, "fork-2.kit") // sequence 2: not a replay of A's first kit
	mustCtl(t, "", nil, "--admin-socket", fork.adminSocket(), "kit", "export", "-o", forkKit)

	kitKeys := filepath.Join(dirB, "trust", "kit-keys")
	if err := os.MkdirAll(kitKeys, 0o700); err != nil {
		t.Fatal(err)
	}
	publicKeyPEM(t, filepath.Join(dirA, "keys", "kit.pem"), filepath.Join(kitKeys, "appliance-a.pem"))
	logPub := publicKeyPEM(t, filepath.Join(dirA, "keys", "log.pem"), filepath.Join(work, "a-log.pem"))
	b := startNamedDaemon(t, dirB, "appliance-b", "--peer", "appliance-a="+logPub)
	bctl := func(args ...string) (string, string, int) {
		return ctl(t, "", nil, append([]string{"--admin-socket", b.adminSocket()}, args...)...)
	}
	if _, errs, code := bctl("kit", "import", kitA); code != 0 {
		t.Fatalf("importing A's kit: exit %d: %s", code, errs)
	}
	before := getBytes(t, b.url+"/api/v2/mirror/appliance-a/checkpoint")
	_, errs, code := bctl("kit", "import", forkKit)
	if code != 1 || !strings.Contains(errs, "kit_refused") {
		t.Fatalf("the fork's kit: exit %d, want 1 and kit_refused\n%s", code, errs)
	}
	t.Logf("refusal: %s", strings.TrimSpace(errs))
	out, errs, code := bctl("kit", "status", "--json")
	if code != 0 {
		t.Fatalf("kit status: exit %d: %s", code, errs)
	}
	var st apitype.KitStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.SplitViews) != 1 || st.SplitViews[0].Origin != "appliance-a" || st.SplitViews[0].AcceptedSize != 3 {
		t.Errorf("split-view evidence = %+v, want one for appliance-a with the accepted size 3", st.SplitViews)
	}
	if after := getBytes(t, b.url+"/api/v2/mirror/appliance-a/checkpoint"); string(after) != string(before) {
		t.Errorf("B's view of A changed after the refused fork:\n%s\n%s", before, after)
	}
}
