package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellaops/stellad/internal/apitype"
	"github.com/stellaops/stellad/kit/verify"
	"github.com/stellaops/stellad/kit/verify/verifytest"
)

// stellactlBin is the stellactl built once by TestMain.
var stellactlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stellactl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stellactlBin = filepath.Join(dir, "stellactl")
	out, err := exec.Command("go", "build", "-o", stellactlBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building stellactl: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// stellactl runs the built binary with args and STELLAD_URL unset.
func stellactl(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(stellactlBin, args...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running stellactl: %v", err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (r result) expect(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr %q does not contain %q", r.stderr, s)
		}
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedURL is a 127.0.0.1 URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	sbom := writeFile(t, dir, "sbom.json", []byte(`{"bomFormat":"CycloneDX"}`))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no command", nil, []string{"needs a subcommand"}},
		{"unknown command", []string{"frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"unknown subcommand", []string{"attest", "frob"}, []string{`unknown command "frob"`, "stellactl attest"}},
		{"unknown flag", []string{"attest", "sign", "--bogus", "x"}, []string{"--bogus", "stellactl attest sign"}},
		{"bad flag value", []string{"attest", "list", "--limit", "many"}, []string{"--limit"}},
		{"bad global flag value", []string{"--timeout", "soon", "log", "status"}, []string{"--timeout"}},
		{"missing flag", []string{"attest", "verify", "subject"}, []string{"--bundle"}},
		{"missing output", []string{"sign", "sbom", "--subject", sbom, sbom}, []string{"--output"}},
		{"missing argument", []string{"attest", "fetch", "-o", "x"}, []string{"UUID"}},
		{"statement and predicate", []string{"attest", "sign", "--statement", sbom, "--predicate", sbom, "-o", "x"}, []string{"--predicate"}},
		{"bench too many", []string{"bench", "sign", "-n", "10000001"}, []string{"-n", "10000000"}},
		{"bench too wide", []string{"bench", "sign", "-c", "4097"}, []string{"-c", "4096"}},
		{"bad server", []string{"--server", "ftp://x", "log", "status"}, []string{"--server", "ftp://x"}},
		{"bad key uri", []string{"key", "generate", "--uri", "vault:x"}, []string{"vault:x"}},
		{"bad uuid", []string{"log", "proof", "xyz"}, []string{"xyz"}},
		{"bad subject filter", []string{"attest", "list", "--subject", "sha256:zz"}, []string{"sha256:zz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stellactl(t, tt.args...).expect(t, exitBadInput, tt.want...)
		})
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	subj := writeFile(t, dir, "a.txt", []byte("a"))
	stellactl(t, "attest", "verify", "--bundle", missing, "--trusted-root", missing, subj).expect(t, exitBadInput, missing, "--bundle")
	stellactl(t, "attest", "sign", "--predicate-type", "https://x", "--predicate", missing, "--subject", subj, "-o", filepath.Join(dir, "b")).
		expect(t, exitBadInput, missing, "--predicate")
	stellactl(t, "sign", "sbom", "--subject", missing, "-o", filepath.Join(dir, "b"), subj).expect(t, exitBadInput) // subj is not JSON
	sbom := writeFile(t, dir, "sbom.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
	stellactl(t, "--server", closedURL(t), "sign", "sbom", "--subject", missing, "-o", filepath.Join(dir, "b"), sbom).
		expect(t, exitBadInput, missing, "--subject")
}

func TestBadSBOM(t *testing.T) {
	dir := t.TempDir()
	subj := writeFile(t, dir, "a.txt", []byte("a"))
	for name, content := range map[string]string{
		"neither.json": `{"name":"not an sbom"}`,
		"array.json":   `[1,2]`,
		"broken.json":  `{"bomFormat":`,
	} {
		p := writeFile(t, dir, name, []byte(content))
		// The server is unreachable: detection must fail before any request.
		stellactl(t, "--server", closedURL(t), "sign", "sbom", "--subject", subj, p, "-o", filepath.Join(dir, "b")).
			expect(t, exitBadInput, p)
	}
}

func TestUnreachable(t *testing.T) {
	u := closedURL(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"log", "status"},
		{"trust-root", "export", "-o", filepath.Join(dir, "tr.json")},
		{"key", "list"},
		{"attest", "fetch", "abcd", "-o", filepath.Join(dir, "b.json")},
	} {
		stellactl(t, append([]string{"--server", u}, args...)...).expect(t, exitUnreachable, u, "unreachable")
	}
	// STELLAD_URL is honoured.
	cmd := exec.Command(stellactlBin, "log", "status")
	cmd.Env = []string{"STELLAD_URL=" + u}
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitUnreachable || !strings.Contains(string(out), u) {
		t.Fatalf("STELLAD_URL: exit %d, %s", cmd.ProcessState.ExitCode(), out)
	}
}

// fixtureFiles writes a verifytest bundle and what verifying it needs.
type fixtureFiles struct {
	f                               *verifytest.Fixture
	dir, bundle, root, key, subject string
}

func newFixtureFiles(t *testing.T) *fixtureFiles {
	t.Helper()
	f, err := verifytest.New(verifytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &fixtureFiles{
		f: f, dir: dir,
		bundle:  writeFile(t, dir, "bundle.json", f.Bundle()),
		root:    writeFile(t, dir, "trusted_root.json", f.TrustedRoot),
		key:     writeFile(t, dir, "signer.pub", f.PublicKeyPEM()),
		subject: writeFile(t, dir, "artifact.txt", f.Artifact),
	}
}

func TestAttestVerify(t *testing.T) {
	ff := newFixtureFiles(t)
	r := stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key,
		"--predicate-type", "https://slsa.dev/provenance/v1", ff.subject)
	r.expect(t, exitOK)
	for _, want := range []string{"Verified OK", "https://slsa.dev/provenance/v1", "artifact.txt", "log index: 5", "tree size: 11", "log origin: log.stellad.test"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q lacks %q", r.stdout, want)
		}
	}
	// Flags after the subject file are accepted too.
	stellactl(t, "attest", "verify", ff.subject, "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key).expect(t, exitOK)

	var js verify.Result
	r = stellactl(t, "attest", "verify", "--json", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key, ff.subject)
	r.expect(t, exitOK)
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.TreeSize != 11 {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}

	other := writeFile(t, ff.dir, "other.txt", []byte("not the artifact"))
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key, other).
		expect(t, exitVerifyFailed, "is not a subject")
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.key, "--predicate-type", "https://spdx.dev/Document", ff.subject).
		expect(t, exitVerifyFailed, "predicate type")
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, ff.subject).
		expect(t, exitBadInput, "bundle names no certificate; pass --key")

	// Tampered bundles: envelope payload, proof hash, checkpoint.
	tamper := []struct {
		name   string
		mutate func(f *verifytest.Fixture) func()
	}{
		{"payload", func(f *verifytest.Fixture) func() { f.Statement[10] ^= 1; return func() { f.Statement[10] ^= 1 } }},
		{"signature", func(f *verifytest.Fixture) func() { f.Signature[20] ^= 1; return func() { f.Signature[20] ^= 1 } }},
		{"proof", func(f *verifytest.Fixture) func() { f.Hashes[1][3] ^= 1; return func() { f.Hashes[1][3] ^= 1 } }},
		{"checkpoint", func(f *verifytest.Fixture) func() {
			old := f.Checkpoint
			f.Checkpoint = strings.Replace(old, "\n11\n", "\n12\n", 1)
			return func() { f.Checkpoint = old }
		}},
	}
	for _, tt := range tamper {
		undo := tt.mutate(ff.f)
		b := writeFile(t, ff.dir, "tampered-"+tt.name+".json", ff.f.Bundle())
		undo()
		stellactl(t, "attest", "verify", "--bundle", b, "--trusted-root", ff.root, "--key", ff.key, ff.subject).
			expect(t, exitVerifyFailed, "does not verify", b)
	}
	notBundle := writeFile(t, ff.dir, "junk.json", []byte("{junk"))
	stellactl(t, "attest", "verify", "--bundle", notBundle, "--trusted-root", ff.root, "--key", ff.key, ff.subject).
		expect(t, exitBadInput, "parsing bundle")
	stellactl(t, "attest", "verify", "--bundle", ff.bundle, "--trusted-root", ff.root, "--key", ff.bundle, ff.subject).
		expect(t, exitBadInput, "--key")
}

func TestKeyGenerateAndPublic(t *testing.T) {
	dir := t.TempDir()
	uri := "file:" + filepath.Join(dir, "keys", "dsse.pem")
	pub1 := filepath.Join(dir, "gen.pub")
	r := stellactl(t, "key", "generate", "--uri", uri, "--public-out", pub1)
	r.expect(t, exitOK)
	pub2 := filepath.Join(dir, "local.pub")
	stellactl(t, "key", "public", "--uri", uri, "-o", pub2).expect(t, exitOK)
	a, err := os.ReadFile(pub1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pub2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || !strings.HasPrefix(string(a), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("generate wrote\n%s\nkey public wrote\n%s", a, b)
	}
	pub, err := parsePublicKeyPEM("test", a)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := keyID(pub)
	if !strings.Contains(r.stdout, id) {
		t.Errorf("generate output %q lacks key id %s", r.stdout, id)
	}
	l := stellactl(t, "key", "list", "--uri", "file:"+filepath.Join(dir, "keys"))
	l.expect(t, exitOK)
	if !strings.Contains(l.stdout, id) {
		t.Errorf("key list output %q lacks key id %s", l.stdout, id)
	}
	stellactl(t, "key", "generate", "--uri", uri).expect(t, exitBadInput, "exists")
	stellactl(t, "key", "public", "--uri", "file:"+filepath.Join(dir, "none.pem")).expect(t, exitBadInput, "none.pem")
}

// fakeDaemon serves fixed or fixture-built answers on 127.0.0.1; it tests the
// CLI's requests, file output and error mapping, not the daemon.
type fakeDaemon struct {
	mu       sync.Mutex
	signer   *ecdsa.PrivateKey
	logKey   *ecdsa.PrivateKey
	root     []byte
	lastSign apitype.SignRequest
	entry    *apitype.EntryResponse
	fail     map[string]int // path -> status to answer with an error
	signs    int
}

func newFakeDaemon(t *testing.T) (*fakeDaemon, string) {
	t.Helper()
	d := &fakeDaemon{fail: map[string]int{}}
	var err error
	if d.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if d.logKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if d.root, err = verifytest.TrustedRoot("https://log.stellad.test", &d.logKey.PublicKey); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, srv.URL
}

func (d *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	status, failing := d.fail[r.URL.Path]
	d.mu.Unlock()
	if failing {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(apitype.Error{Code: "test_code", Message: "the test says no", RequestID: "req-42"})
		return
	}
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/api/v1/signer/sign/dsse":
		var req apitype.SignRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		stmt, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "subject": req.Subjects,
			"predicateType": req.PredicateType, "predicate": req.Predicate})
		f, err := verifytest.New(verifytest.Config{Statement: stmt, Signer: d.signer, LogKey: d.logKey})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		d.mu.Lock()
		d.lastSign = req
		d.signs++
		d.mu.Unlock()
		reply(apitype.SignResponse{UUID: hex.EncodeToString(verify.LeafHash(f.Body)), LogIndex: f.LeafIndex, Bundle: f.Bundle()})
	case strings.HasPrefix(r.URL.Path, "/api/v1/rekor/entries/"):
		d.mu.Lock()
		e := d.entry
		d.mu.Unlock()
		if e == nil || strings.TrimPrefix(r.URL.Path, "/api/v1/rekor/entries/") != e.UUID {
			w.WriteHeader(404)
			reply(apitype.Error{Code: apitype.CodeNotFound, Message: "no such entry", RequestID: "req-404"})
			return
		}
		reply(e)
	case r.URL.Path == "/api/v1/trust/root":
		_, _ = w.Write(d.root)
	case r.URL.Path == "/api/v1/keys":
		pemBytes, _ := publicKeyPEM(&d.signer.PublicKey)
		id, _ := keyID(&d.signer.PublicKey)
		reply(apitype.KeyList{Keys: []apitype.Key{{Purpose: "dsse", URI: "file:/k.pem", KeyID: id, Algorithm: "ECDSA P-256", PublicKeyPEM: string(pemBytes)}}})
	case r.URL.Path == "/api/v1/system":
		reply(apitype.SystemStatus{Version: "test", PeakRSSBytes: 10 << 20})
	case r.URL.Path == "/api/v1/log/status":
		reply(apitype.LogStatus{Origin: "log.stellad.test", TreeSize: 11, RootHash: []byte{1}, Checkpoint: "log.stellad.test\n11\nAQ==\n"})
	default:
		w.WriteHeader(404)
	}
}

func TestSignCommands(t *testing.T) {
	d, url := newFakeDaemon(t)
	dir := t.TempDir()
	subj := writeFile(t, dir, "image.tar", []byte("image bytes"))
	cases := []struct {
		name     string
		args     []string
		wantType string
	}{
		{"cyclonedx", []string{"sign", "sbom", "--subject", subj, writeFile(t, dir, "cdx.json", []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`))}, "https://cyclonedx.org/bom"},
		{"spdx", []string{"sign", "sbom", "--subject", subj, writeFile(t, dir, "spdx.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))}, "https://spdx.dev/Document"},
		{"report", []string{"sign", "report", "--subject", subj, writeFile(t, dir, "vuln.json", []byte(`{"scanner":{}}`))}, "https://cosign.sigstore.dev/attestation/vuln/v1"},
		{"report typed", []string{"sign", "report", "--predicate-type", "https://example.test/r", "--subject", subj, filepath.Join(dir, "vuln.json")}, "https://example.test/r"},
		{"attest", []string{"attest", "sign", "--predicate-type", "https://slsa.dev/provenance/v1", "--predicate", filepath.Join(dir, "vuln.json"), "--subject", subj}, "https://slsa.dev/provenance/v1"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name+".bundle.json")
			r := stellactl(t, append(append([]string{"--server", url}, tt.args...), "-o", out)...)
			r.expect(t, exitOK)
			d.mu.Lock()
			req := d.lastSign
			d.mu.Unlock()
			if req.PredicateType != tt.wantType || len(req.Subjects) != 1 || req.Subjects[0].Name != "image.tar" ||
				req.Subjects[0].Digest["sha256"] != sha256hex("image bytes") {
				t.Errorf("sign request = %+v", req)
			}
			st, err := os.Stat(out)
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Fatalf("bundle file: %v, %v", st, err)
			}
			if !strings.Contains(r.stdout, "uuid: ") || !strings.Contains(r.stdout, "log index: 5") {
				t.Errorf("stdout %q", r.stdout)
			}
			// The written bundle verifies against the daemon's trust root and key.
			root := writeFile(t, dir, "root.json", d.root)
			pemBytes, _ := publicKeyPEM(&d.signer.PublicKey)
			key := writeFile(t, dir, "key.pub", pemBytes)
			stellactl(t, "attest", "verify", "--bundle", out, "--trusted-root", root, "--key", key, "--predicate-type", tt.wantType, subj).expect(t, exitOK)
		})
	}
	// --statement sends the statement verbatim.
	stmt := writeFile(t, dir, "stmt.json", []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"p","predicate":{}}`))
	stellactl(t, "--server", url, "attest", "sign", "--statement", stmt, "-o", filepath.Join(dir, "s.json")).expect(t, exitOK)
	d.mu.Lock()
	got := string(d.lastSign.Statement)
	d.mu.Unlock()
	want, _ := os.ReadFile(stmt)
	if got != string(want) {
		t.Errorf("statement sent %q, want %q", got, want)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAPIErrorExitCodes(t *testing.T) {
	d, url := newFakeDaemon(t)
	dir := t.TempDir()
	stellactl(t, "--server", url, "attest", "fetch", "deadbeef", "-o", filepath.Join(dir, "b.json")).
		expect(t, exitBadInput, "404", "not_found", "no such entry", "req-404")
	d.mu.Lock()
	d.fail["/api/v1/log/status"] = 500
	d.fail["/api/v1/keys"] = 503
	d.fail["/api/v1/trust/root"] = 400
	d.mu.Unlock()
	stellactl(t, "--server", url, "log", "status").expect(t, exitInternal, "500", "test_code", "the test says no", "req-42")
	stellactl(t, "--server", url, "key", "list").expect(t, exitInternal, "503")
	stellactl(t, "--server", url, "trust-root", "export", "-o", filepath.Join(dir, "tr.json")).expect(t, exitBadInput, "400", "test_code")
}

func TestFetchProofAndTrustRoot(t *testing.T) {
	d, url := newFakeDaemon(t)
	dir := t.TempDir()
	f, err := verifytest.New(verifytest.Config{Signer: d.signer, LogKey: d.logKey})
	if err != nil {
		t.Fatal(err)
	}
	uuid := hex.EncodeToString(verify.LeafHash(f.Body))
	entry := &apitype.EntryResponse{UUID: uuid, Index: f.LeafIndex, Bundle: f.Bundle(), Proof: apitype.InclusionProof{
		LogIndex: f.LeafIndex, TreeSize: f.TreeSize, RootHash: f.RootHash, Hashes: f.Hashes, Checkpoint: f.Checkpoint}}
	d.entry = entry

	out := filepath.Join(dir, "fetched.json")
	stellactl(t, "--server", url, "attest", "fetch", uuid, "-o", out).expect(t, exitOK)
	// The fake daemon's encoder compacts the bundle; the CLI writes what it received.
	var served bytes.Buffer
	if err := json.Compact(&served, f.Bundle()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, served.Bytes()) {
		t.Errorf("fetched bundle differs from the served one")
	}
	tr := filepath.Join(dir, "tr.json")
	stellactl(t, "--server", url, "trust-root", "export", "-o", tr).expect(t, exitOK)
	if b, _ := os.ReadFile(tr); !bytes.Equal(b, d.root) {
		t.Errorf("exported trusted root is not verbatim")
	}

	r := stellactl(t, "--server", url, "log", "proof", uuid)
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "verified") || !strings.Contains(r.stdout, "tree size: 11") {
		t.Errorf("log proof output %q", r.stdout)
	}
	stellactl(t, "--server", url, "log", "proof", "--trusted-root", tr, "--json", uuid).expect(t, exitOK)

	// A proof that does not match the checkpoint: exit 1.
	bad := *entry
	bad.Proof.Hashes = [][]byte{bytes.Repeat([]byte{7}, 32)}
	d.mu.Lock()
	d.entry = &bad
	d.mu.Unlock()
	stellactl(t, "--server", url, "log", "proof", uuid).expect(t, exitVerifyFailed, "inclusion proof")
	// A checkpoint signed by another log: exit 1.
	otherRoot, err := verifytest.TrustedRoot("https://log.stellad.test", &d.signer.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.entry = entry
	d.mu.Unlock()
	stellactl(t, "--server", url, "log", "proof", "--trusted-root", writeFile(t, dir, "other.json", otherRoot), uuid).
		expect(t, exitVerifyFailed, "checkpoint")
}

func TestBenchSign(t *testing.T) {
	d, url := newFakeDaemon(t)
	r := stellactl(t, "--server", url, "bench", "sign", "-n", "30", "-c", "4", "--predicate-size", "100", "--verify-sample", "5", "--json")
	r.expect(t, exitOK)
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("bench --json output %q: %v", r.stdout, err)
	}
	if rep.OK != 30 || rep.Requests != 30 || rep.Concurrency != 4 || rep.Verified != 5 || rep.StoppedBy != "count" ||
		rep.RawSignPerSecond <= 0 || rep.LatencyMs.Max < rep.LatencyMs.P50 || rep.PeakRSSAfterBytes != 10<<20 {
		t.Errorf("report = %+v", rep)
	}
	d.mu.Lock()
	signs := d.signs
	d.mu.Unlock()
	if signs != 30 {
		t.Errorf("daemon saw %d sign requests, want 30", signs)
	}
	h := stellactl(t, "--server", url, "bench", "sign", "-n", "5", "-c", "2")
	h.expect(t, exitOK)
	if !strings.Contains(h.stdout, "attestations/s") || !strings.Contains(h.stdout, "raw ECDSA P-256 sign/s") {
		t.Errorf("bench output %q", h.stdout)
	}
	// Errors are counted by code.
	d.mu.Lock()
	d.fail["/api/v1/signer/sign/dsse"] = 503
	d.mu.Unlock()
	r = stellactl(t, "--server", url, "bench", "sign", "-n", "4", "-c", "2", "--json")
	r.expect(t, exitOK)
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Errors["test_code"] != 4 {
		t.Errorf("error counts = %v (%v)", rep.Errors, err)
	}
}
