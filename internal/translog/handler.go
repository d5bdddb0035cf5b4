package translog

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/stellaops/stellad/internal/tilefs"
)

// tilePathRE matches C2SP tlog-tiles resource paths: /tile/<L>/<N>[.p/<W>] and
// /tile/entries/<N>[.p/<W>], where N is written in 3-digit groups, all but the last prefixed
// with "x" (x001/x234/067). Canonical form is enforced afterwards by re-encoding.
var tilePathRE = regexp.MustCompile(`^/tile/(entries|[0-9]{1,2})/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([0-9]{1,3}))?$`)

// resource is a parsed tlog-tiles path.
type resource struct {
	checkpoint bool
	entries    bool
	level      uint64
	index      uint64
	width      uint8 // 0 for a full tile or bundle
}

// relPath is the resource's path relative to the log directory, as Tessera writes it.
func (r resource) relPath() string {
	switch {
	case r.checkpoint:
		return layout.CheckpointPath
	case r.entries:
		return layout.EntriesPath(r.index, r.width)
	default:
		return layout.TilePath(r.level, r.index, r.width)
	}
}

// parseResource parses a request path (with or without its leading slash) into a resource.
// Only canonical C2SP tlog-tiles paths are accepted: levels 0-63, widths 1-255, no leading
// zero groups, nothing else.
func parseResource(p string) (resource, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if p == "/checkpoint" {
		return resource{checkpoint: true}, nil
	}
	m := tilePathRE.FindStringSubmatch(p)
	if m == nil {
		return resource{}, fmt.Errorf("not a tlog-tiles path: %q", p)
	}
	var r resource
	if m[1] == "entries" {
		r.entries = true
	} else {
		lvl, err := strconv.ParseUint(m[1], 10, 8)
		if err != nil || lvl > 63 {
			return resource{}, fmt.Errorf("bad tile level %q", m[1])
		}
		r.level = lvl
	}
	idx, err := strconv.ParseUint(strings.NewReplacer("x", "", "/", "").Replace(m[2]), 10, 64)
	if err != nil {
		return resource{}, fmt.Errorf("bad tile index %q: %w", m[2], err)
	}
	r.index = idx
	if m[3] != "" {
		w, err := strconv.ParseUint(m[3], 10, 8)
		if err != nil || w == 0 || w >= layout.TileWidth {
			return resource{}, fmt.Errorf("bad partial width %q", m[3])
		}
		r.width = uint8(w)
	}
	if got := "/" + r.relPath(); got != p {
		return resource{}, fmt.Errorf("non-canonical tlog-tiles path %q (want %q)", p, got)
	}
	return r, nil
}

// Handler returns a read-only http.Handler for the C2SP tlog-tiles read API, relative to the
// handler's root: /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>], served
// from the log directory. Anything else is 404; methods other than GET and HEAD are 405.
// Full tiles and bundles are immutable and cached for a year; the checkpoint and partial
// resources are served with no-cache. Mount it with http.StripPrefix.
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serveTiles)
}

// serveTiles implements Handler.
func (l *Log) serveTiles(w http.ResponseWriter, r *http.Request) {
	res, err := parseResource(r.URL.Path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f := tilefs.File{Rel: res.relPath(), ContentType: "application/octet-stream", Mutable: res.checkpoint || res.width != 0}
	if res.checkpoint {
		f.ContentType = "text/plain; charset=utf-8"
	}
	tilefs.Serve(w, r, l.cfg.Dir, f, l.cfg.Logger)
}
