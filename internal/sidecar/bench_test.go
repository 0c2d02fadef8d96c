package sidecar

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portway/portway/internal/h1"
)

// BenchmarkHop is one keep-alive GET through a running sidecar to an app
// answering a small JSON body, from parallel clients (go test -bench Hop
// -cpuprofile cpu.out shows where a hop's CPU goes).
func BenchmarkHop(b *testing.B) {
	body := strings.Repeat("x", 700)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(up.Close)
	s, err := New(Config{Listen: "127.0.0.1:0", Upstream: up.URL})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(c.CloseIdleConnections)
	u := "http://" + s.Addr() + "/ingests/0f7d6a4c-1b6c-4d43-8a56-2a6a3b8d9e51"
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer abc")
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkHeaders is the sidecar's own header handling of one exchange:
// parsing the client's request head, writing the app's request (Host,
// X-Real-IP, X-Forwarded-*), parsing the app's response head and writing
// the client's with the CORS headers, without any I/O.
func BenchmarkHeaders(b *testing.B) {
	reqText := "GET /ingests/abc?x=1 HTTP/1.1\r\nHost: api.example.test\r\nAuthorization: Bearer abc\r\n" +
		"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: api.example.test\r\n" +
		"X-Forwarded-Prefix: /v1\r\nUser-Agent: bench\r\n\r\n"
	resText := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: x\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 700\r\n\r\n"
	var req, res h1.Head
	rr, resr := strings.NewReader(reqText), strings.NewReader(resText)
	br, bres := bufio.NewReader(rr), bufio.NewReader(resr)
	bw := bufio.NewWriterSize(io.Discard, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		rr.Reset(reqText)
		br.Reset(rr)
		if err := req.ReadRequest(br, 64<<10); err != nil {
			b.Fatal(err)
		}
		writeRequestHead(bw, &req, "127.0.0.1", "127.0.0.1:9001")
		resr.Reset(resText)
		bres.Reset(resr)
		if err := res.ReadResponse(bres, 64<<10); err != nil {
			b.Fatal(err)
		}
		writeResponseHead(bw, &res, h1.Plan(&req, &res, true), "Server: nginx\r\n")
		bw.Reset(io.Discard)
	}
}
