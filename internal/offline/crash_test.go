package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCrashChild is the child process of TestImportCrashSafety: it imports
// the kit in OFFLINE_CRASH_DIR and kills itself with SIGKILL at the stage
// named by OFFLINE_CRASH_STAGE.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("OFFLINE_CRASH_DIR")
	if dir == "" {
		t.Skip("child process of TestImportCrashSafety")
	}
	stage := os.Getenv("OFFLINE_CRASH_STAGE")
	der, _ := hex.DecodeString(os.Getenv("OFFLINE_CRASH_PEER"))
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, filepath.Join(dir, "stellad.db"))
	svc, err := New(context.Background(), Config{DB: db, DataDir: dir, KitKeys: []crypto.PublicKey{edKey(77).Public()}, Now: now,
		Peers: []Peer{{Origin: "a.example", Key: pub}}})
	if err != nil {
		t.Fatal(err)
	}
	svc.setHook(func(s string) {
		if s == stage {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	k, err := os.ReadFile(filepath.Join(dir, "kit.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Import(context.Background(), bytes.NewReader(k), "crash"); err != nil {
		t.Fatal(err)
	}
}

func TestImportCrashSafety(t *testing.T) {
	ctx := context.Background()
	a := newAppliance(t, "a.example")
	a.sign(t, 300)
	k1 := a.export(t, 0)
	a.sign(t, 150)
	k2 := a.export(t, 300)
	der, _ := x509.MarshalPKIXPublicKey(a.logKey.Public())
	peer := []Peer{{Origin: a.origin, Key: a.logKey.Public()}}
	open := func(dir string) (*Service, func()) {
		db := openDB(t, filepath.Join(dir, "stellad.db"))
		svc, err := New(ctx, Config{DB: db, DataDir: dir, KitKeys: []crypto.PublicKey{edKey(77).Public()}, Now: now, Peers: peer})
		if err != nil {
			t.Fatal(err)
		}
		return svc, func() { db.Close() }
	}
	var final string
	for _, stage := range []string{"opened", "verified", "tile", "tiles-written", "before-commit", "committed", "none"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			svc, done := open(dir)
			if _, err := svc.Import(ctx, bytes.NewReader(k1), "setup"); err != nil {
				t.Fatal(err)
			}
			old := dump(t, svc.cfg.DB)
			done()
			if err := os.WriteFile(filepath.Join(dir, "kit.tar.gz"), k2, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "OFFLINE_CRASH_DIR="+dir, "OFFLINE_CRASH_STAGE="+stage, "OFFLINE_CRASH_PEER="+hex.EncodeToString(der))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
			if stage != "none" && !killed {
				t.Fatalf("child was not killed at %s: %v\n%s", stage, err, out)
			}
			if stage == "none" && err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}

			svc, done = open(dir) // New cleans uncommitted mirror files
			defer done()
			now := dump(t, svc.cfg.DB)
			srv := httptest.NewServer(svc.MirrorHandler(a.origin))
			defer srv.Close()
			switch {
			case now == old:
				if _, err := os.Stat(filepath.Join(dir, "mirror", a.origin, "tile", "0", "001.p", "194")); !os.IsNotExist(err) {
					t.Fatalf("an uncommitted tile survived New: %v", err)
				}
				checkMirror(t, srv.URL, a, 300)
				if _, err := svc.Import(ctx, bytes.NewReader(k2), "crash"); err != nil {
					t.Fatalf("import after a crash with the old state: %v", err)
				}
			case strings.Contains(now, "kit_checkpoints: a.example 450"):
				if _, err := svc.Import(ctx, bytes.NewReader(k2), "crash"); !errors.Is(err, ErrReplay) {
					t.Fatalf("re-import after a crash with the new state: %v", err)
				}
			default:
				t.Fatalf("state after a crash at %s is neither old nor new:\n%s", stage, now)
			}
			checkMirror(t, srv.URL, a, 450)
			got := dump(t, svc.cfg.DB)
			if final == "" {
				final = got
			} else if got != final {
				t.Fatalf("final state after a crash at %s differs from the others", stage)
			}
			if stage == "before-commit" && now != old || stage == "committed" && now == old {
				t.Fatalf("crash at %s left the wrong state", stage)
			}
		})
	}
}
