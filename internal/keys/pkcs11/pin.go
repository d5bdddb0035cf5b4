package pkcs11

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// target is a URI resolved against the Config: which module, which token,
// which PIN.
type target struct {
	uri    *URI // the parsed URI, pin-value included
	module string
	pin    string
}

// resolve parses uri and checks what every operation needs: a module, exactly
// one way to name the token, and a PIN from an allowed source. wantKey demands
// an object or id.
func resolve(cfg *Config, uri string, wantKey bool) (*target, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	t := &target{uri: u, module: u.ModulePath}
	if t.module == "" {
		t.module = cfg.DefaultModule
	}
	if t.module == "" {
		return nil, fmt.Errorf("%w: no PKCS#11 module: add module-path=/path/to/module.so to the URI or configure a default module", ErrInvalidURI)
	}
	if !filepath.IsAbs(t.module) {
		return nil, fmt.Errorf("%w: module-path %q is not an absolute path", ErrInvalidURI, t.module)
	}
	n := 0
	if u.Token != "" {
		n++
	}
	if u.Serial != "" {
		n++
	}
	if u.HasSlotID {
		n++
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: name the token by exactly one of token=, serial= or slot-id= (got %d)", ErrInvalidURI, n)
	}
	if wantKey && u.Object == "" && len(u.ID) == 0 {
		return nil, fmt.Errorf("%w: the URI names no key in %s: add object=LABEL or id=%%XX...", ErrInvalidURI, u.tokenName())
	}
	switch {
	case u.PINValue != "" && u.PINSource != "":
		return nil, fmt.Errorf("%w: give either pin-source or pin-value, not both", ErrInvalidURI)
	case u.PINValue != "":
		if !cfg.AllowPINValue {
			return nil, fmt.Errorf("%w: pin-value is refused: PINs never come from URIs in production; use pin-source=FILE (only a development configuration accepts pin-value)", ErrInvalidURI)
		}
		t.pin = u.PINValue
	case u.PINSource != "":
		pin, err := readPIN(u.PINSource)
		if err != nil {
			return nil, fmt.Errorf("reading PIN for %s: %w", u.tokenName(), err)
		}
		t.pin = pin
	default:
		return nil, fmt.Errorf("%w: no PIN for %s: add pin-source=FILE", ErrInvalidURI, u.tokenName())
	}
	return t, nil
}

// pinSourcePath turns a pin-source value (a path or a file: URI) into a path.
func pinSourcePath(src string) (string, error) {
	if !strings.HasPrefix(src, "file:") {
		return src, nil
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", fmt.Errorf("pin-source %q: %w", src, err)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("pin-source %q names a remote host", src)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("pin-source %q has a query or fragment", src)
	}
	p := u.Path
	if u.Opaque != "" {
		p, err = url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("pin-source %q: %w", src, err)
		}
	}
	if p == "" {
		return "", fmt.Errorf("pin-source %q has no path", src)
	}
	return p, nil
}

// readPIN returns the first line of the pin-source file with surrounding white
// space trimmed. The file must not be readable or writable by group or other.
func readPIN(src string) (string, error) {
	path, err := pinSourcePath(src)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening PIN file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("PIN file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("PIN file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("PIN file %s has mode %04o; want 0600 or stricter", path, perm)
	}
	r := bufio.NewReader(io.LimitReader(f, 4096))
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("PIN file %s is empty", path)
	}
	pin := strings.TrimSpace(line)
	if pin == "" {
		return "", fmt.Errorf("PIN file %s: first line is empty", path)
	}
	return pin, nil
}
