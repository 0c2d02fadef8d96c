package ingests

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portway/portway/internal/storage/store"
)

var (
	now     = time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	fixedID = uuid.MustParse("1e4b2c9a-5d6f-4a8b-9c0d-1e2f3a4b5c6d")
)

func newServer(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "storage.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h, err := NewHandler(Config{Store: st, Now: func() time.Time { return now }, NewID: func() uuid.UUID { return fixedID }, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st
}

func validBody() map[string]any {
	return map[string]any{
		"type":       "Ingest",
		"ingestType": map[string]any{"id": "create", "type": "IngestType"},
		"space":      map[string]any{"id": "digitised", "type": "Space"},
		"sourceLocation": map[string]any{
			"type":     "Location",
			"provider": map[string]any{"type": "Provider", "id": "amazon-s3"},
			"bucket":   "uploads", "path": "b12345.tar.gz",
		},
		"bag":      map[string]any{"type": "Bag", "info": map[string]any{"type": "BagInfo", "externalIdentifier": "b12345"}},
		"callback": map[string]any{"type": "Callback", "url": "https://example.org/cb"},
	}
}

// set changes the value at a dotted path; a nil value with del removes it.
func set(m map[string]any, path string, v any, del bool) map[string]any {
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		cur = cur[k].(map[string]any)
	}
	if del {
		delete(cur, keys[len(keys)-1])
	} else {
		cur[keys[len(keys)-1]] = v
	}
	return m
}

func post(t *testing.T, url, contentType, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func get(t *testing.T, url, method string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type errBody struct {
	HTTPStatus  int     `json:"httpStatus"`
	Label       string  `json:"label"`
	Description *string `json:"description"`
	Type        string  `json:"type"`
}

func checkError(t *testing.T, res *http.Response, body []byte, status int, label, desc string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e errBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.HTTPStatus != status || e.Label != label || e.Type != "Error" || e.Description == nil || *e.Description != desc {
		t.Errorf("error body %s\nwant status %d label %q description %q", body, status, label, desc)
	}
}

func TestCreateValidation(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"space with slash", mustJSON(t, set(validBody(), "space.id", "alfa/bravo", false)),
			"Invalid value at .space.id: must not contain slashes."},
		{"empty space", mustJSON(t, set(validBody(), "space.id", "", false)),
			"Invalid value at .space.id: must not be empty."},
		{"empty external identifier", mustJSON(t, set(validBody(), "bag.info.externalIdentifier", "", false)),
			"Invalid value at .bag.info.externalIdentifier: must not be empty."},
		{"external identifier ending /versions", mustJSON(t, set(validBody(), "bag.info.externalIdentifier", "b1/versions", false)),
			"Invalid value at .bag.info.externalIdentifier: must not end with /versions."},
		{"external identifier bad chars", mustJSON(t, set(validBody(), "bag.info.externalIdentifier", "b1?x", false)),
			"Invalid value at .bag.info.externalIdentifier: can only contain characters in the class [-_/ .a-zA-Z0-9]."},
		{"unknown provider", mustJSON(t, set(validBody(), "sourceLocation.provider.id", "x", false)),
			`Unrecognised value at .sourceLocation.provider.id: got "x", valid values are: amazon-s3, azure-blob-storage.`},
		{"unknown ingest type", mustJSON(t, set(validBody(), "ingestType.id", "x", false)),
			`Unrecognised value at .ingestType.id: got "x", valid values are: create, update.`},
		{"missing bucket", mustJSON(t, set(validBody(), "sourceLocation.bucket", nil, true)),
			"Invalid value at .sourceLocation.bucket: required property not supplied."},
		{"missing path", mustJSON(t, set(validBody(), "sourceLocation.path", nil, true)),
			"Invalid value at .sourceLocation.path: required property not supplied."},
		{"empty bucket", mustJSON(t, set(validBody(), "sourceLocation.bucket", "", false)),
			"Invalid value at .sourceLocation.bucket: must not be empty."},
		{"missing provider", mustJSON(t, set(validBody(), "sourceLocation.provider", nil, true)),
			"Invalid value at .sourceLocation.provider: required property not supplied."},
		{"missing ingestType", mustJSON(t, set(validBody(), "ingestType", nil, true)),
			"Invalid value at .ingestType: required property not supplied."},
		{"missing ingestType.id", mustJSON(t, set(validBody(), "ingestType.id", nil, true)),
			"Invalid value at .ingestType.id: required property not supplied."},
		{"missing space", mustJSON(t, set(validBody(), "space", nil, true)),
			"Invalid value at .space: required property not supplied."},
		{"missing bag", mustJSON(t, set(validBody(), "bag", nil, true)),
			"Invalid value at .bag: required property not supplied."},
		{"missing bag.info", mustJSON(t, set(validBody(), "bag.info", nil, true)),
			"Invalid value at .bag.info: required property not supplied."},
		{"missing externalIdentifier", mustJSON(t, set(validBody(), "bag.info.externalIdentifier", nil, true)),
			"Invalid value at .bag.info.externalIdentifier: required property not supplied."},
		{"missing sourceLocation", mustJSON(t, set(validBody(), "sourceLocation", nil, true)),
			"Invalid value at .sourceLocation: required property not supplied."},
		{"first problem wins", mustJSON(t, set(set(validBody(), "ingestType", nil, true), "sourceLocation", nil, true)),
			"Invalid value at .ingestType: required property not supplied."},
		{"number for string", mustJSON(t, set(validBody(), "space.id", 3, false)),
			"Invalid type at .space.id: expected string, got number."},
		{"null for string", mustJSON(t, set(validBody(), "space.id", nil, false)),
			"Invalid type at .space.id: expected string, got null."},
		{"string for object", mustJSON(t, set(validBody(), "bag.info", "b1", false)),
			"Invalid type at .bag.info: expected object, got string."},
		{"array for object", mustJSON(t, set(validBody(), "sourceLocation", []int{}, false)),
			"Invalid type at .sourceLocation: expected object, got array."},
		{"bool for string", mustJSON(t, set(validBody(), "sourceLocation.provider.id", true, false)),
			"Invalid type at .sourceLocation.provider.id: expected string, got boolean."},
		{"root not an object", `[1, 2]`,
			"Invalid type at .: expected object, got array."},
		{"callback not an object", mustJSON(t, set(validBody(), "callback", "https://x", false)),
			"Invalid type at .callback: expected object, got string."},
		{"callback without url", mustJSON(t, set(validBody(), "callback.url", nil, true)),
			"Invalid value at .callback.url: required property not supplied."},
		{"relative callback", mustJSON(t, set(validBody(), "callback.url", "/cb", false)),
			"Invalid value at .callback.url: must be an absolute http or https URL."},
		{"ftp callback", mustJSON(t, set(validBody(), "callback.url", "ftp://example.org/cb", false)),
			"Invalid value at .callback.url: must be an absolute http or https URL."},
		{"file callback", mustJSON(t, set(validBody(), "callback.url", "file:///etc/passwd", false)),
			"Invalid value at .callback.url: must be an absolute http or https URL."},
		{"callback without host", mustJSON(t, set(validBody(), "callback.url", "http:///cb", false)),
			"Invalid value at .callback.url: must be an absolute http or https URL."},
		{"callback with user and password", mustJSON(t, set(validBody(), "callback.url", "http://user:secret@example.org/cb", false)),
			"Invalid value at .callback.url: must not contain a user name or password."},
		{"callback with user", mustJSON(t, set(validBody(), "callback.url", "https://user@example.org/cb", false)),
			"Invalid value at .callback.url: must not contain a user name or password."},
		{"not JSON", "hgjh",
			"The request content was malformed:\ninvalid character 'h' looking for beginning of value (line 1, column 1)"},
		{"syntax error on line 2", "{\n  \"space\": }",
			"The request content was malformed:\ninvalid character '}' looking for beginning of value (line 2, column 12)"},
		{"truncated", `{"space": {"id": "x"`,
			"The request content was malformed:\nunexpected end of input (line 1, column 21)"},
		{"empty body", "",
			"The request content was malformed:\nunexpected end of input (line 1, column 1)"},
		{"trailing data", mustJSON(t, validBody()) + ` {}`,
			"The request content was malformed:\nunexpected data after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := post(t, srv.URL+"/ingests", "application/json", tt.body, nil)
			if tt.name == "trailing data" {
				// the column depends on the body's length; check the prefix
				var e errBody
				_ = json.Unmarshal(body, &e)
				if res.StatusCode != 400 || e.Description == nil || !strings.HasPrefix(*e.Description, tt.want+" (line 1, column ") {
					t.Fatalf("got %d %s", res.StatusCode, body)
				}
				return
			}
			checkError(t, res, body, 400, "Bad Request", tt.want)
		})
	}
}

func TestCreateAcceptsVariants(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
		ct   string
	}{
		{"no callback", set(validBody(), "callback", nil, true), "application/json"},
		{"null callback", set(validBody(), "callback", nil, false), "application/json"},
		{"update", set(validBody(), "ingestType.id", "update", false), "application/json"},
		{"azure", set(validBody(), "sourceLocation.provider.id", "azure-blob-storage", false), "application/json"},
		{"legacy provider id", set(validBody(), "sourceLocation.provider.id", "aws-s3-standard", false), "application/json"},
		{"slashed id", set(validBody(), "bag.info.externalIdentifier", "PP/MIA/1", false), "application/json"},
		{"charset", validBody(), "application/json; charset=UTF-8"},
		{"no type fields, extra fields", set(set(validBody(), "type", nil, true), "extra", 1, false), "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t)
			res, body := post(t, srv.URL+"/ingests", tt.ct, mustJSON(t, tt.body), nil)
			if res.StatusCode != 201 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
		})
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	srv, st := newServer(t)
	body := mustJSON(t, validBody())
	for _, ct := range []string{"", "text/plain", "text/plain; charset=UTF-8", "application/x-www-form-urlencoded",
		"application/json; charset=latin1", "application/jsonx", "multipart/form-data; boundary=x"} {
		t.Run(ct, func(t *testing.T) {
			res, b := post(t, srv.URL+"/ingests", ct, body, nil)
			checkError(t, res, b, 415, "Unsupported Media Type",
				"The request's Content-Type ["+ct+"] is not supported. Expected:\napplication/json")
		})
	}
	if _, err := st.GetIngest(t.Context(), fixedID); err == nil {
		t.Fatal("an ingest was created by a rejected request")
	}
}

func TestBodyTooLarge(t *testing.T) {
	srv, _ := newServer(t) // limit 4096
	big := set(validBody(), "padding", strings.Repeat("x", 5000), false)
	res, b := post(t, srv.URL+"/ingests", "application/json", mustJSON(t, big), nil)
	checkError(t, res, b, 413, "Payload Too Large", "The request content was too large: the limit is 4096 bytes.")
}

func TestMethodsAndPaths(t *testing.T) {
	srv, _ := newServer(t)
	id := uuid.New().String()
	tests := []struct {
		method, path string
		status       int
		allow, desc  string
	}{
		{"GET", "/ingests/doesnotexist", 405, "POST", "HTTP method not allowed, supported methods: POST"},
		{"GET", "/ingests", 405, "POST", "HTTP method not allowed, supported methods: POST"},
		{"PUT", "/ingests", 405, "POST", "HTTP method not allowed, supported methods: POST"},
		{"GET", "/ingests/" + id + "/x", 405, "POST", "HTTP method not allowed, supported methods: POST"},
		{"GET", "/ingests/" + strings.ReplaceAll(id, "-", ""), 405, "POST", "HTTP method not allowed, supported methods: POST"},
		{"DELETE", "/ingests/" + id, 405, "GET", "HTTP method not allowed, supported methods: GET"},
		{"POST", "/ingests/" + id, 405, "GET", "HTTP method not allowed, supported methods: GET"},
		{"GET", "/ingests/" + id, 404, "", "Ingest " + id + " not found"},
		{"GET", "/ingests/" + strings.ToUpper(id), 404, "", "Ingest " + id + " not found"},
		{"GET", "/ingestsx", 404, "", "The requested resource could not be found."},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, b := get(t, srv.URL+tt.path, tt.method)
			label := http.StatusText(tt.status)
			checkError(t, res, b, tt.status, label, tt.desc)
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestLocationHeader(t *testing.T) {
	tests := []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"forwarded by the gateway", map[string]string{
			"X-Forwarded-Proto": "http", "X-Forwarded-Host": "127.0.0.1:8080", "X-Forwarded-Prefix": "/v1",
			"Host": "127.77.1.1:9000"}, "http://127.0.0.1:8080/v1/ingests/" + fixedID.String()},
		{"custom domain with base path", map[string]string{
			"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.org", "X-Forwarded-Prefix": "/storage/v1"},
			"https://api.example.org/storage/v1/ingests/" + fixedID.String()},
		{"fallback to Host", map[string]string{"Host": "127.77.1.1:9001"},
			"http://127.77.1.1:9001/ingests/" + fixedID.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t)
			res, b := post(t, srv.URL+"/ingests", "application/json", mustJSON(t, validBody()), tt.hdr)
			if res.StatusCode != 201 {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			if got := res.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCreateThenGet(t *testing.T) {
	srv, _ := newServer(t)
	res, created := post(t, srv.URL+"/ingests", "application/json; charset=utf-8", mustJSON(t, validBody()), nil)
	if res.StatusCode != 201 {
		t.Fatalf("status %d: %s", res.StatusCode, created)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	want := `{"id":"1e4b2c9a-5d6f-4a8b-9c0d-1e2f3a4b5c6d","type":"Ingest",` +
		`"space":{"id":"digitised","type":"Space"},` +
		`"bag":{"type":"Bag","info":{"type":"BagInfo","externalIdentifier":"b12345"}},` +
		`"ingestType":{"id":"create","type":"IngestType"},` +
		`"sourceLocation":{"type":"Location","provider":{"id":"amazon-s3","type":"Provider"},"bucket":"uploads","path":"b12345.tar.gz"},` +
		`"callback":{"url":"https://example.org/cb","status":{"id":"pending","type":"Status"},"type":"Callback"},` +
		`"status":{"id":"accepted","type":"Status"},"events":[],` +
		`"createdDate":"2026-11-26T10:00:00.123Z","lastModifiedDate":"2026-11-26T10:00:00.123Z"}`
	if string(created) != want {
		t.Fatalf("created body\n got %s\nwant %s", created, want)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, srv.URL+"/ingests/") {
		t.Fatalf("Location %q", loc)
	}
	res, got := get(t, loc, "GET")
	if res.StatusCode != 200 || string(got) != want {
		t.Fatalf("GET %d\n got %s\nwant %s", res.StatusCode, got, want)
	}
	res, head := get(t, loc, "HEAD")
	if res.StatusCode != 200 || len(head) != 0 {
		t.Fatalf("HEAD %d %q", res.StatusCode, head)
	}
}

func TestUpdatedIngestShowsVersionAndEvents(t *testing.T) {
	srv, st := newServer(t)
	if res, b := post(t, srv.URL+"/ingests", "application/json", mustJSON(t, set(validBody(), "callback", nil, true)), nil); res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	later := now.Add(time.Second)
	if _, err := st.UpdateIngest(t.Context(), fixedID, func(in *modelIngest) error {
		in.Status = "processing"
		in.Version = 2
		in.Events = append(in.Events, modelEvent{CreatedDate: later, Description: "Unpacking started"})
		in.LastModifiedDate = later
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, b := get(t, srv.URL+"/ingests/"+fixedID.String(), "GET")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["callback"]; ok {
		t.Errorf("callback shown though none given: %s", b)
	}
	// The assigned version is bag.info.version, as the storage service's
	// display model (and its Python client) has it; bag has no version.
	for _, want := range []string{`"bag":{"type":"Bag","info":{"type":"BagInfo","externalIdentifier":"b12345","version":"v2"}}`,
		`"status":{"id":"processing","type":"Status"}`,
		`"events":[{"type":"IngestEvent","createdDate":"2026-11-26T10:00:01.123Z","description":"Unpacking started"}]`,
		`"lastModifiedDate":"2026-11-26T10:00:01.123Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
}
