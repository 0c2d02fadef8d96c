// Package bagtest builds gzip-compressed tar BagIt bags for tests, valid or
// broken in chosen ways.
package bagtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Entry is a raw tar entry added as is (links, escaping paths, …).
type Entry struct {
	Name     string
	Typeflag byte // tar.TypeReg when 0
	Linkname string
	Data     string
}

// Options describes a bag. Only ExternalIdentifier is required; the zero
// value of every knob gives a valid bag.
type Options struct {
	ExternalIdentifier string
	// Files maps payload paths (under data/, without the prefix) to contents.
	// Default: data/a.txt and data/sub/b.txt.
	Files map[string]string
	// Algorithms of the payload and tag manifests: "sha256", "sha512".
	// Default both.
	Algorithms []string
	// Prefix puts the bag in a top-level directory of the tar ("bag").
	Prefix string
	// BagInfo adds lines to bag-info.txt ("Source-Organization": "…").
	BagInfo map[string]string

	// Corruption knobs.
	BadChecksum    string // payload file whose manifest checksums are wrong
	MissingFile    string // payload file listed in the manifests but left out of the tar
	ExtraFile      string // payload file (under data/) in the tar but in no manifest
	BadTagChecksum string // tag file whose tag manifest checksums are wrong
	PayloadOxum    string // overrides the computed Payload-Oxum
	InfoIdentifier *string
	NoBagIt        bool // leave out bagit.txt
	NoTagManifest  bool
	ExtraEntries   []Entry
	CorruptGzip    bool // truncate the compressed stream
	ModTime        time.Time
}

// Bag is a built bag.
type Bag struct {
	// TarGz is the gzip-compressed tar.
	TarGz []byte
	// Payload maps payload names ("data/a.txt") to their checksums by
	// algorithm and their size; Tag the same for tag files.
	Payload map[string]FileSum
	Tag     map[string]FileSum
	// PayloadOxum as written in bag-info.txt.
	PayloadOxum string
}

// FileSum is a file's checksums (hex, by algorithm) and size.
type FileSum struct {
	Size int64
	Sums map[string]string
}

// Names returns the sorted keys of m.
func Names(m map[string]FileSum) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sum(alg string, data []byte) string {
	switch alg {
	case "sha256":
		s := sha256.Sum256(data)
		return hex.EncodeToString(s[:])
	case "sha512":
		s := sha512.Sum512(data)
		return hex.EncodeToString(s[:])
	}
	panic("bagtest: unknown algorithm " + alg)
}

func fileSum(algs []string, data []byte) FileSum {
	fs := FileSum{Size: int64(len(data)), Sums: map[string]string{}}
	for _, a := range algs {
		fs.Sums[a] = sum(a, data)
	}
	return fs
}

// Build builds the bag.
func Build(o Options) (*Bag, error) {
	if o.ExternalIdentifier == "" {
		return nil, fmt.Errorf("bagtest: ExternalIdentifier must be set")
	}
	files := o.Files
	if files == nil {
		files = map[string]string{
			"data/a.txt":     "hello, bag " + o.ExternalIdentifier + "\n",
			"data/sub/b.txt": strings.Repeat("portway ", 100),
		}
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []string{"sha256", "sha512"}
	}
	mod := o.ModTime
	if mod.IsZero() {
		mod = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	b := &Bag{Payload: map[string]FileSum{}, Tag: map[string]FileSum{}}
	names := make([]string, 0, len(files))
	for n := range files {
		if !strings.HasPrefix(n, "data/") {
			return nil, fmt.Errorf("bagtest: payload file %q must be under data/", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var octets int64
	for _, n := range names {
		b.Payload[n] = fileSum(algs, []byte(files[n]))
		octets += int64(len(files[n]))
	}
	b.PayloadOxum = fmt.Sprintf("%d.%d", octets, len(names))
	if o.PayloadOxum != "" {
		b.PayloadOxum = o.PayloadOxum
	}

	tags := map[string]string{}
	if !o.NoBagIt {
		tags["bagit.txt"] = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
	}
	ext := o.ExternalIdentifier
	if o.InfoIdentifier != nil {
		ext = *o.InfoIdentifier
	}
	info := "External-Identifier: " + ext + "\nPayload-Oxum: " + b.PayloadOxum + "\nBagging-Date: 2026-01-02\n"
	keys := make([]string, 0, len(o.BagInfo))
	for k := range o.BagInfo {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		info += k + ": " + o.BagInfo[k] + "\n"
	}
	tags["bag-info.txt"] = info
	for _, a := range algs {
		var m strings.Builder
		for _, n := range names {
			s := b.Payload[n].Sums[a]
			if n == o.BadChecksum {
				s = strings.Repeat("0", len(s))
			}
			fmt.Fprintf(&m, "%s  %s\n", s, n)
		}
		tags["manifest-"+a+".txt"] = m.String()
	}
	tagNames := make([]string, 0, len(tags))
	for n := range tags {
		tagNames = append(tagNames, n)
	}
	sort.Strings(tagNames)
	for _, n := range tagNames {
		b.Tag[n] = fileSum(algs, []byte(tags[n]))
	}
	if !o.NoTagManifest {
		for _, a := range algs {
			var m strings.Builder
			for _, n := range tagNames {
				s := b.Tag[n].Sums[a]
				if n == o.BadTagChecksum {
					s = strings.Repeat("0", len(s))
				}
				fmt.Fprintf(&m, "%s  %s\n", s, n)
			}
			tags["tagmanifest-"+a+".txt"] = m.String()
		}
	}

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	prefix := ""
	if o.Prefix != "" {
		prefix = strings.TrimSuffix(o.Prefix, "/") + "/"
		if err := tw.WriteHeader(&tar.Header{Name: prefix, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mod}); err != nil {
			return nil, err
		}
	}
	write := func(name string, data string) error {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: mod}); err != nil {
			return err
		}
		_, err := tw.Write([]byte(data))
		return err
	}
	all := make([]string, 0, len(tags))
	for n := range tags {
		all = append(all, n)
	}
	sort.Strings(all)
	for _, n := range all {
		if err := write(n, tags[n]); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if n == o.MissingFile {
			continue
		}
		if err := write(n, files[n]); err != nil {
			return nil, err
		}
	}
	if o.ExtraFile != "" {
		if err := write(o.ExtraFile, "not in any manifest\n"); err != nil {
			return nil, err
		}
	}
	for _, e := range o.ExtraEntries {
		tf := e.Typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		h := &tar.Header{Name: e.Name, Typeflag: tf, Linkname: e.Linkname, Mode: 0o644, ModTime: mod}
		if tf == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if tf == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Data)); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b.TarGz = gz.Bytes()
	if o.CorruptGzip {
		b.TarGz = b.TarGz[:len(b.TarGz)/2]
	}
	return b, nil
}

// MustBuild is Build failing the test on error.
func MustBuild(t testing.TB, o Options) *Bag {
	t.Helper()
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile writes the bag's tar.gz to path, creating directories.
func (b *Bag) WriteFile(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.TarGz, 0o644); err != nil {
		t.Fatal(err)
	}
}
