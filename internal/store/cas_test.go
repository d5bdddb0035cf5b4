package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestCAS(t testing.TB) (*CAS, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := OpenCAS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func objectFile(dir string, d [32]byte) string {
	h := hex.EncodeToString(d[:])
	return filepath.Join(dir, "sha256", h[:2], h)
}

func TestCASPutGetHas(t *testing.T) {
	c, dir := openTestCAS(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", []byte{}},
		{"small", []byte(`{"payloadType":"application/vnd.in-toto+json"}`)},
		{"binary", []byte{0, 1, 2, 0xff, '\n'}},
		{"1 MiB", bytes.Repeat([]byte("stellad"), 1<<20/7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sha256.Sum256(tt.data)
			if ok, err := c.Has(want); err != nil || ok {
				t.Fatalf("Has before Put = %v, %v", ok, err)
			}
			d, err := c.Put(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if d != want {
				t.Fatalf("Put digest %x, want %x", d, want)
			}
			if ok, err := c.Has(d); err != nil || !ok {
				t.Fatalf("Has after Put = %v, %v", ok, err)
			}
			got, err := c.Get(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Fatal("Get returned other bytes")
			}
			fi, err := os.Stat(objectFile(dir, d))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != 0o600 {
				t.Errorf("object mode %v, want 0600", fi.Mode())
			}
			for _, p := range []string{filepath.Dir(objectFile(dir, d)), filepath.Dir(filepath.Dir(objectFile(dir, d)))} {
				if fi, err := os.Stat(p); err != nil || fi.Mode() != os.ModeDir|0o700 {
					t.Errorf("%s: mode %v (err %v), want drwx------", p, fi.Mode(), err)
				}
			}
		})
	}
}

func TestCASPutIsIdempotent(t *testing.T) {
	c, dir := openTestCAS(t)
	data := []byte("envelope")
	d, err := c.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(objectFile(dir, d))
	if d2, err := c.Put(data); err != nil || d2 != d {
		t.Fatalf("second Put = %x, %v", d2, err)
	}
	after, _ := os.Stat(objectFile(dir, d))
	if !os.SameFile(before, after) {
		t.Error("second Put rewrote the object")
	}
}

func TestCASGetMissing(t *testing.T) {
	c, _ := openTestCAS(t)
	_, err := c.Get(sha256.Sum256([]byte("never stored")))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestCASCorruptObject(t *testing.T) {
	c, dir := openTestCAS(t)
	data := []byte("the real envelope")
	d, err := c.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	file := objectFile(dir, d)
	if err := os.WriteFile(file, []byte("the REAL envelope"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(d)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), hex.EncodeToString(d[:])) {
		t.Fatalf("err = %v, want ErrCorrupt naming the object", err)
	}
	// Put with the right bytes heals the object.
	if _, err := c.Put(data); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(d); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after healing: %q, %v", got, err)
	}
}

func TestCASConcurrentPutSameObject(t *testing.T) {
	c, dir := openTestCAS(t)
	data := bytes.Repeat([]byte("same object "), 10000)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if d, err := c.Put(data); err != nil || d != sha256.Sum256(data) {
				t.Errorf("Put = %x, %v", d, err)
			}
		})
	}
	wg.Wait()
	got, err := c.Get(sha256.Sum256(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(objectFile(dir, sha256.Sum256(data))))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the object", len(entries))
	}
}

const crashEnv = "STELLAD_CAS_CRASH_DIR"

// TestCASKilledPut kills a process in the middle of a Put (after the temporary
// file is written, before the rename) and checks that the next OpenCAS
// removes the leftover while the objects stored before survive.
func TestCASKilledPut(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		// Child: store one object, then stop forever just before renaming the
		// second, and let the parent kill us.
		c, err := OpenCAS(dir)
		if err != nil {
			os.Exit(2)
		}
		if _, err := c.Put([]byte("survivor")); err != nil {
			os.Exit(3)
		}
		c.beforeRename = func() {
			os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
			select {}
		}
		c.Put([]byte("interrupted"))
		os.Exit(4)
	}

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCASKilledPut$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if !waitForFile(filepath.Join(dir, "ready"), done) {
		t.Fatalf("child exited early: %s", out)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done

	leftovers := func() []string {
		var tmp []string
		filepath.WalkDir(filepath.Join(dir, "sha256"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
				tmp = append(tmp, p)
			}
			return nil
		})
		return tmp
	}
	if len(leftovers()) != 1 {
		t.Fatalf("want one temporary file left by the killed Put, found %v", leftovers())
	}
	c, err := OpenCAS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tmp := leftovers(); len(tmp) != 0 {
		t.Errorf("OpenCAS left %v", tmp)
	}
	if ok, _ := c.Has(sha256.Sum256([]byte("interrupted"))); ok {
		t.Error("the interrupted object exists")
	}
	if got, err := c.Get(sha256.Sum256([]byte("survivor"))); err != nil || string(got) != "survivor" {
		t.Errorf("object stored before the crash: %q, %v", got, err)
	}
	if _, err := c.Put([]byte("interrupted")); err != nil {
		t.Errorf("Put after recovery: %v", err)
	}
}

// waitForFile waits until path exists or the child exits.
func waitForFile(path string, exited <-chan error) bool {
	for {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		select {
		case err := <-exited:
			_ = err
			return false
		default:
		}
		time.Sleep(time.Millisecond) // polling, not a timing assertion
	}
}
