package bagit

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portway/portway/internal/storage/bagtest"
)

func unpackAndVerify(t *testing.T, o bagtest.Options, lim Limits) (*Bag, *bagtest.Bag, string, error) {
	t.Helper()
	b := bagtest.MustBuild(t, o)
	dir := t.TempDir()
	if _, err := Unpack(t.Context(), bytes.NewReader(b.TarGz), dir, lim); err != nil {
		return nil, b, dir, err
	}
	bag, err := Verify(dir, "b1")
	return bag, b, dir, err
}

func TestValidBags(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    bagtest.Options
		alg  string
	}{
		{"both algorithms", bagtest.Options{}, "SHA-256"},
		{"sha512 only", bagtest.Options{Algorithms: []string{"sha512"}}, "SHA-512"},
		{"in a directory", bagtest.Options{Prefix: "bag"}, "SHA-256"},
		{"no tag manifest", bagtest.Options{NoTagManifest: true}, "SHA-256"},
		{"bag-info fields", bagtest.Options{BagInfo: map[string]string{"Source-Organization": "Wellcome", "External-Description": "A bag"}}, "SHA-256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.ExternalIdentifier = "b1"
			bag, gen, _, err := unpackAndVerify(t, tt.o, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if bag.Manifest.ChecksumAlgorithm != tt.alg || len(bag.Manifest.Files) != len(gen.Payload) {
				t.Fatalf("manifest %+v", bag.Manifest)
			}
			key := map[string]string{"SHA-256": "sha256", "SHA-512": "sha512"}[tt.alg]
			for _, f := range bag.Manifest.Files {
				want := gen.Payload[f.Name]
				if f.Checksum != want.Sums[key] || f.Size != want.Size {
					t.Errorf("%s: %s %d, want %s %d", f.Name, f.Checksum, f.Size, want.Sums[key], want.Size)
				}
			}
			if len(bag.TagManifest.Files) == 0 {
				t.Errorf("empty tag manifest")
			}
			for _, f := range bag.TagManifest.Files {
				if want, ok := gen.Tag[f.Name]; ok && f.Checksum != want.Sums[key] {
					t.Errorf("tag %s: %s, want %s", f.Name, f.Checksum, want.Sums[key])
				}
			}
			if bag.Info.ExternalIdentifier != "b1" || bag.Info.PayloadOxum != gen.PayloadOxum || bag.Info.BaggingDate != "2026-01-02" {
				t.Errorf("info %+v", bag.Info)
			}
			if tt.o.BagInfo != nil && bag.Info.SourceOrganization != "Wellcome" {
				t.Errorf("info %+v", bag.Info)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestBrokenBags(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    bagtest.Options
		lim  Limits
		want string
	}{
		{"bad checksum", bagtest.Options{BadChecksum: "data/a.txt"}, Limits{}, "checksum mismatch for data/a.txt"},
		{"bad tag checksum", bagtest.Options{BadTagChecksum: "bag-info.txt"}, Limits{}, "checksum mismatch for bag-info.txt"},
		{"wrong external identifier", bagtest.Options{InfoIdentifier: ptr("b2")}, Limits{}, "External-Identifier in bag-info.txt (b2) does not match the ingest's (b1)"},
		{"no external identifier", bagtest.Options{InfoIdentifier: ptr("")}, Limits{}, "bag-info.txt has no External-Identifier"},
		{"missing file", bagtest.Options{MissingFile: "data/sub/b.txt"}, Limits{}, "missing file data/sub/b.txt listed in manifest-sha256.txt"},
		{"extra file", bagtest.Options{ExtraFile: "data/extra.txt"}, Limits{}, "unlisted payload file data/extra.txt (not in manifest-sha256.txt)"},
		{"bad oxum", bagtest.Options{PayloadOxum: "1.2"}, Limits{}, "Payload-Oxum mismatch: bag-info.txt says 1.2"},
		{"no bagit.txt", bagtest.Options{NoBagIt: true}, Limits{}, "no bagit.txt"},
		{"md5", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "manifest-md5.txt", Data: "x  data/a.txt\n"}}}, Limits{}, "unsupported checksum algorithm md5"},
		{"dotdot", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "../evil.txt", Data: "x"}}}, Limits{}, "entry ../evil.txt escapes the archive"},
		{"nested dotdot", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/../../evil.txt", Data: "x"}}}, Limits{}, "escapes the archive"},
		{"absolute", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "/tmp/evil.txt", Data: "x"}}}, Limits{}, "entry /tmp/evil.txt escapes the archive"},
		{"symlink", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}, Limits{}, "entry data/link is a symbolic link"},
		{"hardlink", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/hl", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}}, Limits{}, "entry data/hl is a hard link"},
		{"duplicate", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/a.txt", Data: "again"}}}, Limits{}, "entry data/a.txt appears twice"},
		{"fifo", bagtest.Options{ExtraEntries: []bagtest.Entry{{Name: "data/f", Typeflag: tar.TypeFifo}}}, Limits{}, "not a regular file or directory"},
		{"too many files", bagtest.Options{}, Limits{MaxFiles: 3}, "archive has more than 3 entries"},
		{"too big", bagtest.Options{}, Limits{MaxBytes: 100}, "archive unpacks to more than 100 bytes"},
		{"truncated gzip", bagtest.Options{CorruptGzip: true}, Limits{}, "not a valid gzip-compressed tar archive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.ExternalIdentifier = "b1"
			_, _, dir, err := unpackAndVerify(t, tt.o, tt.lim)
			var f *Failure
			if !errors.As(err, &f) || !strings.Contains(f.Msg, tt.want) {
				t.Fatalf("error %v, want a Failure containing %q", err, tt.want)
			}
			if strings.Contains(f.Msg, dir) {
				t.Errorf("message leaks the work directory: %s", f.Msg)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.txt")); err == nil {
				t.Fatal("a file escaped the unpack directory")
			}
		})
	}
}

func TestNotGzip(t *testing.T) {
	_, err := Unpack(t.Context(), strings.NewReader("plain text"), t.TempDir(), Limits{})
	var f *Failure
	if !errors.As(err, &f) || !strings.Contains(f.Msg, "not a gzip-compressed tar archive") {
		t.Fatalf("%v", err)
	}
}
