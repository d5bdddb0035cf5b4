package softhsmtest

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestNewToken(t *testing.T) {
	a := NewToken(t, "first")
	b := NewToken(t, "second")
	if a.ConfPath != b.ConfPath {
		t.Errorf("tokens of one test use different configurations: %s, %s", a.ConfPath, b.ConfPath)
	}
	if got := os.Getenv("SOFTHSM2_CONF"); got != a.ConfPath {
		t.Errorf("SOFTHSM2_CONF = %q; want %q", got, a.ConfPath)
	}
	fi, err := os.Stat(a.PINFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("PIN file mode %04o; want 0600", fi.Mode().Perm())
	}
	// A subprocess given Env sees both tokens.
	cmd := exec.Command("softhsm2-util", "--show-slots")
	cmd.Env = append(os.Environ(), a.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	for _, label := range []string{"first", "second"} {
		if !strings.Contains(string(out), label) {
			t.Errorf("--show-slots output lacks token %q:\n%s", label, out)
		}
	}
	if want := "pkcs11:token=first;object=k%20" + "1?module-path=" + a.ModulePath + "&pin-source=" + a.PINFile; a.URI("k 1") != want {
		t.Errorf("URI = %s; want %s", a.URI("k 1"), want)
	}
}

// fatalTB records Fatalf and stops the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = format
	f.mu.Unlock()
	runtime.Goexit()
}

// TestNewTokenFailsWithoutSoftHSM checks that a missing softhsm2-util fails
// the test (it does not skip) with an install hint.
func TestNewTokenFailsWithoutSoftHSM(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewToken(f, "x")
	}()
	<-done
	if !strings.Contains(f.msg, "softhsm2-util not in PATH") || !strings.Contains(installHint, "apt-get install -y softhsm2") {
		t.Fatalf("Fatalf message %q; want one naming softhsm2-util with an install hint", f.msg)
	}
}
