package h1_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"testing"

	"github.com/portway/portway/internal/h1"
)

var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a?b HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"\r\n\nGET / HTTP/1.1\nHost: h\n\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://example.test/x HTTP/1.1\r\nHost: other\r\nConnection: x-a, close\r\n\r\n",
	// Smuggling-style heads.
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x4\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: \x00\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nExpect: nope\r\n\r\n",
	"GET  / HTTP/1.1\r\n\r\n",
	"",
	"\r\n",
}

// FuzzReadRequest: ReadRequest never panics, fails only with the statuses a
// proxy answers requests with, and every head it accepts is self-consistent.
func FuzzReadRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h h1.Head
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		err := h.ReadRequest(br, 4096)
		if err != nil {
			var he *h1.Error
			if errors.As(err, &he) {
				switch he.Status {
				case 400, 417, 431, 501, 505:
				default:
					t.Fatalf("status %d for a request: %v", he.Status, err)
				}
			}
			return
		}
		checkRequestHead(t, &h)

		// Reading the same input again into the used Head gives the same result.
		var again h1.Head
		again.ReadRequest(bufio.NewReader(bytes.NewReader([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close, x\r\nExpect: 100-continue\r\n\r\n"))), 4096)
		if err := again.ReadRequest(bufio.NewReader(bytes.NewReader(data)), 4096); err != nil {
			t.Fatalf("accepted once, refused on a reused Head: %v", err)
		}
		if again.Chunked != h.Chunked || again.ContentLength != h.ContentLength || again.Close != h.Close ||
			again.Expect100 != h.Expect100 || len(again.Fields) != len(h.Fields) || len(again.ConnTokens) != len(h.ConnTokens) {
			t.Fatalf("reused Head differs: %+v vs %+v", again, h)
		}
	})
}

func checkRequestHead(t *testing.T, h *h1.Head) {
	t.Helper()
	if h.Chunked && h.ContentLength >= 0 {
		t.Fatalf("both chunked and Content-Length %d", h.ContentLength)
	}
	if h.ContentLength < -1 {
		t.Fatalf("ContentLength = %d", h.ContentLength)
	}
	if len(h.Method) == 0 || len(h.Target) == 0 {
		t.Fatalf("empty method %q or target %q", h.Method, h.Target)
	}
	if h.Minor != 0 && h.Minor != 1 {
		t.Fatalf("Minor = %d", h.Minor)
	}
	if h.Minor == 1 && h.Host == nil {
		t.Fatal("HTTP/1.1 request without Host")
	}
	if h.Minor == 0 && h.Chunked {
		t.Fatal("chunked HTTP/1.0 request")
	}
	if h.Status != 0 {
		t.Fatalf("request with Status %d", h.Status)
	}
	for _, c := range h.Target {
		if c <= ' ' || c == 0x7f {
			t.Fatalf("control or space in target %q", h.Target)
		}
	}
	for _, c := range h.Host {
		if c <= ' ' || c == '/' || c == '@' {
			t.Fatalf("invalid Host %q accepted", h.Host)
		}
	}
	hosts, cls, tes := 0, 0, 0
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
		if v := f.Value; len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			t.Fatalf("untrimmed value %q", v)
		}
		switch string(bytes.ToLower(f.Name)) {
		case "host":
			hosts++
		case "content-length":
			cls++
		case "transfer-encoding":
			tes++
		}
	}
	if h.Minor == 1 && hosts != 1 {
		t.Fatalf("HTTP/1.1 request with %d Host fields accepted", hosts)
	}
	if cls > 1 || tes > 1 || (cls > 0 && tes > 0) {
		t.Fatalf("ambiguous framing accepted: %d Content-Length, %d Transfer-Encoding", cls, tes)
	}
	if (cls == 1) != (h.ContentLength >= 0) || (tes == 1) != h.Chunked {
		t.Fatalf("framing summary (CL %d, chunked %v) disagrees with the fields", h.ContentLength, h.Chunked)
	}
	for _, tok := range h.ConnTokens {
		if len(tok) == 0 {
			t.Fatal("empty Connection token")
		}
		if l := string(bytes.ToLower(tok)); l == "close" || l == "keep-alive" {
			t.Fatalf("Connection option %q listed as a field name", tok)
		}
	}
}

// FuzzCopyChunked: decoding never panics, and whatever decodes re-encodes
// into chunked data that net/http decodes to the same bytes.
func FuzzCopyChunked(f *testing.F) {
	for _, s := range []string{
		"0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nT: x\r\n\r\n",
		"3\nabc\n0\n\n",
		"fffffffffffffff\r\n",
		"0000000000000005\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n0\r\n\r\n",
		"zz\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var plain bytes.Buffer
		bw := bufio.NewWriter(&plain)
		n, err := h1.CopyChunked(bw, bufio.NewReaderSize(bytes.NewReader(data), 16), 1<<20, false)
		bw.Flush()
		if err != nil {
			var re *h1.ReadError
			if !errors.As(err, &re) && !errors.Is(err, h1.ErrBodyTooLarge) {
				t.Fatalf("err = %v (%T), want a ReadError or ErrBodyTooLarge", err, err)
			}
			return
		}
		if n != int64(plain.Len()) || n > 1<<20 {
			t.Fatalf("n = %d, wrote %d", n, plain.Len())
		}
		var enc bytes.Buffer
		bw = bufio.NewWriter(&enc)
		if _, err := h1.CopyChunked(bw, bufio.NewReader(bytes.NewReader(data)), 1<<20, true); err != nil {
			t.Fatalf("decoded plain but not re-encoding: %v", err)
		}
		bw.Flush()
		back, err := io.ReadAll(httputil.NewChunkedReader(&enc))
		if err != nil {
			t.Fatalf("re-encoded body is not valid chunked data: %v", err)
		}
		if !bytes.Equal(back, plain.Bytes()) {
			t.Fatalf("re-encoded body decodes to %q, want %q", back, plain.Bytes())
		}
	})
}
