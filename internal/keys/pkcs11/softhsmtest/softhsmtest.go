// Package softhsmtest creates throw-away SoftHSM2 tokens for tests: a
// softhsm2.conf and token directory in t.TempDir(), an initialised token and a
// PIN file. It is imported only by tests (this module's unit and end-to-end
// tests); it fails the test, with an install hint, when SoftHSM2 is missing.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellad/internal/keys/pkcs11"
)

// Fixed secrets of every test token.
const (
	PIN   = "1234"
	SOPIN = "5678"
)

// modulePaths are where Debian, Ubuntu, Fedora and Homebrew install the module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

const installHint = "install SoftHSM2 (Debian/Ubuntu: apt-get install -y softhsm2; Fedora: dnf install softhsm) or set SOFTHSM2_MODULE to libsofthsm2.so"

// Token is an initialised SoftHSM2 token private to one test.
type Token struct {
	// Label is the token label (the URI's token= value).
	Label string
	// ModulePath is the absolute path of libsofthsm2.so.
	ModulePath string
	// ConfPath is the softhsm2.conf that points at this token's directory.
	ConfPath string
	// PINFile holds the user PIN (mode 0600).
	PINFile string
	// Env is SOFTHSM2_CONF=ConfPath, for starting a subprocess (stellad,
	// softhsm2-util) against the same token: append it to os.Environ().
	Env []string
}

// ModulePath returns the SoftHSM2 PKCS#11 module: $SOFTHSM2_MODULE if set,
// else the first well-known install path that exists. It fails t when there
// is none.
func ModulePath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SOFTHSM2_MODULE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SOFTHSM2_MODULE: %v", err)
		}
		return p
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("softhsmtest: libsofthsm2.so not found in %v: %s", modulePaths, installHint)
	return ""
}

// NewToken writes a softhsm2.conf (file object store, token directory in
// t.TempDir()), points SOFTHSM2_CONF at it with t.Setenv (so the test must not
// be parallel), initialises a token named label with user PIN "1234" and SO
// PIN "5678", and writes the PIN to a 0600 file. Several tokens made in one
// test share the SOFTHSM2_CONF of the first, so they are all visible to one
// loaded module. It fails t when softhsm2-util or the module is missing.
func NewToken(t testing.TB, label string) *Token {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsmtest: softhsm2-util not in PATH: %s", installHint)
	}
	module := ModulePath(t)

	conf := os.Getenv("SOFTHSM2_CONF")
	dir := ""
	if conf == "" || !ownConf(conf) {
		dir = t.TempDir()
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(dir, confName)
		body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SOFTHSM2_CONF", conf)
	} else {
		dir = filepath.Dir(conf)
	}
	env := []string{"SOFTHSM2_CONF=" + conf}

	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token --label %s: %v\n%s", label, err, out)
	}
	pinFile := filepath.Join(dir, label+".pin")
	if err := os.WriteFile(pinFile, []byte(PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Token{Label: label, ModulePath: module, ConfPath: conf, PINFile: pinFile, Env: env}
}

// confName marks a softhsm2.conf written by this package.
const confName = "softhsmtest-softhsm2.conf"

func ownConf(path string) bool { return filepath.Base(path) == confName }

// URI returns a pkcs11 URI for the key labelled object in this token, with
// module-path and pin-source set.
func (tk *Token) URI(object string) string {
	u := pkcs11.URI{Token: tk.Label, Object: object, ModulePath: tk.ModulePath, PINSource: tk.PINFile}
	return u.String()
}

// TokenURI returns a pkcs11 URI naming the token only (for List).
func (tk *Token) TokenURI() string {
	u := pkcs11.URI{Token: tk.Label, ModulePath: tk.ModulePath, PINSource: tk.PINFile}
	return u.String()
}
