package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellad/internal/apitype"
)

// TestCLIAgainstDaemon drives the read side of stellactl against a real
// daemon: list, fetch, log status, log proof, log consistency, key list, and
// the exit code when the daemon is unreachable.
func TestCLIAgainstDaemon(t *testing.T) {
	trustDir := t.TempDir()
	allow := writeFile(t, filepath.Join(trustDir, "scanner-allowlist.txt"), []byte("# the scanner of this test\n"+scannerDigest+"\n"))
	d := startDaemon(t, t.TempDir(), nil, "--scanner-allowlist", allow)
	// The appliance's memory budget when idle: 64 MiB resident.
	var sys apitype.SystemStatus
	getJSON(t, d.url+"/api/v1/system", &sys)
	if sys.RSSBytes == 0 || sys.RSSBytes > 64<<20 {
		t.Errorf("idle stellad holds %d bytes resident; the budget is 64 MiB", sys.RSSBytes)
	}
	s := signOne(t, d, nil) // four entries; the last is s.bundle

	out := mustCtl(t, d.url, nil, "attest", "list", "--json")
	var list struct {
		Entries []struct {
			UUID  string `json:"uuid"`
			Index uint64 `json:"index"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("attest list --json: %v\n%s", err, out)
	}
	if len(list.Entries) != 4 {
		t.Fatalf("attest list shows %d entries, want 4:\n%s", len(list.Entries), out)
	}
	last := list.Entries[3]
	bySubject := mustCtl(t, d.url, nil, "attest", "list", "--subject", s.artifact, "--json")
	if !strings.Contains(bySubject, last.UUID) || strings.Contains(bySubject, list.Entries[0].UUID) {
		t.Errorf("attest list --subject %s does not select exactly the artifact's entry:\n%s", s.artifact, bySubject)
	}

	fetched := filepath.Join(t.TempDir(), "fetched.json")
	mustCtl(t, d.url, nil, "attest", "fetch", last.UUID, "-o", fetched)
	issued, _ := os.ReadFile(s.bundle)
	if got, _ := os.ReadFile(fetched); !bytes.Equal(got, issued) {
		t.Errorf("attest fetch gave a bundle that differs from the one issued")
	}

	status := mustCtl(t, d.url, nil, "log", "status", "--json")
	var st struct {
		Origin   string `json:"origin"`
		TreeSize uint64 `json:"treeSize"`
	}
	if err := json.Unmarshal([]byte(status), &st); err != nil || st.Origin != "localhost" {
		t.Fatalf("log status: %+v, %v\n%s", st, err, status)
	}
	// The published checkpoint trails by up to its interval; the proof command
	// verifies whatever it gets against the trusted root.
	proofOut := mustCtl(t, d.url, nil, "log", "proof", last.UUID, "--json")
	if !strings.Contains(proofOut, `"hashes"`) {
		t.Errorf("log proof printed no hashes:\n%s", proofOut)
	}
	if st.TreeSize >= 2 {
		mustCtl(t, d.url, nil, "log", "consistency", "--from", "1", "--to", "2")
	}
	// A checkpoint held from an earlier bundle is proved consistent with the log now.
	var b struct {
		VerificationMaterial struct {
			TlogEntries []struct {
				InclusionProof struct {
					Checkpoint struct {
						Envelope string `json:"envelope"`
					} `json:"checkpoint"`
				} `json:"inclusionProof"`
			} `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(issued, &b); err != nil || len(b.VerificationMaterial.TlogEntries) != 1 {
		t.Fatalf("reading the bundle's checkpoint: %v", err)
	}
	held := b.VerificationMaterial.TlogEntries[0].InclusionProof.Checkpoint.Envelope
	heldPath := writeFile(t, filepath.Join(t.TempDir(), "held.checkpoint"), []byte(held))
	if out := mustCtl(t, d.url, nil, "log", "consistency", "--checkpoint", heldPath); !strings.Contains(out, "consistent") {
		t.Errorf("log consistency --checkpoint printed %q", out)
	}
	forged := writeFile(t, filepath.Join(t.TempDir(), "forged.checkpoint"), []byte(strings.Replace(held, "\n4\n", "\n5\n", 1)))
	if _, errs, code := ctl(t, d.url, nil, "log", "consistency", "--checkpoint", forged); code != 1 {
		t.Errorf("log consistency with a forged checkpoint: exit %d, want 1\n%s", code, errs)
	}
	// The SBOM shorthand: predicate type from the document, verified as such.
	dir := t.TempDir()
	sbom := writeFile(t, filepath.Join(dir, "sbom.json"), []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}`))
	sbomBundle := filepath.Join(dir, "sbom.bundle.json")
	if _, errs, code := ctl(t, d.url, nil, "sign", "sbom", "--subject", s.artifact, sbom, "-o", sbomBundle); code != 2 || !strings.Contains(errs, "scanner_digest_missing") {
		t.Errorf("sign sbom without --scanner-digest: exit %d, want 2 and scanner_digest_missing:\n%s", code, errs)
	}
	mustCtl(t, d.url, nil, "sign", "sbom", "--scanner-digest", scannerDigest, "--subject", s.artifact, sbom, "-o", sbomBundle)
	mustCtl(t, "", nil, "attest", "verify", "--bundle", sbomBundle, "--trusted-root", s.trustedRoot, "--key", s.key,
		"--predicate-type", "https://cyclonedx.org/bom", s.artifact)
	keys := mustCtl(t, d.url, nil, "key", "list")
	for _, purpose := range []string{"dsse", "checkpoint"} {
		if !strings.Contains(keys, purpose) {
			t.Errorf("key list does not show the %s key:\n%s", purpose, keys)
		}
	}
	if _, errs, code := ctl(t, d.url, nil, "attest", "fetch", strings.Repeat("00", 32), "-o", fetched); code != 2 || !strings.Contains(errs, "not_found") {
		t.Errorf("fetch of an unknown uuid: exit %d, want 2 naming not_found\n%s", code, errs)
	}
	d.stop()
	if _, errs, code := ctl(t, d.url, nil, "log", "status"); code != 3 || !strings.Contains(errs, d.url) {
		t.Errorf("log status against a stopped daemon: exit %d, want 3 naming %s\n%s", code, d.url, errs)
	}
}

// scannerDigest is the scanner image the CLI test's SBOMs name; the daemon
// trusts it through its allowlist.
const scannerDigest = "sha256:5c0ac6d7d2bd10a1b20ba6ef7b8e5b7fa5f25a7b5e8a4a43c6d9c1b4cfa0e101"
