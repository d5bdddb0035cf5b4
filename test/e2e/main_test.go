// Package e2e drives the real binaries: it builds stellad and stellactl, starts
// the daemon on 127.0.0.1, signs through stellactl and HTTP, verifies with
// stellactl and stock cosign, and kills the daemon under load.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	stelladBin   string
	stellactlBin string
	cosignBin    string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stellad-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	stelladBin = filepath.Join(dir, "stellad")
	stellactlBin = filepath.Join(dir, "stellactl")
	for bin, pkg := range map[string]string{stelladBin: "../../cmd/stellad", stellactlBin: "../../cmd/stellactl"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			return 1
		}
	}
	cosignBin = findCosign()
	return m.Run()
}

// findCosign looks for cosign on PATH and in GOPATH/bin (where `make test-deps` puts it).
func findCosign() string {
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "cosign")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func requireCosign(t *testing.T) string {
	t.Helper()
	if cosignBin == "" {
		t.Fatal("cosign not found on PATH or in $(go env GOPATH)/bin: run `make test-deps` (installs cosign v3.1.3 with go install)")
	}
	return cosignBin
}

// daemon is a running stellad.
type daemon struct {
	t       *testing.T
	dataDir string
	url     string
	args    []string
	env     []string
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaemon starts stellad --dev on a free loopback port with dataDir.
func startDaemon(t *testing.T, dataDir string, env []string, extra ...string) *daemon {
	t.Helper()
	port := freePort(t)
	d := &daemon{
		t:       t,
		dataDir: dataDir,
		url:     fmt.Sprintf("http://127.0.0.1:%d", port),
		args: append([]string{"serve", "--dev", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--public-url", fmt.Sprintf("http://localhost:%d", port), "--log-level", "info"}, extra...),
		env: env,
	}
	d.start()
	register(d)
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("stellad log:\n%s", tail(d.logs.String(), 4000))
		}
	})
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	d.logs = &syncBuffer{}
	d.cmd = exec.Command(stelladBin, d.args...)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("starting stellad: %v", err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			d.t.Fatalf("stellad exited during start-up:\n%s", d.logs.String())
		default:
		}
		resp, err := http.Get(d.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("stellad not ready after 60s:\n%s", d.logs.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(80 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("stellad did not stop within 80s of SIGTERM")
	}
}

// kill sends SIGKILL and waits.
func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// ctl runs stellactl against the daemon and returns stdout, stderr and the exit code.
func ctl(t *testing.T, serverURL string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stellactlBin, args...)
	cmd.Env = append(os.Environ(), env...)
	if d := daemonFor(serverURL); d != nil && !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "STELLAD_TOKEN_FILE=") }) {
		cmd.Env = append(cmd.Env, d.devCredentials()...)
	}
	if serverURL != "" {
		cmd.Env = append(cmd.Env, "STELLAD_URL="+serverURL)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running stellactl %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// mustCtl runs stellactl and fails the test unless it exits 0.
func mustCtl(t *testing.T, serverURL string, env []string, args ...string) string {
	t.Helper()
	out, errs, code := ctl(t, serverURL, env, args...)
	if code != 0 {
		t.Fatalf("stellactl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// cosignVerify runs cosign verify-blob-attestation offline and returns its exit code and output.
func cosignVerify(t *testing.T, bundlePath, keyPath, trustedRoot, predicateType, artifact string) (int, string) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireCosign(t), "verify-blob-attestation", "--bundle", bundlePath, "--key", keyPath,
		"--trusted-root", trustedRoot, "--type", predicateType, artifact)
	cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"), "SIGSTORE_NO_CACHE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running cosign: %v", err)
		}
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := httpClientFor(t, url).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decoding %s: %v", url, b, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
