package h1_test

import (
	"bufio"
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portway/portway/internal/h1"
)

// headTestStrings returns the string constants of head_test.go (literals,
// and sums of literals and constants such as post + "…"): the messages the
// head tests read, to seed the fuzzers with.
func headTestStrings(tb testing.TB) []string {
	tb.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), "head_test.go", nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	consts := map[string]ast.Expr{}
	ast.Inspect(file, func(n ast.Node) bool {
		if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
			for _, spec := range d.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						consts[name.Name] = vs.Values[i]
					}
				}
			}
		}
		return true
	})
	var eval func(e ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return eval(v)
			}
		case *ast.ParenExpr:
			return eval(e.X)
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(e.X)
				b, ok2 := eval(e.Y)
				return a + b, ok1 && ok2
			}
		}
		return "", false
	}
	var out []string
	ast.Inspect(file, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok {
			if s, ok := eval(e); ok && strings.Contains(s, "\n") {
				out = append(out, s)
				return false
			}
		}
		return true
	})
	if len(out) < 50 {
		tb.Fatalf("only %d messages found in head_test.go", len(out))
	}
	return out
}

// FuzzReadRequestMatchesNetHTTP: where both h1 and net/http accept a
// request head, they read the same request from it: method, target,
// version, header fields (names case-insensitively, values in order), body
// framing and length, and whether the connection closes after it. A
// difference there is what request smuggling between a proxy and its
// backend is made of.
//
// h1 refuses more than net/http, on purpose and as nginx does (two
// Content-Length fields even when equal, Content-Length with
// Transfer-Encoding, Transfer-Encoding on HTTP/1.0, an Expect other than
// 100-continue, Host values with '/', '?', '@'…, obs-fold, HTTP/1.1
// without Host, versions other than 1.0 and 1.1, targets not in origin or
// absolute http form); and it accepts a little that net/http refuses
// (empty lines before the request line, as RFC 9112 section 2.2 allows).
// Only heads both accept are compared.
func FuzzReadRequestMatchesNetHTTP(f *testing.F) {
	for _, s := range append(requestSeeds, headTestStrings(f)...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h h1.Head
		if err := h.ReadRequest(bufio.NewReader(bytes.NewReader(data)), 64<<10); err != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if req.Method != string(h.Method) || req.RequestURI != string(h.Target) {
			t.Fatalf("request line: net/http %q %q, h1 %q %q", req.Method, req.RequestURI, h.Method, h.Target)
		}
		if req.ProtoMajor != 1 || req.ProtoMinor != h.Minor {
			t.Fatalf("version: net/http %d.%d, h1 1.%d", req.ProtoMajor, req.ProtoMinor, h.Minor)
		}

		// Framing: chunked, a length, or no body.
		nhChunked := slices.Equal(req.TransferEncoding, []string{"chunked"})
		if nhChunked != h.Chunked {
			t.Fatalf("chunked: net/http %v (%q), h1 %v", nhChunked, req.TransferEncoding, h.Chunked)
		}
		switch {
		case h.Chunked:
		case h.ContentLength >= 0:
			if req.ContentLength != h.ContentLength {
				t.Fatalf("Content-Length: net/http %d, h1 %d", req.ContentLength, h.ContentLength)
			}
		default: // no body
			if req.ContentLength != 0 {
				t.Fatalf("body: net/http length %d, h1 none", req.ContentLength)
			}
		}
		if req.Close != h.Close {
			t.Fatalf("close: net/http %v, h1 %v", req.Close, h.Close)
		}
		// The Host field, for an origin-form target (an absolute one names
		// the host itself, and both then ignore the field).
		if len(h.Target) > 0 && (h.Target[0] == '/' || h.Target[0] == '*') && req.Host != string(h.Host) {
			t.Fatalf("Host: net/http %q, h1 %q", req.Host, h.Host)
		}

		// The other fields, in order per name. net/http moves Host and the
		// framing fields out of Header (compared above) and adds
		// Cache-Control: no-cache for a Pragma: no-cache (RFC 7234 5.4).
		want := http.Header{}
		for _, fl := range h.Fields {
			want.Add(string(fl.Name), string(fl.Value))
		}
		got := req.Header.Clone()
		for _, name := range []string{"Host", "Transfer-Encoding", "Content-Length"} {
			want.Del(name)
			got.Del(name)
		}
		if _, ok := want["Cache-Control"]; !ok && want.Get("Pragma") == "no-cache" {
			got.Del("Cache-Control")
		}
		if len(got) != len(want) {
			t.Fatalf("fields: net/http %q, h1 %q", got, want)
		}
		for name, vs := range want {
			if !slices.Equal(got[name], vs) {
				t.Fatalf("field %s: net/http %q, h1 %q", name, got[name], vs)
			}
		}
	})
}

// FuzzReadResponse: ReadResponse never panics, fails only with 502 (or an
// I/O error), and every head it accepts is self-consistent and reads the
// same into a used Head.
func FuzzReadResponse(f *testing.F) {
	for _, s := range headTestStrings(f) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h h1.Head
		err := h.ReadResponse(bufio.NewReaderSize(bytes.NewReader(data), 16), 4096)
		if err != nil {
			var he *h1.Error
			if errors.As(err, &he) && he.Status != http.StatusBadGateway {
				t.Fatalf("status %d for a response: %v", he.Status, err)
			}
			return
		}
		checkResponseHead(t, &h)

		var again h1.Head
		again.ReadRequest(bufio.NewReader(strings.NewReader("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close, x\r\nExpect: 100-continue\r\n\r\n")), 4096)
		if err := again.ReadResponse(bufio.NewReader(bytes.NewReader(data)), 4096); err != nil {
			t.Fatalf("accepted once, refused on a used Head: %v", err)
		}
		checkResponseHead(t, &again)
		if again.Status != h.Status || !bytes.Equal(again.Reason, h.Reason) || again.Minor != h.Minor ||
			again.Chunked != h.Chunked || again.ContentLength != h.ContentLength || again.Close != h.Close ||
			len(again.Fields) != len(h.Fields) || len(again.ConnTokens) != len(h.ConnTokens) {
			t.Fatalf("used Head reads differently: %+v vs %+v", again, h)
		}
	})
}

func checkResponseHead(t *testing.T, h *h1.Head) {
	t.Helper()
	if h.Status < 100 || h.Status > 999 {
		t.Fatalf("Status = %d", h.Status)
	}
	if h.Minor != 0 && h.Minor != 1 {
		t.Fatalf("Minor = %d", h.Minor)
	}
	if h.Method != nil || h.Target != nil || h.Host != nil || h.Expect100 {
		t.Fatalf("response with request data: %q %q host %q expect %v", h.Method, h.Target, h.Host, h.Expect100)
	}
	for _, c := range h.Reason {
		if (c < ' ' && c != '\t') || c == 0x7f {
			t.Fatalf("control character in reason %q", h.Reason)
		}
	}
	if h.Chunked && h.ContentLength >= 0 {
		t.Fatalf("both chunked and Content-Length %d", h.ContentLength)
	}
	if h.ContentLength < -1 {
		t.Fatalf("ContentLength = %d", h.ContentLength)
	}
	cls, tes := 0, 0
	for _, f := range h.Fields {
		if len(f.Name) == 0 {
			t.Fatal("field with an empty name")
		}
		for _, c := range f.Name {
			if c <= ' ' || c == ':' || c >= 0x7f {
				t.Fatalf("invalid field name %q accepted", f.Name)
			}
		}
		for _, c := range f.Value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				t.Fatalf("control character in value %q of %q", f.Value, f.Name)
			}
		}
		switch {
		case h1.Fold(f.Name, "content-length"):
			cls++
		case h1.Fold(f.Name, "transfer-encoding"):
			tes++
		}
	}
	if cls > 1 || tes > 1 || (cls > 0 && tes > 0) {
		t.Fatalf("ambiguous framing accepted: %d Content-Length, %d Transfer-Encoding", cls, tes)
	}
	if (cls == 1) != (h.ContentLength >= 0) || (tes == 1) != h.Chunked {
		t.Fatalf("framing summary (CL %d, chunked %v) disagrees with the fields", h.ContentLength, h.Chunked)
	}
	if h.Minor == 0 && !h.Close {
		keepAlive := false
		for _, f := range h.Fields {
			if h1.Fold(f.Name, "connection") {
				for tok := range strings.SplitSeq(string(f.Value), ",") {
					keepAlive = keepAlive || strings.EqualFold(strings.Trim(tok, " \t"), "keep-alive")
				}
			}
		}
		if !keepAlive {
			t.Fatal("HTTP/1.0 response without keep-alive not closing")
		}
	}
}
