package h1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
)

const testMax = 64 << 10

func readRequest(raw string) (*h1.Head, error) {
	var h h1.Head
	err := h.ReadRequest(bufio.NewReader(strings.NewReader(raw)), testMax)
	return &h, err
}

func readResponse(raw string) (*h1.Head, error) {
	var h h1.Head
	err := h.ReadResponse(bufio.NewReader(strings.NewReader(raw)), testMax)
	return &h, err
}

// wantStatus fails unless err is an *h1.Error with the given status.
func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	var he *h1.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want *h1.Error with status %d", err, err, status)
	}
	if he.Status != status {
		t.Fatalf("status = %d (%v), want %d", he.Status, he, status)
	}
	if he.Error() == "" {
		t.Fatal("empty error text")
	}
}

type field struct{ name, value string }

func fieldsOf(h *h1.Head) []field {
	var fs []field
	for _, f := range h.Fields {
		fs = append(fs, field{string(f.Name), string(f.Value)})
	}
	return fs
}

func tokensOf(h *h1.Head) []string {
	var ts []string
	for _, t := range h.ConnTokens {
		ts = append(ts, string(t))
	}
	return ts
}

func TestReadRequestValid(t *testing.T) {
	type want struct {
		method, target string
		minor          int
		host           *string // nil: Host must be nil
		fields         []field // nil: not checked
		cl             int64
		chunked        bool
		close          bool
		expect100      bool
		tokens         []string
	}
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		raw  string
		want want
	}{
		{
			name: "GET with Host, fields in order, original case, OWS trimmed",
			raw:  "GET /a/b?c=d HTTP/1.1\r\nHost: example.test\r\nX-One:  v1 \t\r\nx-TWO:v2\r\nX-Empty:\r\nX-Inner: a \t b\r\n\r\n",
			want: want{
				method: "GET", target: "/a/b?c=d", minor: 1, host: str("example.test"), cl: -1,
				fields: []field{{"Host", "example.test"}, {"X-One", "v1"}, {"x-TWO", "v2"}, {"X-Empty", ""}, {"X-Inner", "a \t b"}},
			},
		},
		{
			name: "HTTP/1.0 without keep-alive closes",
			raw:  "GET / HTTP/1.0\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 0, cl: -1, close: true},
		},
		{
			name: "HTTP/1.0 with keep-alive",
			raw:  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 0, cl: -1, fields: []field{{"Connection", "keep-alive"}}},
		},
		{
			name: "HTTP/1.0 with Keep-Alive in another case and a Host",
			raw:  "GET / HTTP/1.0\r\nHost: h\r\nconnection: Keep-Alive\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 0, host: str("h"), cl: -1},
		},
		{
			name: "HTTP/1.0 with keep-alive and close",
			raw:  "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 0, cl: -1, close: true},
		},
		{
			name: "HTTP/1.1 Connection: close",
			raw:  "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1, close: true},
		},
		{
			name: "HTTP/1.1 Connection: CLOSE among tokens",
			raw:  "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-a , CLOSE,,\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1, close: true, tokens: []string{"x-a"}},
		},
		{
			name: "HTTP/1.1 keeps alive by default",
			raw:  "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1},
		},
		{
			name: "connection tokens other than close and keep-alive",
			raw:  "GET / HTTP/1.1\r\nHost: h\r\nConnection: x-secret, Keep-Alive\r\nConnection: \tx-other\t\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1, tokens: []string{"x-secret", "x-other"}},
		},
		{
			name: "leading empty lines tolerated",
			raw:  "\r\n\r\n\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
			want: want{method: "GET", target: "/x", minor: 1, host: str("h"), cl: -1, fields: []field{{"Host", "h"}}},
		},
		{
			name: "bare LF line endings",
			raw:  "POST /x HTTP/1.1\nHost: h\nContent-Length: 3\nX-A: b\n\n",
			want: want{method: "POST", target: "/x", minor: 1, host: str("h"), cl: 3, fields: []field{{"Host", "h"}, {"Content-Length", "3"}, {"X-A", "b"}}},
		},
		{
			name: "mixed CRLF and LF",
			raw:  "GET / HTTP/1.1\nHost: h\r\nX: y\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1, fields: []field{{"Host", "h"}, {"X", "y"}}},
		},
		{
			name: "Content-Length",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\ncontent-length:  42 \r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: 42},
		},
		{
			name: "Content-Length zero",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: 0},
		},
		{
			name: "Content-Length of 18 digits",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999\r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: 999999999999999999},
		},
		{
			name: "Content-Length with leading zeros",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: 7},
		},
		{
			name: "chunked",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: -1, chunked: true},
		},
		{
			name: "chunked in another case",
			raw:  "POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding:  Chunked \r\n\r\n",
			want: want{method: "POST", target: "/", minor: 1, host: str("h"), cl: -1, chunked: true},
		},
		{
			name: "Expect: 100-continue",
			raw:  "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
			want: want{method: "PUT", target: "/", minor: 1, host: str("h"), cl: 1, expect100: true},
		},
		{
			name: "asterisk form",
			raw:  "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			want: want{method: "OPTIONS", target: "*", minor: 1, host: str("h"), cl: -1},
		},
		{
			name: "absolute form",
			raw:  "GET http://example.test/ingests?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			want: want{method: "GET", target: "http://example.test/ingests?x=1", minor: 1, host: str("other"), cl: -1},
		},
		{
			name: "absolute form, upper-case scheme",
			raw:  "GET HTTP://EXAMPLE.TEST/ HTTP/1.1\r\nHost: other\r\n\r\n",
			want: want{method: "GET", target: "HTTP://EXAMPLE.TEST/", minor: 1, host: str("other"), cl: -1},
		},
		{
			name: "extension method of tchars",
			raw:  "M-SEARCH! /x HTTP/1.1\r\nHost: h\r\n\r\n",
			want: want{method: "M-SEARCH!", target: "/x", minor: 1, host: str("h"), cl: -1},
		},
		{
			name: "Host with port, IPv6 literal",
			raw:  "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("[::1]:8080"), cl: -1},
		},
		{
			name: "empty Host",
			raw:  "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str(""), cl: -1},
		},
		{
			name: "obs-text and HTAB in values",
			raw:  "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\tx\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h"), cl: -1, fields: []field{{"Host", "h"}, {"X-Name", "caf\xc3\xa9\tx"}}},
		},
		{
			name: "value with colons",
			raw:  "GET / HTTP/1.1\r\nHost: h:1\r\nX-Url: http://a:b/c\r\n\r\n",
			want: want{method: "GET", target: "/", minor: 1, host: str("h:1"), cl: -1, fields: []field{{"Host", "h:1"}, {"X-Url", "http://a:b/c"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := readRequest(tc.raw)
			if err != nil {
				t.Fatalf("ReadRequest: %v", err)
			}
			w := tc.want
			if string(h.Method) != w.method || string(h.Target) != w.target || h.Minor != w.minor {
				t.Errorf("request line = %q %q 1.%d, want %q %q 1.%d", h.Method, h.Target, h.Minor, w.method, w.target, w.minor)
			}
			if w.host == nil {
				if h.Host != nil {
					t.Errorf("Host = %q, want nil", h.Host)
				}
			} else if h.Host == nil || string(h.Host) != *w.host {
				t.Errorf("Host = %q (nil %v), want %q", h.Host, h.Host == nil, *w.host)
			}
			if w.fields != nil {
				if got := fieldsOf(h); fmt.Sprint(got) != fmt.Sprint(w.fields) {
					t.Errorf("Fields = %q, want %q", got, w.fields)
				}
			}
			if h.ContentLength != w.cl {
				t.Errorf("ContentLength = %d, want %d", h.ContentLength, w.cl)
			}
			if h.Chunked != w.chunked || h.Close != w.close || h.Expect100 != w.expect100 {
				t.Errorf("Chunked, Close, Expect100 = %v, %v, %v, want %v, %v, %v", h.Chunked, h.Close, h.Expect100, w.chunked, w.close, w.expect100)
			}
			if got := tokensOf(h); fmt.Sprint(got) != fmt.Sprint(w.tokens) {
				t.Errorf("ConnTokens = %q, want %q", got, w.tokens)
			}
			if h.Status != 0 || h.Reason != nil {
				t.Errorf("request has Status %d Reason %q", h.Status, h.Reason)
			}
		})
	}
}

func TestListedAndGet(t *testing.T) {
	h, err := readRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: x-secret, keep-alive, x-other\r\nX-Secret: 1\r\nx-dup: a\r\nX-Dup: b\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x-secret", "X-Secret", "X-SECRET", "x-other", "X-Other"} {
		if !h.Listed([]byte(name)) {
			t.Errorf("Listed(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"keep-alive", "close", "x-secre", "x-secrets", "X-Dup", "", "Connection"} {
		if h.Listed([]byte(name)) {
			t.Errorf("Listed(%q) = true, want false", name)
		}
	}
	if v, ok := h.Get("x-dup"); !ok || string(v) != "a" {
		t.Errorf("Get(x-dup) = %q, %v, want first value \"a\"", v, ok)
	}
	if v, ok := h.Get("host"); !ok || string(v) != "h" {
		t.Errorf("Get(host) = %q, %v", v, ok)
	}
	if _, ok := h.Get("missing"); ok {
		t.Error("Get(missing) found a field")
	}
}

// TestListedMixedCaseToken: a Connection token sent in mixed case (as
// clients and apps usually spell field names) must be found too.
func TestListedMixedCaseToken(t *testing.T) {
	h, err := readRequest("GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Secret\r\nX-Secret: 1\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"X-Secret", "x-secret", "X-SECRET"} {
		if !h.Listed([]byte(name)) {
			t.Errorf("Listed(%q) = false with Connection: X-Secret, want true", name)
		}
	}
}

// TestGetMixedCaseName: Get is documented as case-insensitive, so the
// canonical spelling of a name must find the field.
func TestGetMixedCaseName(t *testing.T) {
	h, err := readRequest("GET / HTTP/1.1\r\nHost: h\r\nx-dup: a\r\nX-Dup: b\r\nContent-Type: text/plain\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"X-DUP": "a", "X-Dup": "a", "Content-Type": "text/plain", "Host": "h"} {
		if v, ok := h.Get(name); !ok || string(v) != want {
			t.Errorf("Get(%q) = %q, %v, want %q", name, v, ok, want)
		}
	}
}

func TestReadRequestRejected(t *testing.T) {
	const rl = "GET / HTTP/1.1\r\n"
	const post = "POST / HTTP/1.1\r\nHost: h\r\n"
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		// Framing ambiguity (request smuggling).
		{"CL then TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
		{"TE then CL 0", post + "Transfer-Encoding: chunked\r\ncontent-length: 0\r\n\r\n", 400},
		{"two CL same value", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
		{"two CL different values", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
		{"two CL, different case", post + "Content-Length: 5\r\ncontent-LENGTH: 5\r\n\r\n", 400},
		{"CL list", post + "Content-Length: 5, 5\r\n\r\n", 400},
		{"CL plus sign", post + "Content-Length: +5\r\n\r\n", 400},
		{"CL minus sign", post + "Content-Length: -5\r\n\r\n", 400},
		{"CL space inside", post + "Content-Length: 1 2\r\n\r\n", 400},
		{"CL hex", post + "Content-Length: 0x5\r\n\r\n", 400},
		{"CL hex digits", post + "Content-Length: 5a\r\n\r\n", 400},
		{"CL empty", post + "Content-Length:\r\n\r\n", 400},
		{"CL blank", post + "Content-Length:  \r\n\r\n", 400},
		{"CL 19 digits", post + "Content-Length: 1000000000000000000\r\n\r\n", 400},
		{"CL 19 digits with leading zero", post + "Content-Length: 0000000000000000001\r\n\r\n", 400},
		{"CL exponent", post + "Content-Length: 1e3\r\n\r\n", 400},
		{"CL decimal", post + "Content-Length: 1.0\r\n\r\n", 400},
		{"CL non-ASCII digit", post + "Content-Length: \xd9\xa1\r\n\r\n", 400},
		{"duplicate TE", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"chunked then another TE", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE in HTTP/1.0, not chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400},

		// Field syntax.
		{"obs-fold SP", rl + "Host: h\r\nX-A: 1\r\n folded\r\n\r\n", 400},
		{"obs-fold HTAB", rl + "Host: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400},
		{"obs-fold hiding TE", post + "X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
		{"first field line folded", rl + " Host: h\r\n\r\n", 400},
		{"space before colon", rl + "Host : h\r\n\r\n", 400},
		{"tab before colon", rl + "Host\t: h\r\n\r\n", 400},
		{"space before colon on TE", post + "Transfer-Encoding : chunked\r\n\r\n", 400},
		{"space before colon on CL", post + "Content-Length : 5\r\n\r\n", 400},
		{"no colon", rl + "Host: h\r\nNoColon\r\n\r\n", 400},
		{"empty field name", rl + "Host: h\r\n: v\r\n\r\n", 400},
		{"invalid name char", rl + "Host: h\r\nX(A): v\r\n\r\n", 400},
		{"space in name", rl + "Host: h\r\nX A: v\r\n\r\n", 400},
		{"non-ASCII name", rl + "Host: h\r\nX\xc3\xa9: v\r\n\r\n", 400},
		{"NUL in value", rl + "Host: h\r\nX-A: a\x00b\r\n\r\n", 400},
		{"SOH in value", rl + "Host: h\r\nX-A: a\x01b\r\n\r\n", 400},
		{"DEL in value", rl + "Host: h\r\nX-A: a\x7fb\r\n\r\n", 400},
		{"ESC in value", rl + "Host: h\r\nX-A: \x1b[0m\r\n\r\n", 400},
		{"VT at end of value", rl + "Host: h\r\nX-A: a\x0b\r\n\r\n", 400},
		{"bare CR in value", rl + "Host: h\r\nX-A: a\rb\r\n\r\n", 400},
		{"bare CR hiding a field", post + "X-A: a\rContent-Length: 5\r\n\r\n", 400},
		{"CR CR LF", rl + "Host: h\r\nX-A: a\r\r\n\r\n", 400},
		{"bare CR in name", rl + "Host: h\r\nX\r-A: b\r\n\r\n", 400},
		{"bare CR line", rl + "Host: h\r\n\r\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bare CR in version", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400},

		// Host.
		{"missing Host on HTTP/1.1", rl + "X-A: b\r\n\r\n", 400},
		{"no fields on HTTP/1.1", rl + "\r\n", 400},
		{"two Host fields", rl + "Host: a\r\nHost: a\r\n\r\n", 400},
		{"two Host fields, different case", rl + "Host: a\r\nhost: b\r\n\r\n", 400},
		{"Host with slash", rl + "Host: a/b\r\n\r\n", 400},
		{"Host with at", rl + "Host: user@a\r\n\r\n", 400},
		{"Host with space", rl + "Host: a b\r\n\r\n", 400},
		{"Host with tab", rl + "Host: a\tb\r\n\r\n", 400},
		{"Host with question mark", rl + "Host: a?b\r\n\r\n", 400},
		{"Host with hash", rl + "Host: a#b\r\n\r\n", 400},
		{"Host with backslash", rl + "Host: a\\b\r\n\r\n", 400},
		{"Host on HTTP/1.0 with slash", "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", 400},
		{"Host with port not digits", rl + "Host: a:8x\r\n\r\n", 400},
		{"Host with empty port", rl + "Host: a:\r\n\r\n", 400},
		{"Host with port 0", rl + "Host: a:0\r\n\r\n", 400},
		{"Host with port over 65535", rl + "Host: a:65536\r\n\r\n", 400},
		{"Host with two ports", rl + "Host: a:80:80\r\n\r\n", 400},
		{"Host with port only", rl + "Host: :80\r\n\r\n", 400},
		{"Host with quote", rl + "Host: a\"b\r\n\r\n", 400},
		{"Host with angle bracket", rl + "Host: a<b\r\n\r\n", 400},
		{"Host with non-ASCII", rl + "Host: caf\xc3\xa9\r\n\r\n", 400},
		{"Host with bad percent", rl + "Host: a%zz\r\n\r\n", 400},
		{"Host with unclosed bracket", rl + "Host: [::1\r\n\r\n", 400},
		{"Host with empty brackets", rl + "Host: []\r\n\r\n", 400},
		{"Host with text after bracket", rl + "Host: [::1]x\r\n\r\n", 400},
		{"absolute form with userinfo", "GET http://evil.example:80@x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form with user", "GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form with port over 65535", "GET http://h:99999/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form with port not digits", "GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form with empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form, authority only, empty", "GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form with fragment", "GET http://h#x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},

		// Request line.
		{"invalid method char", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"method with at", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"method with NUL", "G\x00T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"method with tab", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"non-ASCII method", "G\xc3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"authority target", "GET example.test:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"asterisk with more", "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"unknown scheme", "GET ftp://example.test/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"control char in target", "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"method only", "GET\r\nHost: h\r\n\r\n", 400},
		{"no version", "GET /\r\nHost: h\r\n\r\n", 400},
		{"empty version", "GET / \r\nHost: h\r\n\r\n", 400},
		{"double space after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"double space before version", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
		{"extra part", "GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 400},
		{"lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
		{"short version", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
		{"long version", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
		{"two-digit major", "GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},

		// Not implemented / not supported / expectation failed.
		{"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE identity", post + "Transfer-Encoding: identity\r\n\r\n", 501},
		{"TE chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", 501},
		{"TE chunked with parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", 501},
		{"TE empty", post + "Transfer-Encoding:\r\n\r\n", 501},
		{"TE gzip then CL", post + "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", 501},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505},
		{"Expect other", rl + "Host: h\r\nExpect: something-else\r\n\r\n", 417},
		{"Expect empty", rl + "Host: h\r\nExpect:\r\n\r\n", 417},
		{"Expect 100-continue plus more", rl + "Host: h\r\nExpect: 100-continue, x\r\n\r\n", 417},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readRequest(tc.raw)
			wantStatus(t, err, tc.status)
			if h1.IsCleanClose(err) {
				t.Error("IsCleanClose on a malformed request")
			}
		})
	}
}

func TestReadRequestHeadTooLarge(t *testing.T) {
	check := func(t *testing.T, err error) {
		t.Helper()
		wantStatus(t, err, 431)
		if !errors.Is(err, h1.ErrHeadTooLarge) {
			t.Errorf("err = %v, want ErrHeadTooLarge", err)
		}
	}
	t.Run("one line longer than the buffer", func(t *testing.T) {
		raw := "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 20000) + "\r\n\r\n"
		var h h1.Head
		err := h.ReadRequest(bufio.NewReaderSize(strings.NewReader(raw), 4096), 8192)
		check(t, err)
	})
	t.Run("huge request line", func(t *testing.T) {
		raw := "GET /" + strings.Repeat("a", 20000) + " HTTP/1.1\r\nHost: h\r\n\r\n"
		var h h1.Head
		check(t, h.ReadRequest(bufio.NewReaderSize(strings.NewReader(raw), 4096), 8192))
	})
	t.Run("unterminated line", func(t *testing.T) {
		r := io.MultiReader(strings.NewReader("GET / HTTP/1.1\r\nX: "), infiniteA{})
		var h h1.Head
		check(t, h.ReadRequest(bufio.NewReaderSize(r, 4096), 8192))
	})
	t.Run("many lines", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
		for i := range 100 {
			fmt.Fprintf(&b, "X-Field-%03d: %s\r\n", i, strings.Repeat("v", 80))
		}
		b.WriteString("\r\n")
		var h h1.Head
		check(t, h.ReadRequest(bufio.NewReader(strings.NewReader(b.String())), 4096))
	})
	t.Run("more than MaxLines fields", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
		for range h1.MaxLines + 50 {
			b.WriteString("X: 1\r\n")
		}
		b.WriteString("\r\n")
		_, err := readRequest(b.String())
		check(t, err)
	})
	t.Run("MaxLines fields fit, one more does not", func(t *testing.T) {
		head := func(fields int) string {
			var b strings.Builder
			b.WriteString("GET / HTTP/1.1\r\nHost: h\r\n")
			for range fields - 1 {
				b.WriteString("X: 1\r\n")
			}
			b.WriteString("\r\n")
			return b.String()
		}
		h, err := readRequest(head(h1.MaxLines))
		if err != nil {
			t.Fatalf("%d fields: %v", h1.MaxLines, err)
		}
		if len(h.Fields) != h1.MaxLines {
			t.Fatalf("got %d fields, want %d", len(h.Fields), h1.MaxLines)
		}
		_, err = readRequest(head(h1.MaxLines + 1))
		check(t, err)
	})
	t.Run("exactly max bytes fit", func(t *testing.T) {
		raw := "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 1000) + "\r\n\r\n"
		var h h1.Head
		if err := h.ReadRequest(bufio.NewReader(strings.NewReader(raw)), len(raw)); err != nil {
			t.Fatalf("head of exactly max bytes: %v", err)
		}
		check(t, h.ReadRequest(bufio.NewReader(strings.NewReader(raw)), len(raw)-1))
	})
	t.Run("leading empty lines count", func(t *testing.T) {
		raw := strings.Repeat("\r\n", 5000) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
		var h h1.Head
		check(t, h.ReadRequest(bufio.NewReader(strings.NewReader(raw)), 4096))
	})
}

// infiniteA is an endless stream of 'a'.
type infiniteA struct{}

func (infiniteA) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestReadRequestEOF(t *testing.T) {
	_, err := readRequest("")
	if err == nil || !h1.IsCleanClose(err) {
		t.Errorf("empty input: err = %v, want a clean close", err)
	}
	var he *h1.Error
	if errors.As(err, &he) {
		t.Errorf("empty input gave *h1.Error %v", he)
	}
	for _, raw := range []string{
		"G",
		"GET / HTTP/1.1",
		"GET / HTTP/1.1\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\n\r",
	} {
		_, err := readRequest(raw)
		if err == nil {
			t.Errorf("truncated %q: no error", raw)
			continue
		}
		if h1.IsCleanClose(err) {
			t.Errorf("truncated %q: IsCleanClose(%v) = true", raw, err)
		}
		if errors.As(err, &he) {
			t.Errorf("truncated %q: err = *h1.Error %v, want an I/O error", raw, err)
		}
	}
	if h1.IsCleanClose(nil) || h1.IsCleanClose(io.EOF) {
		t.Error("IsCleanClose true for nil or a bare io.EOF")
	}
	// An I/O error other than EOF is passed on.
	boom := errors.New("boom")
	var h h1.Head
	err = h.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader("GET / HT"), errReader{boom})), testMax)
	if !errors.Is(err, boom) || h1.IsCleanClose(err) {
		t.Errorf("err = %v, want one wrapping %v", err, boom)
	}
	err = h.ReadRequest(bufio.NewReader(errReader{boom}), testMax)
	if !errors.Is(err, boom) || h1.IsCleanClose(err) {
		t.Errorf("err = %v, want one wrapping %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		status  int
		reason  string
		minor   int
		cl      int64
		chunked bool
		close   bool
		fields  []field
	}{
		{"200 OK", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\n", 200, "OK", 1, 5, false, false, []field{{"Content-Length", "5"}, {"X-A", "b"}}},
		{"no reason", "HTTP/1.1 204\r\n\r\n", 204, "", 1, -1, false, false, nil},
		{"empty reason", "HTTP/1.1 204 \r\n\r\n", 204, "", 1, -1, false, false, nil},
		{"reason with spaces", "HTTP/1.1 404 Not Found\r\n\r\n", 404, "Not Found", 1, -1, false, false, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, "OK", 1, -1, true, false, nil},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200, "OK", 1, 0, false, true, nil},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\n\r\n", 200, "OK", 0, -1, false, true, nil},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", 200, "OK", 0, 2, false, false, nil},
		{"HTTP/1.0 chunked response", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, "OK", 0, -1, true, true, nil},
		{"1xx", "HTTP/1.1 100 Continue\r\n\r\n", 100, "Continue", 1, -1, false, false, nil},
		{"999", "HTTP/1.1 999 Odd\r\n\r\n", 999, "Odd", 1, -1, false, false, nil},
		{"bare LF", "HTTP/1.1 302 Found\nLocation: /x\n\n", 302, "Found", 1, -1, false, false, []field{{"Location", "/x"}}},
		{"leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n", 200, "OK", 1, -1, false, false, nil},
		{"no Host needed, two Hosts fine", "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n", 200, "OK", 1, -1, false, false, nil},
		{"Expect ignored", "HTTP/1.1 200 OK\r\nExpect: x\r\n\r\n", 200, "OK", 1, -1, false, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := readResponse(tc.raw)
			if err != nil {
				t.Fatalf("ReadResponse: %v", err)
			}
			if h.Status != tc.status || string(h.Reason) != tc.reason || h.Minor != tc.minor {
				t.Errorf("status line = 1.%d %d %q, want 1.%d %d %q", h.Minor, h.Status, h.Reason, tc.minor, tc.status, tc.reason)
			}
			if h.ContentLength != tc.cl || h.Chunked != tc.chunked || h.Close != tc.close {
				t.Errorf("CL, chunked, close = %d, %v, %v, want %d, %v, %v", h.ContentLength, h.Chunked, h.Close, tc.cl, tc.chunked, tc.close)
			}
			if tc.fields != nil && fmt.Sprint(fieldsOf(h)) != fmt.Sprint(tc.fields) {
				t.Errorf("Fields = %q, want %q", fieldsOf(h), tc.fields)
			}
			if h.Method != nil || h.Target != nil || h.Host != nil || h.Expect100 {
				t.Errorf("response has request data: %q %q host %q expect %v", h.Method, h.Target, h.Host, h.Expect100)
			}
		})
	}
}

func TestReadResponseRejected(t *testing.T) {
	const sl = "HTTP/1.1 200 OK\r\n"
	tests := []struct{ name, raw string }{
		{"no space before reason", "HTTP/1.1 200OK\r\n\r\n"},
		{"two-digit status", "HTTP/1.1 20\r\n\r\n"},
		{"two-digit status with reason", "HTTP/1.1 20 OK\r\n\r\n"},
		{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
		{"non-digit status", "HTTP/1.1 abc OK\r\n\r\n"},
		{"leading-zero status", "HTTP/1.1 099 X\r\n\r\n"},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"},
		{"lower-case version", "http/1.1 200 OK\r\n\r\n"},
		{"double space", "HTTP/1.1  200 OK\r\n\r\n"},
		{"tab separator", "HTTP/1.1\t200 OK\r\n\r\n"},
		{"ICY", "ICY 200 OK\r\n\r\n"},
		{"version only", "HTTP/1.1\r\n\r\n"},
		{"HTML", "<html>\r\n\r\n"},
		{"CL and TE", sl + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"TE and CL", sl + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"},
		{"two CL", sl + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"},
		{"bad CL", sl + "Content-Length: -1\r\n\r\n"},
		{"TE gzip", sl + "Transfer-Encoding: gzip\r\n\r\n"},
		{"obs-fold", sl + "X-A: 1\r\n b\r\n\r\n"},
		{"space before colon", sl + "X-A : 1\r\n\r\n"},
		{"NUL in value", sl + "X-A: \x00\r\n\r\n"},
		{"bare CR in value", sl + "X-A: a\rb\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readResponse(tc.raw)
			wantStatus(t, err, 502)
		})
	}
	t.Run("too large", func(t *testing.T) {
		var h h1.Head
		raw := sl + "X: " + strings.Repeat("a", 10000) + "\r\n\r\n"
		err := h.ReadResponse(bufio.NewReader(strings.NewReader(raw)), 4096)
		wantStatus(t, err, 502)
	})
	t.Run("too many lines", func(t *testing.T) {
		raw := sl + strings.Repeat("X: 1\r\n", h1.MaxLines+1) + "\r\n"
		_, err := readResponse(raw)
		wantStatus(t, err, 502)
	})
	t.Run("empty", func(t *testing.T) {
		_, err := readResponse("")
		if !h1.IsCleanClose(err) {
			t.Errorf("err = %v, want a clean close", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		_, err := readResponse("HTTP/1.1 200 OK\r\n")
		var he *h1.Error
		if err == nil || errors.As(err, &he) || h1.IsCleanClose(err) {
			t.Errorf("err = %v, want an I/O error", err)
		}
	})
}

// TestReadResponseReasonControlChars: the reason phrase is passed on to
// clients verbatim, so it must not carry control characters (RFC 9112:
// reason-phrase = *( HTAB / SP / VCHAR / obs-text ); no bare CR).
func TestReadResponseReasonControlChars(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 O\rK\r\n\r\n",
		"HTTP/1.1 200 O\x00K\r\n\r\n",
		"HTTP/1.1 200 OK\x7f\r\n\r\n",
	} {
		_, err := readResponse(raw)
		var he *h1.Error
		if !errors.As(err, &he) || he.Status != 502 {
			t.Errorf("%q: err = %v, want a 502 *h1.Error", raw, err)
		}
	}
}

func TestResponseHasBody(t *testing.T) {
	tests := []struct {
		method string
		status int
		want   bool
	}{
		{"HEAD", 200, false},
		{"HEAD", 404, false},
		{"GET", 100, false},
		{"GET", 101, false},
		{"GET", 103, false},
		{"GET", 204, false},
		{"POST", 204, false},
		{"GET", 304, false},
		{"GET", 200, true},
		{"POST", 201, true},
		{"GET", 205, true},
		{"GET", 404, true},
		{"GET", 500, true},
		{"head", 200, true}, // methods are case-sensitive
	}
	for _, tc := range tests {
		h, err := readResponse(fmt.Sprintf("HTTP/1.1 %d X\r\n\r\n", tc.status))
		if err != nil {
			t.Fatalf("%d: %v", tc.status, err)
		}
		if got := h.ResponseHasBody([]byte(tc.method)); got != tc.want {
			t.Errorf("ResponseHasBody(%s) for %d = %v, want %v", tc.method, tc.status, got, tc.want)
		}
	}
}

// TestHeadReuse reads pipelined messages into one Head: nothing of a
// message may leak into the next.
func TestHeadReuse(t *testing.T) {
	raw := "" +
		"POST /first HTTP/1.1\r\nHost: first.test\r\nTransfer-Encoding: chunked\r\nConnection: close, x-tok\r\nExpect: 100-continue\r\nX-Only-First: 1\r\n\r\n" +
		"3\r\nabc\r\n0\r\n\r\n" +
		"PUT /second HTTP/1.1\r\nHost: second.test\r\nContent-Length: 4\r\n\r\nbody" +
		"GET /third HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
		"GET /fourth HTTP/1.0\r\n\r\n" +
		"GET /fifth HTTP/1.1\r\nHost: fifth.test\r\n\r\n"
	br := bufio.NewReaderSize(strings.NewReader(raw), 16)
	var h h1.Head
	var sink strings.Builder
	bw := bufio.NewWriter(&sink)

	if err := h.ReadRequest(br, testMax); err != nil {
		t.Fatal(err)
	}
	if string(h.Target) != "/first" || !h.Chunked || !h.Close || !h.Expect100 || len(h.ConnTokens) != 1 || string(h.Host) != "first.test" {
		t.Fatalf("first: %q chunked %v close %v expect %v tokens %q host %q", h.Target, h.Chunked, h.Close, h.Expect100, tokensOf(&h), h.Host)
	}
	if _, err := h1.CopyChunked(bw, br, -1, false); err != nil {
		t.Fatal(err)
	}

	if err := h.ReadRequest(br, testMax); err != nil {
		t.Fatal(err)
	}
	if string(h.Method) != "PUT" || string(h.Target) != "/second" || h.Chunked || h.Close || h.Expect100 ||
		len(h.ConnTokens) != 0 || h.ContentLength != 4 || string(h.Host) != "second.test" || h.Listed([]byte("x-tok")) {
		t.Fatalf("second: %q %q chunked %v close %v expect %v tokens %q cl %d host %q", h.Method, h.Target, h.Chunked, h.Close, h.Expect100, tokensOf(&h), h.ContentLength, h.Host)
	}
	if got := fieldsOf(&h); fmt.Sprint(got) != fmt.Sprint([]field{{"Host", "second.test"}, {"Content-Length", "4"}}) {
		t.Fatalf("second fields = %q", got)
	}
	if _, ok := h.Get("X-Only-First"); ok {
		t.Fatal("second request has a field of the first")
	}
	if _, err := h1.CopyLength(bw, br, h.ContentLength); err != nil {
		t.Fatal(err)
	}

	if err := h.ReadRequest(br, testMax); err != nil {
		t.Fatal(err)
	}
	if string(h.Target) != "/third" || h.Minor != 0 || h.Close || h.ContentLength != -1 || h.Host != nil {
		t.Fatalf("third: %q minor %d close %v cl %d host %q", h.Target, h.Minor, h.Close, h.ContentLength, h.Host)
	}

	// keep-alive of the third must not carry over.
	if err := h.ReadRequest(br, testMax); err != nil {
		t.Fatal(err)
	}
	if string(h.Target) != "/fourth" || !h.Close || len(h.Fields) != 0 {
		t.Fatalf("fourth: %q close %v fields %q", h.Target, h.Close, fieldsOf(&h))
	}

	// The Host count must start again from zero.
	if err := h.ReadRequest(br, testMax); err != nil {
		t.Fatalf("fifth: %v", err)
	}
	if string(h.Target) != "/fifth" || h.Minor != 1 || h.Close || string(h.Host) != "fifth.test" {
		t.Fatalf("fifth: %q minor %d close %v host %q", h.Target, h.Minor, h.Close, h.Host)
	}

	if err := h.ReadRequest(br, testMax); !h1.IsCleanClose(err) {
		t.Fatalf("after the last request: err = %v, want a clean close", err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if sink.String() != "abcbody" {
		t.Fatalf("bodies = %q", sink.String())
	}

	// A response read into a Head that held a request has no request data.
	if err := h.ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\n")), testMax); err != nil {
		t.Fatal(err)
	}
	if h.Method != nil || h.Target != nil || h.Host != nil || h.Status != 200 || h.ContentLength != -1 {
		t.Fatalf("response after request: %q %q %q %d %d", h.Method, h.Target, h.Host, h.Status, h.ContentLength)
	}
	// And a request after a response has no status.
	if err := h.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: h\r\n\r\n")), testMax); err != nil {
		t.Fatal(err)
	}
	if h.Status != 0 || h.Reason != nil {
		t.Fatalf("request after response: status %d reason %q", h.Status, h.Reason)
	}
	// A failed read leaves no framing of an earlier message behind.
	if err := h.ReadRequest(bufio.NewReader(strings.NewReader("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")), testMax); err != nil {
		t.Fatal(err)
	}
	if err := h.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n")), testMax); err == nil {
		t.Fatal("two Hosts accepted")
	}
	if err := h.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: h\r\n\r\n")), testMax); err != nil || h.ContentLength != -1 {
		t.Fatalf("after a failed read: err %v, ContentLength %d", err, h.ContentLength)
	}
}

func TestErrorText(t *testing.T) {
	e := &h1.Error{Status: 400, Reason: "bad thing"}
	if got := e.Error(); !strings.Contains(got, "400") || !strings.Contains(got, "Bad Request") || !strings.Contains(got, "bad thing") {
		t.Errorf("Error() = %q", got)
	}
}

// TestAbsoluteFormAuthority: an absolute-form target's authority is kept
// apart from Host; other forms have none.
func TestAbsoluteFormAuthority(t *testing.T) {
	for raw, want := range map[string]string{
		"GET http://example.test/ingests?x=1 HTTP/1.1\r\nHost: other\r\n\r\n": "example.test",
		"GET HTTP://Example.Test:8080 HTTP/1.1\r\nHost: other\r\n\r\n":        "Example.Test:8080",
		"GET http://[::1]:80?q HTTP/1.1\r\nHost: other\r\n\r\n":               "[::1]:80",
		"GET / HTTP/1.1\r\nHost: other\r\n\r\n":                               "",
	} {
		h, err := readRequest(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if string(h.Authority) != want || (want == "") != (h.Authority == nil) {
			t.Errorf("%q: Authority %q (nil %v), want %q", raw, h.Authority, h.Authority == nil, want)
		}
		if string(h.Host) != "other" {
			t.Errorf("%q: Host %q", raw, h.Host)
		}
	}
}

func TestValidAuthority(t *testing.T) {
	for _, a := range []string{
		"h", "example.test", "EXAMPLE.test.", "127.0.0.1", "127.0.0.1:8080", "h:1", "h:65535", "h:08080",
		"[::1]", "[::1]:8080", "[fe80::1%25eth0]:80", "a_b-c~d", "xn--caf-dma.example", "a%20b", "!$&'()*+,;=",
	} {
		if !h1.ValidAuthority([]byte(a)) {
			t.Errorf("ValidAuthority(%q) = false", a)
		}
	}
	for _, a := range []string{
		"", ":80", "h:", "h:0", "h:65536", "h:123456", "h:8x", "h:80:80", "u@h", "u:p@h:80", "h/x", "h?x", "h#x",
		"h\\x", "a b", "a\"b", "a<b", "a>b", "a`b", "caf\xc3\xa9", "a%2", "a%zz", "[", "[]", "[::1", "[::1]x", "[::1]:",
		"[::1]:0", "[a/b]", "[a@b]",
	} {
		if h1.ValidAuthority([]byte(a)) {
			t.Errorf("ValidAuthority(%q) = true", a)
		}
	}
}
