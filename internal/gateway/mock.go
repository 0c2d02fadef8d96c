package gateway

import (
	"fmt"
	"net/http"
	"strings"
)

// IntegrationMock is a MOCK integration: the gateway answers the method
// itself with a fixed response (Integration.Mock), as API Gateway's mock
// integration does with a static request template ({"statusCode": N}) and
// the integration response that status selects.
const IntegrationMock = "MOCK"

// MaxMockBodyBytes bounds a mock response's body template.
const MaxMockBodyBytes = 64 << 10

// MockResponse is the response of a MOCK integration: its status, headers
// (AWS: method.response.header.X mapped from static values) and body (the
// integration response's template). The body may use the $context
// variables of gateway responses but for $context.error.*; any other
// template syntax is sent as written.
type MockResponse struct {
	StatusCode int               `yaml:"statusCode" json:"statusCode"` // 0 → 200
	Headers    map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Body       string            `yaml:"body,omitempty" json:"body,omitempty"`
}

func validateMock(m *MockResponse) []error {
	if m == nil {
		return nil
	}
	var errs []error
	if m.StatusCode != 0 && (m.StatusCode < 100 || m.StatusCode > 599) {
		errs = append(errs, fmt.Errorf("mock.statusCode: must be 0 (200) or 100-599, got %d", m.StatusCode))
	}
	for _, name := range sortedKeys(m.Headers) {
		if !headerNameRe().MatchString(name) {
			errs = append(errs, fmt.Errorf("mock.headers.%s: invalid header name", name))
		}
		if strings.ContainsAny(m.Headers[name], "\r\n\x00") {
			errs = append(errs, fmt.Errorf("mock.headers.%s: value must not contain CR, LF or NUL", name))
		}
		if framingField(name) {
			errs = append(errs, fmt.Errorf("mock.headers.%s: is set by the gateway", name))
		}
	}
	if len(m.Body) > MaxMockBodyBytes {
		errs = append(errs, fmt.Errorf("mock.body: longer than %d bytes", MaxMockBodyBytes))
	}
	return errs
}

func framingField(name string) bool {
	for _, f := range [...]string{"content-length", "connection", "transfer-encoding", "date", headerRequestID, headerAPIGWID} {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}

// answerMock writes a MOCK integration's response for a request whose body
// was not read (it is discarded, as AWS's mock ignores it with a static
// template; the connection closes when there is one).
func (g *Gateway) answerMock(r *request, st *reqState, m *MockResponse) bool {
	h := &r.sc.Req
	hasBody := h.Chunked || h.ContentLength > 0
	closing := hasBody || h.Close
	status := m.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	body := renderContextVars(m.Body, r.renderContext(st), status)
	st.code, st.bytes = status, int64(len(body))
	w := r.sc.W
	writeStatusLine(w, status, "")
	if _, ok := m.Headers["Content-Type"]; !ok && !hasKeyFold(m.Headers, "content-type") {
		writeField(w, "Content-Type", contentTypeJSON)
	}
	for _, k := range sortedKeys(m.Headers) {
		writeField(w, http.CanonicalHeaderKey(k), m.Headers[k])
	}
	g.writeOwnEnd(w, r, st, body, closing)
	if err := w.Flush(); err != nil {
		st.status = statusClientClosed
		return false
	}
	if hasBody {
		r.sc.LingerClose()
		return false
	}
	return !closing
}

func hasKeyFold(m map[string]string, key string) bool {
	for k := range m {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}
