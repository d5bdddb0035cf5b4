package ctlog

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"

	"github.com/stellaops/stellad/internal/tilefs"
)

var (
	// tilePathRE matches /tile/<L>/<N>[.p/<W>] and /tile/data/<N>[.p/<W>], N in 3-digit
	// groups, all but the last prefixed with "x". Canonical form is checked by re-encoding.
	tilePathRE = regexp.MustCompile(`^/tile/(data|[0-9]{1,2})/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([0-9]{1,3}))?$`)
	// issuerPathRE matches /issuer/<lowercase hex SHA-256>.
	issuerPathRE = regexp.MustCompile(`^/issuer/[0-9a-f]{64}$`)
)

// resourceKind tells what a static-ct-api path names.
type resourceKind int

const (
	kindCheckpoint resourceKind = iota + 1
	kindTile
	kindData
	kindIssuer
)

// resource is a parsed static-ct-api monitoring path.
type resource struct {
	kind  resourceKind
	rel   string // path relative to the log directory, slash-separated
	width uint8  // partial width; 0 for full tiles and other resources
}

// parseResource parses a request path (with or without its leading slash). Only canonical
// c2sp.org/static-ct-api monitoring paths are accepted: /checkpoint, /tile/<L>/<N>[.p/<W>]
// with L in 0-63, /tile/data/<N>[.p/<W>] and /issuer/<64 lowercase hex digits>.
func parseResource(p string) (resource, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if p == "/checkpoint" {
		return resource{kind: kindCheckpoint, rel: layout.CheckpointPath}, nil
	}
	if issuerPathRE.MatchString(p) {
		return resource{kind: kindIssuer, rel: p[1:]}, nil
	}
	m := tilePathRE.FindStringSubmatch(p)
	if m == nil {
		return resource{}, fmt.Errorf("not a static-ct-api path: %q", p)
	}
	idx, err := strconv.ParseUint(strings.NewReplacer("x", "", "/", "").Replace(m[2]), 10, 64)
	if err != nil {
		return resource{}, fmt.Errorf("bad tile index %q: %w", m[2], err)
	}
	var r resource
	if m[3] != "" {
		w, err := strconv.ParseUint(m[3], 10, 8)
		if err != nil || w == 0 || w >= layout.TileWidth {
			return resource{}, fmt.Errorf("bad partial width %q", m[3])
		}
		r.width = uint8(w)
	}
	if m[1] == "data" {
		r.kind = kindData
		r.rel = "tile/data/" + layout.NWithSuffix(0, idx, r.width)
	} else {
		lvl, err := strconv.ParseUint(m[1], 10, 8)
		if err != nil || lvl > 63 {
			return resource{}, fmt.Errorf("bad tile level %q", m[1])
		}
		r.kind = kindTile
		r.rel = layout.TilePath(lvl, idx, r.width)
	}
	if "/"+r.rel != p {
		return resource{}, fmt.Errorf("non-canonical static-ct-api path %q (want %q)", p, "/"+r.rel)
	}
	return r, nil
}

// Handler returns a read-only http.Handler for the c2sp.org/static-ct-api monitoring API,
// relative to its root: /checkpoint, /tile/<L>/<N>[.p/<W>], /tile/data/<N>[.p/<W>] and
// /issuer/<sha256 hex>, served from the log directory. Anything else is 404; methods other
// than GET and HEAD are 405. Full tiles and issuers are immutable and cached for a year; the
// checkpoint and partial tiles are served with no-cache. Mount it with http.StripPrefix.
// Data tiles are served uncompressed (the spec lets clients ask for identity).
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serve)
}

// serve implements Handler.
func (l *Log) serve(w http.ResponseWriter, r *http.Request) {
	res, err := parseResource(r.URL.Path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f := tilefs.File{Rel: res.rel, ContentType: "application/octet-stream", Mutable: res.kind == kindCheckpoint || res.width != 0}
	switch res.kind {
	case kindCheckpoint:
		f.ContentType = "text/plain; charset=utf-8"
	case kindIssuer:
		f.ContentType = "application/pkix-cert"
	}
	tilefs.Serve(w, r, l.cfg.Dir, f, l.cfg.Logger)
}
