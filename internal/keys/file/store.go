package file

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stellaops/stellad/internal/keys/internal/keymeta"
)

// Open loads the key file uri names. It refuses a file that is not a regular
// file, a file readable or writable by group or other ("key file X has mode
// 0644; want 0600 or stricter"), and any key that is not a PKCS#8 ECDSA P-256
// key; every error names the file. A missing file wraps keymeta.ErrNotFound
// (keys.ErrNotFound) and fs.ErrNotExist.
func Open(ctx context.Context, uri string) (*Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := PathFromURI(uri)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key file %s: %w: %w", path, keymeta.ErrNotFound, err)
		}
		return nil, fmt.Errorf("opening key file: %w", err)
	}
	defer f.Close()
	// Check the mode of the file actually opened, not of the path.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o; want 0600 or stricter", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file %s is larger than %d bytes", path, maxKeyFile)
	}
	priv, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return &Key{priv: priv, uri: uri, path: path}, nil
}

// Generate creates a new ECDSA P-256 key from random (crypto/rand when nil)
// and writes it to the file uri names as PKCS#8 PEM with mode 0600, creating
// missing directories with mode 0700. The write is atomic: a temporary file
// in the same directory is written and fsynced, then linked to the final
// name, which fails rather than replace an existing file (wrapping
// keymeta.ErrExists), and the directory is fsynced.
func Generate(ctx context.Context, uri string, random io.Reader) (*Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := PathFromURI(uri)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("generating key file %s: %w", path, keymeta.ErrExists)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("generating key for %s: %w", path, err)
	}
	pemBytes, err := MarshalPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, pemBytes); err != nil {
		return nil, err
	}
	return &Key{priv: priv, uri: uri, path: path}, nil
}

// writeNew writes data to path atomically without replacing an existing file.
func writeNew(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary key file: %w", err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName)
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("key file %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing key file %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing key file %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing key file %s: %w", tmpName, err)
	}
	tmp = nil
	// A hard link is a rename that refuses to replace an existing name.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("generating key file %s: %w", path, keymeta.ErrExists)
		}
		return fmt.Errorf("installing key file %s: %w", path, err)
	}
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("removing temporary key file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening key directory to sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing key directory %s: %w", dir, err)
	}
	return nil
}

// List returns the keys in the directory uri names (file:DIR): every *.pem
// file there that holds a PKCS#8 private key, sorted by name. Files that do not
// parse are skipped with a warning on log (which may be nil). Keys are listed
// whatever their file mode; Open still refuses a loose one.
func List(ctx context.Context, uri string, log *slog.Logger) ([]keymeta.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := PathFromURI(uri)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key directory %s: %w: %w", dir, keymeta.ErrNotFound, err)
		}
		return nil, fmt.Errorf("listing key directory: %w", err)
	}
	var infos []keymeta.Info
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".pem") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := readLimited(path)
		if err != nil {
			log.Warn("skipping key file", "key_uri", Scheme+path, "err", err)
			continue
		}
		k, err := parsePKCS8PEM(data)
		if err != nil {
			log.Warn("skipping key file", "key_uri", Scheme+path, "err", err)
			continue
		}
		signer, ok := k.(interface{ Public() crypto.PublicKey })
		if !ok {
			continue
		}
		pub := signer.Public()
		kid, err := keymeta.KeyID(pub)
		if err != nil {
			log.Warn("skipping key file", "key_uri", Scheme+path, "err", err)
			continue
		}
		infos = append(infos, keymeta.Info{URI: Scheme + path, KeyID: kid, Algorithm: keymeta.Algorithm(pub)})
	}
	slices.SortFunc(infos, func(a, b keymeta.Info) int { return strings.Compare(a.URI, b.URI) })
	return infos, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFile)
	}
	return data, nil
}
