package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrCorrupt reports that a stored object's content no longer hashes to its
// name. Get wraps it with the object's digest and path.
var ErrCorrupt = errors.New("object content does not match its digest")

// tmpPrefix starts the name of an object being written; such files are never
// read as objects and are removed by OpenCAS.
const tmpPrefix = ".tmp-"

// CAS is a content-addressed store of immutable blobs: an object's name is the
// SHA-256 of its bytes, stored at dir/sha256/ab/<64 hex digits> (one level of
// 256 directories: a second level would cost a directory creation and its
// fsyncs for most of the first hundred thousand objects, and ext4 and XFS index
// large directories). Objects are written atomically and verified on every read. Its methods are safe for
// concurrent use, also by several processes sharing dir. A CAS holds no open
// files and needs no closing.
type CAS struct {
	root string // dir/sha256
	// syncDirAlways also fsyncs an object's directory when it already existed
	// (benchmarked; see BenchmarkCASPut).
	syncDirAlways bool
	// beforeRename, when set, runs between writing an object's temporary
	// file and renaming it (crash tests).
	beforeRename func()
}

// OpenCAS opens the store in dir, creating dir/sha256 (mode 0700) when
// missing, and removes the temporary files of writes that were interrupted
// (for example by a crash). The clean-up walks the whole tree once, so its
// cost grows with the number of objects.
func OpenCAS(dir string) (*CAS, error) {
	root := filepath.Join(dir, "sha256")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("cas: creating %s: %w", root, err)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tmpPrefix) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cas: removing interrupted writes under %s: %w", root, err)
	}
	return &CAS{root: root}, nil
}

// objectPath returns the object's directory and file name.
func (c *CAS) objectPath(digest [32]byte) (dir, file string) {
	h := hex.EncodeToString(digest[:])
	dir = filepath.Join(c.root, h[0:2])
	return dir, filepath.Join(dir, h)
}

// Put stores data and returns its SHA-256. It is idempotent: when the object
// already exists it is read back and verified, not rewritten (a damaged copy
// is replaced). A new object is written to a temporary file in its final
// directory, fsynced and renamed into place, so readers see all of it or
// nothing; a directory Put had to create is fsynced together with its parent.
// Concurrent Puts of the same data are safe.
func (c *CAS) Put(data []byte) ([32]byte, error) {
	digest := sha256.Sum256(data)
	dir, file := c.objectPath(digest)
	existing, err := os.ReadFile(file)
	switch {
	case err == nil:
		if bytes.Equal(existing, data) {
			return digest, nil
		}
		// The stored copy is damaged and we hold the right bytes: heal it.
	case !errors.Is(err, fs.ErrNotExist):
		return digest, fmt.Errorf("cas: checking object sha256:%x: %w", digest, err)
	}
	created, err := c.mkdirs(dir)
	if err != nil {
		return digest, fmt.Errorf("cas: storing object sha256:%x: %w", digest, err)
	}
	if err := writeAtomic(dir, file, data, c.beforeRename); err != nil {
		return digest, fmt.Errorf("cas: storing object sha256:%x: %w", digest, err)
	}
	// The new name is durable once its directory is synced; a directory we
	// created is durable once its parent is synced.
	var syncs []string
	if created > 0 || c.syncDirAlways {
		syncs = append(syncs, dir)
	}
	for i, d := 0, dir; i < created; i++ {
		d = filepath.Dir(d)
		syncs = append(syncs, d)
	}
	for _, d := range syncs {
		if err := syncDir(d); err != nil {
			return digest, fmt.Errorf("cas: storing object sha256:%x: %w", digest, err)
		}
	}
	return digest, nil
}

// mkdirs creates the fan-out directory dir when missing and reports whether
// it did (0 or 1).
func (c *CAS) mkdirs(dir string) (int, error) {
	created := 0
	for _, d := range []string{dir} {
		err := os.Mkdir(d, 0o700)
		switch {
		case err == nil:
			created++
		case errors.Is(err, fs.ErrExist):
		default:
			return created, err
		}
	}
	return created, nil
}

func writeAtomic(dir, file string, data []byte, beforeRename func()) (err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if beforeRename != nil {
		beforeRename()
	}
	return os.Rename(tmp, file)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Get returns the object's bytes after checking that they hash to digest. A
// missing object gives an error wrapping fs.ErrNotExist; a damaged one an
// error wrapping ErrCorrupt that names the object and its path.
func (c *CAS) Get(digest [32]byte) ([]byte, error) {
	_, file := c.objectPath(digest)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cas: reading object sha256:%x: %w", digest, err)
	}
	if sha256.Sum256(data) != digest {
		return nil, fmt.Errorf("cas: object sha256:%x at %s: %w", digest, file, ErrCorrupt)
	}
	return data, nil
}

// Has reports whether the object is stored. It does not read or verify the
// content; an error means the file system could not say.
func (c *CAS) Has(digest [32]byte) (bool, error) {
	_, file := c.objectPath(digest)
	_, err := os.Stat(file)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("cas: looking up object sha256:%x: %w", digest, err)
	}
}
