// Package tilefs holds what the appliance's tiled logs (the transparency log
// in internal/translog and the CT log in internal/ctlog) share about the
// directory a Tessera POSIX log lives in: one writer at a time (LockDir), and
// serving its files read-only over HTTP with the caching rules of the tiled
// log specifications (Serve).
package tilefs

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
)

// LockDir takes an exclusive, non-blocking flock on the file name in dir, so
// that a second process (or a second Log in this one) cannot write the same
// log. what names the log in the error. Closing the returned file releases
// the lock.
func LockDir(dir, name, what string) (*os.File, error) {
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s (is another stellad using this %s?): %w", p, what, err)
	}
	return f, nil
}

// File is one resource of a tiled log, already parsed from a canonical path.
type File struct {
	// Rel is the path relative to the log directory, slash-separated; the
	// caller derived it from a validated request path.
	Rel string
	// ContentType is the media type to answer with.
	ContentType string
	// Mutable marks resources that change (the checkpoint, partial tiles):
	// they are served with no-cache; the rest is immutable and cached for a
	// year.
	Mutable bool
}

// Serve answers r with f from dir: 404 when it does not exist or is not a
// regular file, 500 (logged) when it cannot be opened, otherwise its bytes
// with f's content type and caching, through http.ServeContent (ranges,
// conditional requests, HEAD). Only GET and HEAD are allowed (405).
func Serve(w http.ResponseWriter, r *http.Request, dir string, f File, logger *slog.Logger) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	fh, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Rel)))
	if err != nil {
		if os.IsNotExist(err) {
			http.NotFound(w, r)
			return
		}
		logger.Error("cannot open a log resource", "path", f.Rel, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	if f.Mutable {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", fi.ModTime(), fh)
}
