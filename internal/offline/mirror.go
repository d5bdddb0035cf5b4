package offline

import (
	"database/sql"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// MirrorHandler returns a read-only http.Handler serving the mirrored log of
// origin with the C2SP tlog-tiles read API, relative to its root:
// /checkpoint (the accepted checkpoint, from the database) and
// /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>] (from
// DataDir/mirror/<origin>/), only for tiles within the committed tiles size,
// so that files of an import that did not commit are never served. Anything
// else is 404; methods other than GET and HEAD are 405. Mount it with
// http.StripPrefix, e.g. at /api/v2/mirror/<origin>/.
func (s *Service) MirrorHandler(origin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !validOrigin(origin) {
			http.NotFound(w, r)
			return
		}
		var size, tiles int64
		var note []byte
		err := s.cfg.DB.Read().QueryRowContext(r.Context(), `SELECT tree_size, tiles_size, note FROM kit_checkpoints
			WHERE origin = ? ORDER BY tree_size DESC LIMIT 1`, origin).Scan(&size, &tiles, &note)
		if errors.Is(err, sql.ErrNoRows) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.cfg.Logger.Error("mirror: reading checkpoint", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "checkpoint" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(note)
			return
		}
		id, err := parseTilePath(p)
		if err != nil || !id.validFor(uint64(tiles)) {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(s.mirror, origin, filepath.FromSlash(p)))
		if err != nil {
			// A partial tile may have been superseded by a fuller file.
			full := id
			full.width = 0
			if id.width == 0 {
				http.NotFound(w, r)
				return
			}
			b, err = readWide(filepath.Join(s.mirror, origin), full, int(id.width))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			b, err = truncateTile(id, b)
			if err != nil {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if id.width == 0 {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Write(b)
	})
}

// truncateTile cuts a fuller tile or entry bundle down to id's width.
func truncateTile(id tileID, b []byte) ([]byte, error) {
	n := int(id.count())
	if !id.entries {
		if len(b) < n*32 {
			return nil, errors.New("tile too short")
		}
		return b[:n*32], nil
	}
	es, err := splitBundle(b)
	if err != nil || len(es) < n {
		return nil, errors.New("entry bundle too short")
	}
	return joinBundle(es[:n]), nil
}
