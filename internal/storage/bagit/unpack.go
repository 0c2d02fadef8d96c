// Package bagit unpacks gzip-compressed tar archives safely and verifies
// the BagIt bags in them (RFC 8493): bagit.txt, bag-info.txt, every payload
// and tag manifest checksum (SHA-256 and SHA-512), Payload-Oxum, and no
// unlisted payload files.
package bagit

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Failure is a problem with the bag itself (not with the machine): its
// message is shown to the client in the ingest's events.
type Failure struct{ Msg string }

func (f *Failure) Error() string { return f.Msg }

func failf(format string, args ...any) error { return &Failure{Msg: fmt.Sprintf(format, args...)} }

// Limits bound what an archive may unpack to.
type Limits struct {
	MaxBytes int64 // total size of the unpacked files
	MaxFiles int   // number of entries (files and directories)
}

// DefaultLimits are used for zero fields.
var DefaultLimits = Limits{MaxBytes: 8 << 30, MaxFiles: 100_000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	return l
}

// Stats describe an unpacked archive.
type Stats struct {
	Files int
	Bytes int64
}

// Unpack extracts the gzip-compressed tar r into dir, which must exist and
// should be empty. Every entry must be a regular file or a directory whose
// name stays inside dir: absolute names, ".." elements, links and device
// files are refused, as are duplicate files and archives over the limits.
// All writes go through an os.Root on dir, so nothing outside it is ever
// touched even if a check here were wrong. Problems with the archive are
// *Failure errors.
func Unpack(ctx context.Context, r io.Reader, dir string, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	var st Stats
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return st, failf("not a gzip-compressed tar archive: %v", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, failf("not a valid gzip-compressed tar archive: %v", err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return st, err
		}
		if name == "" { // "./"
			continue
		}
		st.Files++
		if st.Files > lim.MaxFiles {
			return st, failf("archive has more than %d entries", lim.MaxFiles)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o750); err != nil {
				return st, failf("cannot create directory %s: %v", h.Name, unwrapPath(err))
			}
		case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives write TypeRegA
			if h.Size > lim.MaxBytes-st.Bytes {
				return st, failf("archive unpacks to more than %d bytes", lim.MaxBytes)
			}
			if err := writeFile(root, name, tr, h.Size); err != nil {
				return st, err
			}
			st.Bytes += h.Size
		case tar.TypeSymlink:
			return st, failf("entry %s is a symbolic link; links are not allowed", h.Name)
		case tar.TypeLink:
			return st, failf("entry %s is a hard link; links are not allowed", h.Name)
		default:
			return st, failf("entry %s is not a regular file or directory", h.Name)
		}
	}
	// Drain the gzip trailer so that a truncated stream is noticed.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return st, failf("not a valid gzip-compressed tar archive: %v", err)
	}
	return st, nil
}

// entryName checks and cleans a tar entry name ("" for the root itself).
func entryName(n string) (string, error) {
	if strings.ContainsRune(n, 0) || strings.Contains(n, `\`) {
		return "", failf("entry %q has an invalid name", n)
	}
	if strings.HasPrefix(n, "/") {
		return "", failf("entry %s escapes the archive (absolute path)", n)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", failf("entry %s escapes the archive (.. in path)", n)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	if !filepath.IsLocal(c) {
		return "", failf("entry %s escapes the archive", n)
	}
	return filepath.FromSlash(c), nil
}

func writeFile(root *os.Root, name string, r io.Reader, size int64) error {
	if d := filepath.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o750); err != nil {
			return failf("cannot create directory for %s: %v", filepath.ToSlash(name), unwrapPath(err))
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, os.ErrExist) {
		return failf("entry %s appears twice in the archive", filepath.ToSlash(name))
	}
	if err != nil {
		return failf("cannot create %s: %v", filepath.ToSlash(name), unwrapPath(err))
	}
	mr := &markedReader{r: r}
	if _, err := io.CopyN(f, mr, size); err != nil {
		f.Close()
		if mr.err != nil || errors.Is(err, io.EOF) {
			return failf("not a valid gzip-compressed tar archive: %v", err)
		}
		return fmt.Errorf("unpack %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unpack %s: %w", name, err)
	}
	return nil
}

// markedReader remembers a read error, telling a broken archive apart
// from a failing disk.
type markedReader struct {
	r   io.Reader
	err error
}

func (m *markedReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}

// unwrapPath drops the *PathError's local path, which would leak the
// server's directory layout into a client-visible event.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
