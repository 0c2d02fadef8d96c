package bags

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/portway/portway/internal/storage/model"
	"github.com/portway/portway/internal/storage/store"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func manifest(space, ext string, v model.BagVersion) model.StorageManifest {
	return model.StorageManifest{
		Space: space, ExternalIdentifier: ext, Version: v,
		CreatedDate: t0.Add(time.Duration(v) * time.Hour),
		Info: model.BagInfo{ExternalIdentifier: ext, PayloadOxum: "35261.3", BaggingDate: "2013-03-27",
			SourceOrganization: "Wellcome", ExternalDescription: "A bag"},
		Manifest: model.FileManifest{ChecksumAlgorithm: "SHA-256", Files: []model.File{
			{Name: "data/a.txt", Path: v.String() + "/data/a.txt", Checksum: "68e6", Size: 1904},
		}},
		TagManifest: model.FileManifest{ChecksumAlgorithm: "SHA-256", Files: []model.File{
			{Name: "bagit.txt", Path: v.String() + "/bagit.txt", Checksum: "e91f", Size: 55},
		}},
		Location: model.Location{Provider: model.ProviderAmazonS3, Bucket: "storage", Path: space + "/" + ext},
	}
}

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "storage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, m := range []model.StorageManifest{
		manifest("digitised", "b12345", 1),
		manifest("digitised", "PP/MIA/1", 1),
		manifest("digitised", "PP/MIA/1", 2),
		manifest("digitised", "PP/MIA/1", 3),
		manifest("born-digital", "versions", 1),
	} {
		if err := st.PutStorageManifest(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	h, err := NewHandler(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestGetBag(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, path string
		version    string // expected version of the manifest
		etag       string
	}{
		{"latest", "/bags/digitised/b12345", "v1", `"digitised/b12345/v1"`},
		{"latest of several", "/bags/digitised/PP/MIA/1", "v3", `"digitised/PP/MIA/1/v3"`},
		{"encoded slashes", "/bags/digitised/PP%2FMIA%2F1", "v3", `"digitised/PP/MIA/1/v3"`},
		{"lower-case encoding, mixed", "/bags/digitised/PP%2fMIA/1", "v3", `"digitised/PP/MIA/1/v3"`},
		{"by version", "/bags/digitised/PP/MIA/1?version=v2", "v2", `"digitised/PP/MIA/1/v2"`},
		{"by version, encoded", "/bags/digitised/PP%2FMIA%2F1?version=v1", "v1", `"digitised/PP/MIA/1/v1"`},
		{"id named versions", "/bags/born-digital/versions", "v1", `"born-digital/versions/v1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := fetch(t, "GET", srv.URL+tt.path)
			if res.StatusCode != 200 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if got := res.Header.Get("ETag"); got != tt.etag {
				t.Errorf("ETag = %s, want %s", got, tt.etag)
			}
			var m struct {
				ID, Type, Version string
			}
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			if m.Version != tt.version || m.Type != "Bag" || `"`+m.ID+"/"+m.Version+`"` != tt.etag {
				t.Errorf("body %s", body)
			}
		})
	}
}

func TestManifestShape(t *testing.T) {
	srv := newServer(t)
	_, body := fetch(t, "GET", srv.URL+"/bags/digitised/b12345")
	want := `{"id":"digitised/b12345","type":"Bag","version":"v1","createdDate":"2026-11-26T11:00:00.000Z",` +
		`"space":{"id":"digitised","type":"Space"},` +
		`"info":{"type":"BagInfo","externalIdentifier":"b12345","payloadOxum":"35261.3","baggingDate":"2013-03-27","sourceOrganization":"Wellcome","externalDescription":"A bag"},` +
		`"manifest":{"type":"BagManifest","checksumAlgorithm":"SHA-256","files":[{"type":"File","name":"data/a.txt","path":"v1/data/a.txt","checksum":"68e6","size":1904}]},` +
		`"tagManifest":{"type":"BagManifest","checksumAlgorithm":"SHA-256","files":[{"type":"File","name":"bagit.txt","path":"v1/bagit.txt","checksum":"e91f","size":55}]},` +
		`"location":{"type":"Location","provider":{"id":"amazon-s3","type":"Provider"},"bucket":"storage","path":"digitised/b12345"},` +
		`"replicaLocations":[]}`
	if body != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
}

func TestVersions(t *testing.T) {
	srv := newServer(t)
	entry := func(v string, hour int) string {
		return `{"id":"digitised/PP/MIA/1","version":"` + v + `","createdDate":"2026-11-26T1` + string(rune('0'+hour)) + `:00:00.000Z","type":"Bag"}`
	}
	tests := []struct {
		name, path, want string
	}{
		{"all", "/bags/digitised/PP/MIA/1/versions", `{"type":"ResultList","results":[` + entry("v3", 3) + "," + entry("v2", 2) + "," + entry("v1", 1) + `]}`},
		{"encoded", "/bags/digitised/PP%2FMIA%2F1/versions", `{"type":"ResultList","results":[` + entry("v3", 3) + "," + entry("v2", 2) + "," + entry("v1", 1) + `]}`},
		{"before v3", "/bags/digitised/PP/MIA/1/versions?before=v3", `{"type":"ResultList","results":[` + entry("v2", 2) + "," + entry("v1", 1) + `]}`},
		{"before v2", "/bags/digitised/PP/MIA/1/versions?before=v2", `{"type":"ResultList","results":[` + entry("v1", 1) + `]}`},
		{"before v9", "/bags/digitised/PP/MIA/1/versions?before=v9", `{"type":"ResultList","results":[` + entry("v3", 3) + "," + entry("v2", 2) + "," + entry("v1", 1) + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := fetch(t, "GET", srv.URL+tt.path)
			if res.StatusCode != 200 || body != tt.want {
				t.Fatalf("status %d\n got %s\nwant %s", res.StatusCode, body, tt.want)
			}
			if res.Header.Get("ETag") != "" {
				t.Errorf("versions list has an ETag")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		method, path string
		status       int
		desc, allow  string
	}{
		{"GET", "/bags/digitised/nope", 404, "Storage manifest digitised/nope not found", ""},
		{"GET", "/bags/digitised/PP/MIA", 404, "Storage manifest digitised/PP/MIA not found", ""},
		{"GET", "/bags/other/b12345", 404, "Storage manifest other/b12345 not found", ""},
		{"GET", "/bags/digitised/b12345?version=v2", 404, "Storage manifest digitised/b12345 version v2 not found", ""},
		{"GET", "/bags/digitised/b12345?version=latest", 404, "Storage manifest digitised/b12345 version latest not found", ""},
		{"GET", "/bags/digitised/b12345?version=", 404, "Storage manifest digitised/b12345 version  not found", ""},
		{"GET", "/bags/digitised/nope/versions", 404, "No storage manifest versions found for digitised/nope", ""},
		{"GET", "/bags/digitised/PP/MIA/1/versions?before=v1", 404, "No storage manifest versions found for digitised/PP/MIA/1 before v1", ""},
		{"GET", "/bags/digitised/PP/MIA/1/versions?before=v0", 404, "No storage manifest versions found for digitised/PP/MIA/1 before v0", ""},
		{"GET", "/bags/digitised/PP/MIA/1/versions?before=3", 400, "Cannot parse version string: 3", ""},
		{"GET", "/bags/digitised/PP/MIA/1/versions?before=", 400, "Cannot parse version string: ", ""},
		{"GET", "/bags/digitised/b12345/", 404, "Storage manifest digitised/b12345/ not found", ""},
		{"GET", "/bags/digitised", 404, "The requested resource could not be found.", ""},
		{"GET", "/bags/", 404, "The requested resource could not be found.", ""},
		{"GET", "/bags/digitised/", 404, "The requested resource could not be found.", ""},
		{"POST", "/bags/digitised/b12345", 405, "HTTP method not allowed, supported methods: GET", "GET"},
		{"DELETE", "/bags/digitised/b12345/versions", 405, "HTTP method not allowed, supported methods: GET", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, body := fetch(t, tt.method, srv.URL+tt.path)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			if e["httpStatus"] != float64(tt.status) || e["label"] != http.StatusText(tt.status) ||
				e["description"] != tt.desc || e["type"] != "Error" || len(e) != 4 {
				t.Errorf("body %s, want description %q", body, tt.desc)
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestHead(t *testing.T) {
	srv := newServer(t)
	res, body := fetch(t, "HEAD", srv.URL+"/bags/digitised/b12345")
	if res.StatusCode != 200 || body != "" || res.Header.Get("ETag") != `"digitised/b12345/v1"` {
		t.Fatalf("HEAD: %d %q %v", res.StatusCode, body, res.Header)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want bagPath
		ok   bool
	}{
		{"/bags/s/b1", bagPath{"s", "b1", false}, true},
		{"/bags/s/b1/versions", bagPath{"s", "b1", true}, true},
		{"/bags/s/versions", bagPath{"s", "versions", false}, true},
		{"/bags/s/a/b/c/versions", bagPath{"s", "a/b/c", true}, true},
		{"/bags/s/a%2Fb%2Fc/versions", bagPath{"s", "a/b/c", true}, true},
		{"/bags/s/a%2Fversions", bagPath{"s", "a/versions", false}, true},
		{"/bags/s%20x/B%20images", bagPath{"s x", "B images", false}, true},
		{"/bags/s", bagPath{}, false},
		{"/bags//b1", bagPath{}, false},
		{"/bags/s/", bagPath{}, false},
		{"/bag/s/b1", bagPath{}, false},
		{"/bags/s/b%ZZ", bagPath{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePath(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
