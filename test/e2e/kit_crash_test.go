package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellad/internal/apitype"
)

// TestKitImportKill9: stellad is killed with SIGKILL at several points of
// the import of a kit carrying a 300,000-entry log's checkpoint and its
// ~1,200 tiles: while the kit is still being uploaded, once the first
// mirrored tile is on disk, once half of them are, and right after the
// daemon logged the import. Each time it is started again and its state is
// exactly the old one (kit status byte-identical, no mirrored checkpoint,
// no mirror file left) or exactly the new one (the kit's source and
// sequence, the checkpoint and every tile served as carried); importing the
// kit again then succeeds (old) or is refused as a replay (new). The points
// are reached by watching the daemon's files and log, not by sleeping.
func TestKitImportKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300,000-entry log")
	}
	work := t.TempDir()
	const size = 300_000
	pub := newPublicRekor(t, size)
	kk := newKitKey(t, work, "kit-key", 21)
	files := pub.kitFiles(t, size, true, pub.witnesses...)
	kitPath := buildKit(t, filepath.Join(work, "big.kit"), "build.example", 1, files, kk)
	kitBytes, err := os.ReadFile(kitPath)
	if err != nil {
		t.Fatal(err)
	}
	var tilePaths []string
	for p := range files {
		if strings.HasPrefix(p, "tiles/") {
			tilePaths = append(tilePaths, p)
		}
	}
	t.Logf("kit: %d bytes, %d tiles", len(kitBytes), len(tilePaths))

	points := []struct {
		name string
		// wait blocks until the import reached the point; it may return
		// early if the import finished first (the state is then new).
		wait func(t *testing.T, d *daemon, upload <-chan struct{})
	}{
		{"upload in flight", nil},
		{"first mirrored tile on disk", func(t *testing.T, d *daemon, done <-chan struct{}) {
			waitFor(t, done, func() bool { return countFiles(filepath.Join(d.dataDir, "mirror", rekorOrigin)) > 0 })
		}},
		{"half of the tiles on disk", func(t *testing.T, d *daemon, done <-chan struct{}) {
			waitFor(t, done, func() bool { return countFiles(filepath.Join(d.dataDir, "mirror", rekorOrigin)) >= len(tilePaths)/2 })
		}},
		{"import logged", func(t *testing.T, d *daemon, done <-chan struct{}) {
			waitFor(t, nil, func() bool { return strings.Contains(d.logs.String(), `"msg":"kit imported"`) })
		}},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			d := startKitDaemon(t, "appliance-k", 1, kk)
			dctl := func(args ...string) (string, string, int) {
				return ctl(t, "", nil, append([]string{"--admin-socket", d.adminSocket()}, args...)...)
			}
			status := func() string {
				out, errs, code := dctl("kit", "status", "--json")
				if code != 0 {
					t.Fatalf("kit status: exit %d: %s", code, errs)
				}
				return out
			}
			before := status()

			done := make(chan struct{})
			pr, pw := io.Pipe()
			go func() {
				defer close(done)
				_, _ = postKit(d.adminSocket(), pr)
			}()
			half := len(kitBytes) / 2
			if _, err := pw.Write(kitBytes[:half]); err != nil {
				t.Fatalf("uploading the first half: %v", err)
			}
			if pt.wait == nil {
				d.kill()
				pw.CloseWithError(io.ErrClosedPipe)
			} else {
				go func() { _, _ = pw.Write(kitBytes[half:]); pw.Close() }()
				pt.wait(t, d, done)
				d.kill()
			}
			<-done
			d.start()

			st := status()
			cp, cpCode := httpGet(t, d.url+"/api/v2/mirror/"+rekorOrigin+"/checkpoint")
			mirrored := countFiles(filepath.Join(d.dataDir, "mirror", rekorOrigin))
			var s apitype.KitStatus
			if err := json.Unmarshal([]byte(st), &s); err != nil {
				t.Fatal(err)
			}
			newState := len(s.Sources) == 1
			t.Logf("after kill -9 at %q: %s state (%d mirror files)", pt.name, map[bool]string{false: "old", true: "new"}[newState], mirrored)
			if !newState {
				if st != before || cpCode != http.StatusNotFound || mirrored != 0 {
					t.Fatalf("neither old nor new: status %s (before %s), checkpoint %d, %d mirror files left", st, before, cpCode, mirrored)
				}
				if _, errs, code := dctl("kit", "import", kitPath); code != 0 {
					t.Fatalf("importing again after the crash: exit %d: %s", code, errs)
				}
			} else {
				if s.Sources[0].Source != "build.example" || s.Sources[0].Sequence != 1 || len(s.Origins) != 1 ||
					s.Origins[0].TreeSize != size || s.Origins[0].TilesSize != size || cpCode != http.StatusOK ||
					!bytes.Equal(cp, files["checkpoints/"+rekorOrigin+"/checkpoint"]) {
					t.Fatalf("neither old nor new: status %s, checkpoint %d %q", st, cpCode, cp)
				}
				if _, errs, code := dctl("kit", "import", kitPath); code != 1 || !strings.Contains(errs, "replayed") {
					t.Fatalf("importing the committed kit again: exit %d, want 1 and replayed: %s", code, errs)
				}
			}
			// Either way every tile is now served as the kit carried it.
			for _, p := range tilePaths {
				got, code := httpGet(t, d.url+"/api/v2/mirror/"+strings.TrimPrefix(p, "tiles/"))
				if code != http.StatusOK || !bytes.Equal(got, files[p]) {
					t.Fatalf("mirrored %s: %d, %d bytes; want the kit's %d bytes", p, code, len(got), len(files[p]))
				}
			}
		})
	}
}

// postKit uploads a kit through the admin socket from r.
func postKit(sock string, r io.Reader) (int, error) {
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, err := http.NewRequest(http.MethodPost, "http://stellad.sock/api/v1/admin/kit/import", r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// waitFor polls cond (bounded at two minutes) until it holds or done is
// closed.
func waitFor(t *testing.T, done <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		select {
		case <-done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within two minutes")
		}
		time.Sleep(time.Millisecond)
	}
}

// countFiles counts the regular files below dir (0 if it does not exist).
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func httpGet(t *testing.T, url string) ([]byte, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}
