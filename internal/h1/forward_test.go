package h1

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func heads(t *testing.T, reqText, resText string) (*Head, *Head) {
	t.Helper()
	var req, res Head
	if err := req.ReadRequest(bufio.NewReader(strings.NewReader(reqText)), 1<<16); err != nil {
		t.Fatal(err)
	}
	if err := res.ReadResponse(bufio.NewReader(strings.NewReader(resText)), 1<<16); err != nil {
		t.Fatal(err)
	}
	return &req, &res
}

// TestPlanAndResponseFraming: how a response is framed for the client.
func TestPlanAndResponseFraming(t *testing.T) {
	const get11, get10, head11 = "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.0\r\n\r\n", "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
	tests := []struct {
		name, req, res string
		keep           bool
		want           Framing
		fields         string // framing fields written
	}{
		{"length", get11, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, Framing{Body: true}, "Content-Length: 5\r\n"},
		{"chunked upstream to 1.1", get11, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, Framing{Body: true, Chunked: true}, "Transfer-Encoding: chunked\r\n"},
		{"no length to 1.1", get11, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", true, Framing{Body: true, Chunked: true}, "Transfer-Encoding: chunked\r\n"},
		{"no length to 1.0", get10, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", true, Framing{Body: true, Close: true}, "Connection: close\r\n"},
		{"chunked upstream to 1.0", get10, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, Framing{Body: true, Close: true}, "Connection: close\r\n"},
		{"HEAD keeps the length", head11, "HTTP/1.1 200 OK\r\nContent-Length: 843\r\n\r\n", true, Framing{}, "Content-Length: 843\r\n"},
		{"204", get11, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", true, Framing{}, ""},
		{"304 keeps the length", get11, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", true, Framing{}, "Content-Length: 10\r\n"},
		{"closing", get11, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, Framing{Body: true, Close: true}, "Content-Length: 5\r\nConnection: close\r\n"},
		{"client closes", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, Framing{Body: true, Close: true}, "Content-Length: 5\r\nConnection: close\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, res := heads(t, tt.req, tt.res)
			f := Plan(req, res, tt.keep)
			if f != tt.want {
				t.Fatalf("Plan = %+v, want %+v", f, tt.want)
			}
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			WriteResponseFraming(w, res, f)
			w.Flush()
			if got := out.String(); got != tt.fields+"\r\n" {
				t.Fatalf("framing %q, want %q", got, tt.fields+"\r\n")
			}
		})
	}
}

func TestWriteRequestFraming(t *testing.T) {
	for _, tt := range []struct{ req, want string }{
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "\r\n"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", "Content-Length: 0\r\n\r\n"},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", "Content-Length: 12\r\n\r\n"},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding: chunked\r\n\r\n"},
	} {
		var req Head
		if err := req.ReadRequest(bufio.NewReader(strings.NewReader(tt.req)), 1<<16); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		WriteRequestFraming(w, &req)
		w.Flush()
		if out.String() != tt.want {
			t.Errorf("%q: framing %q, want %q", tt.req, out.String(), tt.want)
		}
	}
}

// TestReadFinalResponse: interim responses are skipped, a 101 refused.
func TestReadFinalResponse(t *testing.T) {
	var res Head
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))
	if err := ReadFinalResponse(br, &res, 1<<16); err != nil || res.Status != 201 {
		t.Fatalf("got %d, %v; want 201", res.Status, err)
	}
	br = bufio.NewReader(strings.NewReader("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"))
	err := ReadFinalResponse(br, &res, 1<<16)
	if he, ok := err.(*Error); !ok || he.Status != 502 {
		t.Fatalf("101: got %v, want a 502 *Error", err)
	}
}

func TestCopyResponseBodyReusable(t *testing.T) {
	get := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tt := range []struct {
		name, res, body string
		reusable        bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "hello", true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", true},
		{"upstream closes", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", "hello", false},
		{"until EOF", "HTTP/1.1 200 OK\r\n\r\n", "hello", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, res := heads(t, get, tt.res)
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			n, reusable, err := CopyResponseBody(w, bufio.NewReader(strings.NewReader(tt.body)), res, Plan(req, res, true))
			w.Flush()
			if err != nil || n != 5 || reusable != tt.reusable {
				t.Fatalf("n=%d reusable=%v err=%v; want 5, %v", n, reusable, err, tt.reusable)
			}
		})
	}
}
