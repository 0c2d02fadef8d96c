package bagit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/portway/portway/internal/storage/model"
)

// Algorithms the verifier knows, strongest last.
var algorithms = map[string]struct {
	display string
	new     func() hash.Hash
}{
	"sha256": {"SHA-256", sha256.New},
	"sha512": {"SHA-512", sha512.New},
}

// maxTagFileBytes bounds the tag files read into memory.
const maxTagFileBytes = 16 << 20

// Bag is a verified bag.
type Bag struct {
	// Root is the bag's directory (dir itself or its one subdirectory).
	Root string
	Info model.BagInfo
	// Manifest and TagManifest list the files with checksums of the
	// primary algorithm (SHA-256 when the bag has it); File.Path is empty.
	Manifest    model.FileManifest
	TagManifest model.FileManifest
}

// FindRoot returns the bag's root inside dir: dir if it holds bagit.txt,
// else its only entry if that is a directory holding bagit.txt.
func FindRoot(dir string) (string, error) {
	if fileExists(filepath.Join(dir, "bagit.txt")) {
		return dir, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("find bag root: %w", err)
	}
	if len(ents) == 1 && ents[0].IsDir() {
		sub := filepath.Join(dir, ents[0].Name())
		if fileExists(filepath.Join(sub, "bagit.txt")) {
			return sub, nil
		}
	}
	return "", failf("no bagit.txt at the root of the bag or of its only directory")
}

func fileExists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Verify checks the bag unpacked in dir against the ingest's external
// identifier. Problems with the bag are *Failure errors whose message
// names the first problem found, e.g. "checksum mismatch for data/a.txt".
func Verify(dir, externalIdentifier string) (*Bag, error) {
	rootDir, err := FindRoot(dir)
	if err != nil {
		return nil, err
	}
	bag := &Bag{Root: rootDir}
	tagsRaw, err := readTag(rootDir, "bagit.txt")
	if err != nil {
		return nil, err
	}
	decl := parseTagFile(tagsRaw)
	if v := first(decl, "BagIt-Version"); v == "" {
		return nil, failf("bagit.txt has no BagIt-Version")
	}
	if enc := first(decl, "Tag-File-Character-Encoding"); !strings.EqualFold(enc, "UTF-8") {
		return nil, failf("bagit.txt: Tag-File-Character-Encoding must be UTF-8, got %q", enc)
	}
	infoRaw, err := readTag(rootDir, "bag-info.txt")
	if err != nil {
		return nil, err
	}
	info := parseTagFile(infoRaw)
	bag.Info = model.BagInfo{
		ExternalIdentifier:        first(info, "External-Identifier"),
		PayloadOxum:               first(info, "Payload-Oxum"),
		BaggingDate:               first(info, "Bagging-Date"),
		SourceOrganization:        first(info, "Source-Organization"),
		ExternalDescription:       first(info, "External-Description"),
		InternalSenderIdentifier:  first(info, "Internal-Sender-Identifier"),
		InternalSenderDescription: first(info, "Internal-Sender-Description"),
	}
	switch {
	case bag.Info.ExternalIdentifier == "":
		return nil, failf("bag-info.txt has no External-Identifier")
	case bag.Info.ExternalIdentifier != externalIdentifier:
		return nil, failf("External-Identifier in bag-info.txt (%s) does not match the ingest's (%s)",
			bag.Info.ExternalIdentifier, externalIdentifier)
	case bag.Info.PayloadOxum == "":
		return nil, failf("bag-info.txt has no Payload-Oxum")
	}

	payloadManifests, tagManifests, err := listManifests(rootDir)
	if err != nil {
		return nil, err
	}
	if len(payloadManifests) == 0 {
		return nil, failf("no payload manifest (manifest-sha256.txt or manifest-sha512.txt)")
	}
	algs := map[string]bool{}
	for _, a := range payloadManifests {
		algs[a] = true
	}
	for _, a := range tagManifests {
		algs[a] = true
	}

	// Hash every payload file once, in every algorithm needed.
	payload := map[string]digest{}
	var octets int64
	dataDir := filepath.Join(rootDir, "data")
	if fi, err := os.Lstat(dataDir); err != nil || !fi.IsDir() {
		return nil, failf("the bag has no data directory")
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(rootDir, p)
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return failf("%s is not a regular file", rel)
		}
		dg, err := hashFile(p, algs)
		if err != nil {
			return err
		}
		payload[rel] = dg
		octets += dg.size
		return nil
	})
	if err != nil {
		var f *Failure
		if errors.As(err, &f) {
			return nil, err
		}
		return nil, fmt.Errorf("verify: %w", err)
	}

	primary := payloadManifests[0] // sorted: sha256 before sha512

	for _, a := range payloadManifests {
		name := "manifest-" + a + ".txt"
		entries, err := readManifest(rootDir, name)
		if err != nil {
			return nil, err
		}
		listed := map[string]bool{}
		for _, e := range entries {
			if !strings.HasPrefix(e.path, "data/") {
				return nil, failf("%s lists %s, which is not a payload file", name, e.path)
			}
			dg, ok := payload[e.path]
			if !ok {
				return nil, failf("missing file %s listed in %s", e.path, name)
			}
			if !strings.EqualFold(dg.sums[a], e.sum) {
				return nil, failf("checksum mismatch for %s", e.path)
			}
			listed[e.path] = true
		}
		for _, p := range sortedKeys(payload) {
			if !listed[p] {
				return nil, failf("unlisted payload file %s (not in %s)", p, name)
			}
		}
		if a == primary {
			bag.Manifest = manifestOf(a, entries, payload)
		}
	}

	if got := fmt.Sprintf("%d.%d", octets, len(payload)); !oxumEqual(bag.Info.PayloadOxum, octets, len(payload)) {
		return nil, failf("Payload-Oxum mismatch: bag-info.txt says %s, the payload is %s", bag.Info.PayloadOxum, got)
	}

	tagSums := map[string]digest{}
	var (
		primaryTag []entry
		tagAlg     string
	)
	for _, a := range tagManifests {
		name := "tagmanifest-" + a + ".txt"
		entries, err := readManifest(rootDir, name)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.path, "data/") || strings.HasPrefix(e.path, "tagmanifest-") {
				return nil, failf("%s lists %s, which is not a tag file", name, e.path)
			}
			dg, ok := tagSums[e.path]
			if !ok {
				p := filepath.Join(rootDir, filepath.FromSlash(e.path))
				if !fileExists(p) {
					return nil, failf("missing file %s listed in %s", e.path, name)
				}
				if dg, err = hashFile(p, algs); err != nil {
					return nil, fmt.Errorf("verify: %w", err)
				}
				tagSums[e.path] = dg
			}
			if !strings.EqualFold(dg.sums[a], e.sum) {
				return nil, failf("checksum mismatch for %s", e.path)
			}
		}
		if tagAlg == "" || a == primary {
			tagAlg, primaryTag = a, entries
		}
	}
	if tagAlg != "" {
		bag.TagManifest = manifestOf(tagAlg, primaryTag, tagSums)
	} else {
		// No tag manifest: describe the top-level tag files ourselves.
		ents, err := os.ReadDir(rootDir)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		var es []entry
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			dg, err := hashFile(filepath.Join(rootDir, e.Name()), map[string]bool{primary: true})
			if err != nil {
				return nil, fmt.Errorf("verify: %w", err)
			}
			tagSums[e.Name()] = dg
			es = append(es, entry{path: e.Name(), sum: dg.sums[primary]})
		}
		bag.TagManifest = manifestOf(primary, es, tagSums)
	}
	return bag, nil
}

func oxumEqual(oxum string, octets int64, count int) bool {
	o, c, ok := strings.Cut(strings.TrimSpace(oxum), ".")
	if !ok {
		return false
	}
	on, err1 := strconv.ParseInt(o, 10, 64)
	cn, err2 := strconv.Atoi(c)
	return err1 == nil && err2 == nil && on == octets && cn == count
}

type digest struct {
	size int64
	sums map[string]string
}

func hashFile(p string, algs map[string]bool) (digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return digest{}, err
	}
	defer f.Close()
	hs := map[string]hash.Hash{}
	var ws []io.Writer
	for a := range algs {
		h := algorithms[a].new()
		hs[a] = h
		ws = append(ws, h)
	}
	n, err := io.Copy(io.MultiWriter(ws...), f)
	if err != nil {
		return digest{}, err
	}
	d := digest{size: n, sums: map[string]string{}}
	for a, h := range hs {
		d.sums[a] = hex.EncodeToString(h.Sum(nil))
	}
	return d, nil
}

type entry struct{ path, sum string }

func manifestOf(alg string, entries []entry, sums map[string]digest) model.FileManifest {
	m := model.FileManifest{ChecksumAlgorithm: algorithms[alg].display, Files: []model.File{}}
	for _, e := range entries {
		dg := sums[e.path]
		m.Files = append(m.Files, model.File{Name: e.path, Checksum: strings.ToLower(dg.sums[alg]), Size: dg.size})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Name < m.Files[j].Name })
	return m
}

// listManifests returns the algorithms of the payload and tag manifests.
func listManifests(rootDir string) (payload, tag []string, err error) {
	ents, err := os.ReadDir(rootDir)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		var list *[]string
		var alg string
		switch {
		case strings.HasPrefix(n, "manifest-") && strings.HasSuffix(n, ".txt"):
			list, alg = &payload, strings.TrimSuffix(strings.TrimPrefix(n, "manifest-"), ".txt")
		case strings.HasPrefix(n, "tagmanifest-") && strings.HasSuffix(n, ".txt"):
			list, alg = &tag, strings.TrimSuffix(strings.TrimPrefix(n, "tagmanifest-"), ".txt")
		default:
			continue
		}
		if _, ok := algorithms[alg]; !ok {
			return nil, nil, failf("unsupported checksum algorithm %s in %s (supported: sha256, sha512)", alg, n)
		}
		*list = append(*list, alg)
	}
	sort.Strings(payload)
	sort.Strings(tag)
	return payload, tag, nil
}

func readTag(rootDir, name string) ([]byte, error) {
	p := filepath.Join(rootDir, name)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, failf("the bag has no %s", name)
	}
	if fi.Size() > maxTagFileBytes {
		return nil, failf("%s is larger than %d bytes", name, maxTagFileBytes)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return bytes.TrimPrefix(b, []byte("\ufeff")), nil
}

// parseTagFile parses "Label: value" lines; a line starting with
// whitespace continues the previous value.
func parseTagFile(b []byte) map[string][]string {
	out := map[string][]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxTagFileBytes)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			vs := out[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		out[last] = append(out[last], strings.TrimSpace(v))
	}
	return out
}

func first(m map[string][]string, k string) string {
	for key, vs := range m {
		if strings.EqualFold(key, k) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// readManifest parses "checksum  path" lines (paths percent-encoded for
// CR, LF and %, as RFC 8493 says), refusing paths that leave the bag and
// duplicates.
func readManifest(rootDir, name string) ([]entry, error) {
	b, err := readTag(rootDir, name)
	if err != nil {
		return nil, err
	}
	var out []entry
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxTagFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		sum, p, ok := strings.Cut(line, " ")
		if !ok {
			return nil, failf("%s line %d is not \"checksum path\"", name, n)
		}
		p = strings.TrimLeft(p, " \t")
		p = strings.TrimPrefix(p, "*") // binary-mode marker some tools write
		p = decodePath(p)
		c := path.Clean(p)
		if p == "" || strings.HasPrefix(p, "/") || !filepath.IsLocal(c) || strings.Contains(p, `\`) {
			return nil, failf("%s line %d: path %q is not inside the bag", name, n, p)
		}
		if seen[c] {
			return nil, failf("%s lists %s twice", name, c)
		}
		seen[c] = true
		out = append(out, entry{path: c, sum: sum})
	}
	return out, nil
}

func decodePath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	r := strings.NewReplacer("%0A", "\n", "%0a", "\n", "%0D", "\r", "%0d", "\r", "%25", "%")
	return r.Replace(p)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
