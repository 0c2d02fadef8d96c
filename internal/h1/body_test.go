package h1_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httputil"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/portway/portway/internal/h1"
)

var errWrite = errors.New("write refused")

// failWriter accepts ok bytes, then fails every write.
type failWriter struct {
	ok  int
	got bytes.Buffer
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.ok <= 0 {
		return 0, errWrite
	}
	n := min(len(p), w.ok)
	w.got.Write(p[:n])
	w.ok -= n
	if n < len(p) {
		return n, errWrite
	}
	return n, nil
}

func wantReadError(t *testing.T, err error, cause error) {
	t.Helper()
	var re *h1.ReadError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *h1.ReadError", err, err)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("err = %v, want one wrapping %v", err, cause)
	}
	if re.Error() == "" {
		t.Fatal("empty error text")
	}
}

func wantWriteError(t *testing.T, err error) {
	t.Helper()
	var we *h1.WriteError
	if !errors.As(err, &we) || !errors.Is(err, errWrite) {
		t.Fatalf("err = %v (%T), want *h1.WriteError wrapping %v", err, err, errWrite)
	}
	if we.Error() == "" {
		t.Fatal("empty error text")
	}
	var re *h1.ReadError
	if errors.As(err, &re) {
		t.Fatalf("write failure reported as a read error: %v", err)
	}
}

// wantMalformed fails unless err is a *h1.ReadError wrapping a 400 *h1.Error.
func wantMalformed(t *testing.T, err error) {
	t.Helper()
	var re *h1.ReadError
	var he *h1.Error
	if !errors.As(err, &re) || !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("err = %v (%T), want *h1.ReadError wrapping a 400 *h1.Error", err, err)
	}
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCopyLength(t *testing.T) {
	t.Run("exact bytes, rest left in the reader", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("hello world"))
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		n, err := h1.CopyLength(bw, br, 5)
		if err != nil || n != 5 {
			t.Fatalf("CopyLength = %d, %v", n, err)
		}
		bw.Flush()
		if out.String() != "hello" {
			t.Fatalf("copied %q", out.String())
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != " world" {
			t.Fatalf("left %q", rest)
		}
	})
	t.Run("zero", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("abc"))
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		if n, err := h1.CopyLength(bw, br, 0); n != 0 || err != nil {
			t.Fatalf("CopyLength(0) = %d, %v", n, err)
		}
		bw.Flush()
		if out.Len() != 0 || br.Buffered() != 0 {
			t.Fatalf("copied %q, buffered %d (must not even read)", out.String(), br.Buffered())
		}
	})
	t.Run("zero from an empty source", func(t *testing.T) {
		bw := bufio.NewWriter(io.Discard)
		if n, err := h1.CopyLength(bw, bufio.NewReader(strings.NewReader("")), 0); n != 0 || err != nil {
			t.Fatalf("CopyLength(0) = %d, %v", n, err)
		}
	})
	t.Run("large body through small buffers", func(t *testing.T) {
		data := randomBytes(1<<20 + 17)
		br := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(append(data, "tail"...))), 16)
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 16)
		n, err := h1.CopyLength(bw, br, int64(len(data)))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("CopyLength = %d, %v", n, err)
		}
		bw.Flush()
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("data differs")
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != "tail" {
			t.Fatalf("left %q", rest)
		}
	})
	t.Run("part already buffered, more from the reader", func(t *testing.T) {
		body := strings.Repeat("0123456789", 100)
		src := "HEAD LINE\n" + body + "NEXT"
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(src)), 32)
		if _, err := br.Peek(32); err != nil { // fill the buffer past the head line
			t.Fatal(err)
		}
		if l, err := br.ReadString('\n'); err != nil || l != "HEAD LINE\n" {
			t.Fatalf("head line %q, %v", l, err)
		}
		if br.Buffered() == 0 {
			t.Fatal("test setup: nothing of the body buffered")
		}
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		n, err := h1.CopyLength(bw, br, int64(len(body)))
		if err != nil || n != int64(len(body)) {
			t.Fatalf("CopyLength = %d, %v", n, err)
		}
		bw.Flush()
		if out.String() != body {
			t.Fatalf("copied %d bytes, differing", out.Len())
		}
		rest, _ := io.ReadAll(br)
		if string(rest) != "NEXT" {
			t.Fatalf("left %q", rest)
		}
	})
	t.Run("short source", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("abc"))
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		n, err := h1.CopyLength(bw, br, 5)
		wantReadError(t, err, io.ErrUnexpectedEOF)
		if n != 3 {
			t.Errorf("n = %d, want 3", n)
		}
		bw.Flush()
		if out.String() != "abc" {
			t.Errorf("copied %q", out.String())
		}
	})
	t.Run("empty source", func(t *testing.T) {
		n, err := h1.CopyLength(bufio.NewWriter(io.Discard), bufio.NewReader(strings.NewReader("")), 1)
		wantReadError(t, err, io.ErrUnexpectedEOF)
		if n != 0 {
			t.Errorf("n = %d", n)
		}
	})
	t.Run("read failure", func(t *testing.T) {
		boom := errors.New("connection reset")
		br := bufio.NewReader(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)))
		n, err := h1.CopyLength(bufio.NewWriter(io.Discard), br, 5)
		wantReadError(t, err, boom)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			t.Error("a read failure reported as an unexpected EOF")
		}
		if n != 2 {
			t.Errorf("n = %d, want 2", n)
		}
	})
	t.Run("write failure", func(t *testing.T) {
		br := bufio.NewReader(bytes.NewReader(randomBytes(1000)))
		fw := &failWriter{}
		_, err := h1.CopyLength(bufio.NewWriterSize(fw, 16), br, 1000)
		wantWriteError(t, err)
	})
	t.Run("write failure midway", func(t *testing.T) {
		br := bufio.NewReaderSize(bytes.NewReader(randomBytes(100000)), 4096)
		fw := &failWriter{ok: 5000}
		n, err := h1.CopyLength(bufio.NewWriterSize(fw, 4096), br, 100000)
		wantWriteError(t, err)
		if n >= 100000 {
			t.Errorf("n = %d after a failed write", n)
		}
	})
}

// chunkedDecode decodes chunked with net/http's own decoder.
func chunkedDecode(t *testing.T, chunked []byte) []byte {
	t.Helper()
	data, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(chunked)))
	if err != nil {
		t.Fatalf("output is not valid chunked encoding: %v\n%q", err, chunked)
	}
	return data
}

// copyChunked runs CopyChunked on src and returns what it wrote, the count,
// the error and what is left in the reader.
func copyChunked(src string, limit int64, chunked bool) (string, int64, error, string) {
	br := bufio.NewReader(strings.NewReader(src))
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	n, err := h1.CopyChunked(bw, br, limit, chunked)
	bw.Flush()
	rest, _ := io.ReadAll(br)
	return out.String(), n, err, string(rest)
}

func TestCopyChunked(t *testing.T) {
	tests := []struct {
		name, src, data string
	}{
		{"multi-chunk with extensions and trailers",
			"5;ext=1\r\nhello\r\n6 ; a=\"b c\";d\r\n world\r\nA\r\n0123456789\r\n0;last\r\nX-Trailer: t\r\nOther:\r\n\r\n",
			"hello world0123456789"},
		{"empty body", "0\r\n\r\n", ""},
		{"upper- and lower-case hex, leading zeros", "000a\r\n0123456789\r\n1F\r\n" + strings.Repeat("x", 31) + "\r\n1f\r\n" + strings.Repeat("y", 31) + "\r\n00\r\n\r\n",
			"0123456789" + strings.Repeat("x", 31) + strings.Repeat("y", 31)},
		{"bare LF", "3\nabc\n0\n\n", "abc"},
		{"15 hex digits", "000000000000003\r\nabc\r\n0\r\n\r\n", "abc"},
		{"OWS before extension", "3 \t;x\r\nabc\r\n0\r\n\r\n", "abc"},
		{"trailing OWS", "3 \r\nabc\r\n0\r\n\r\n", "abc"},
		{"binary data with CRLF inside", "6\r\n\r\n0\r\n\n\r\n0\r\n\r\n", "\r\n0\r\n\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const next = "GET /next HTTP/1.1\r\n\r\n"
			plain, n, err, rest := copyChunked(tc.src+next, -1, false)
			if err != nil {
				t.Fatalf("plain: %v", err)
			}
			if plain != tc.data || n != int64(len(tc.data)) {
				t.Errorf("plain = %q (n %d), want %q", plain, n, tc.data)
			}
			if rest != next {
				t.Errorf("left %q, want the next message", rest)
			}

			enc, n, err, rest := copyChunked(tc.src+next, -1, true)
			if err != nil {
				t.Fatalf("chunked: %v", err)
			}
			if n != int64(len(tc.data)) || rest != next {
				t.Errorf("chunked: n %d, left %q", n, rest)
			}
			if got := chunkedDecode(t, []byte(enc)); string(got) != tc.data {
				t.Errorf("re-encoded decodes to %q, want %q", got, tc.data)
			}
			if !strings.HasSuffix(enc, "\r\n0\r\n\r\n") && enc != "0\r\n\r\n" {
				t.Errorf("re-encoded body does not end with an empty last chunk and trailer: %q", enc)
			}
			if strings.Contains(enc, ";") || strings.Contains(enc, "Trailer") {
				t.Errorf("extensions or trailers passed on: %q", enc)
			}
		})
	}
	t.Run("re-encoding is canonical", func(t *testing.T) {
		enc, _, err, _ := copyChunked("0005;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n", -1, true)
		if err != nil {
			t.Fatal(err)
		}
		if enc != "5\r\nhello\r\n0\r\n\r\n" {
			t.Errorf("re-encoded = %q", enc)
		}
	})
	t.Run("large random body in small reads", func(t *testing.T) {
		data := randomBytes(300000)
		var src bytes.Buffer
		w := httputil.NewChunkedWriter(&src)
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+len(rest)%7919)
			w.Write(rest[:k])
			rest = rest[k:]
		}
		w.Close()
		src.WriteString("\r\n")
		br := bufio.NewReaderSize(iotest.HalfReader(&src), 64)
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 64)
		n, err := h1.CopyChunked(bw, br, -1, true)
		if err != nil || n != int64(len(data)) {
			t.Fatalf("CopyChunked = %d, %v", n, err)
		}
		bw.Flush()
		if !bytes.Equal(chunkedDecode(t, out.Bytes()), data) {
			t.Fatal("data differs")
		}
	})
}

func TestCopyChunkedLimit(t *testing.T) {
	const src = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	for _, limit := range []int64{-1, 11, 12, 1 << 40} {
		if out, n, err, _ := copyChunked(src, limit, false); err != nil || out != "hello world" || n != 11 {
			t.Errorf("limit %d: %q, %d, %v", limit, out, n, err)
		}
	}
	for _, limit := range []int64{0, 4, 5, 10} {
		out, _, err, _ := copyChunked(src, limit, false)
		if !errors.Is(err, h1.ErrBodyTooLarge) {
			t.Errorf("limit %d: err = %v, want ErrBodyTooLarge", limit, err)
		}
		var he *h1.Error
		if !errors.As(err, &he) || he.Status != 413 {
			t.Errorf("limit %d: err = %v, want a 413 *h1.Error", limit, err)
		}
		if int64(len(out)) > limit {
			t.Errorf("limit %d: wrote %d bytes past the limit", limit, len(out))
		}
	}
	// A huge declared chunk is refused before its data is read.
	if _, _, err, _ := copyChunked("fffffffffffffff\r\nabc", 1<<20, false); !errors.Is(err, h1.ErrBodyTooLarge) {
		t.Errorf("huge chunk: err = %v, want ErrBodyTooLarge", err)
	}
	if out, _, err, _ := copyChunked("0\r\n\r\n", 0, false); err != nil || out != "" {
		t.Errorf("empty body with limit 0: %q, %v", out, err)
	}
}

func TestCopyChunkedMalformed(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct{ name, src string }{
		{"non-hex size", "zz\r\nhello\r\n0\r\n\r\n"},
		{"size with g", "5g\r\nhello\r\n0\r\n\r\n"},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
		{"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
		{"empty size line", "\r\nhello\r\n0\r\n\r\n"},
		{"extension only", ";x\r\nhello\r\n0\r\n\r\n"},
		{"leading space", " 5\r\nhello\r\n0\r\n\r\n"},
		{"space inside size", "5 5\r\nhello\r\n0\r\n\r\n"},
		{"control char in extension", "5;a\x01b\r\nhello\r\n0\r\n\r\n"},
		{"bare CR in size line", "5\r;x\r\nhello\r\n0\r\n\r\n"},
		{"CR CR LF after size", "5\r\r\nhello\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhello0\r\n\r\n"},
		{"data one byte longer", "5\r\nhelloX\r\n0\r\n\r\n"},
		{"data one byte longer, bare LF", "5\r\nhelloX\n0\r\n\r\n"},
		{"data longer than size", "3\r\nhello\r\n0\r\n\r\n"},
		{"16 hex digits", "0000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"16 hex digits, huge", "ffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"17 hex digits, overflowing", "10000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"size line longer than the buffer", "5;" + long + "\r\nhello\r\n0\r\n\r\n"},
		{"trailer line longer than the buffer", "0\r\nX: " + long + "\r\n\r\n"},
		{"trailer without colon", "0\r\nno-colon\r\n\r\n"},
		{"trailer with empty name", "0\r\n: v\r\n\r\n"},
		{"folded trailer", "0\r\nX: 1\r\n folded: 2\r\n\r\n"},
		{"trailer section too large", "0\r\n" + strings.Repeat("X: "+strings.Repeat("t", 1000)+"\r\n", 20) + "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				_, _, err, _ := copyChunked(tc.src, -1, chunked)
				wantMalformed(t, err)
			}
		})
	}
	t.Run("size line too long for the limit in a large buffer", func(t *testing.T) {
		br := bufio.NewReaderSize(strings.NewReader("5;"+long+"\r\nhello\r\n0\r\n\r\n"), 16<<10)
		_, err := h1.CopyChunked(bufio.NewWriter(io.Discard), br, -1, true)
		wantMalformed(t, err)
	})
	t.Run("trailer line too long in a large buffer", func(t *testing.T) {
		br := bufio.NewReaderSize(strings.NewReader("0\r\nX: "+long+"\r\n\r\n"), 16<<10)
		_, err := h1.CopyChunked(bufio.NewWriter(io.Discard), br, -1, true)
		wantMalformed(t, err)
	})
	t.Run("max size line fits", func(t *testing.T) {
		// A size line (extensions included) of up to 4 KiB with its CRLF.
		line := "5;" + strings.Repeat("e", 4096-2-2) + "\r\n"
		br := bufio.NewReaderSize(strings.NewReader(line+"hello\r\n0\r\n\r\n"), 16<<10)
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		if _, err := h1.CopyChunked(bw, br, -1, false); err != nil {
			t.Fatalf("size line of %d bytes: %v", len(line), err)
		}
		bw.Flush()
		if out.String() != "hello" {
			t.Fatalf("copied %q", out.String())
		}
	})
}

func TestCopyChunkedTruncated(t *testing.T) {
	for _, src := range []string{
		"",
		"5",
		"5\r\n",
		"5\r\nhel",
		"5\r\nhello",
		"5\r\nhello\r",
		"5\r\nhello\r\n",
		"5\r\nhello\r\n0\r\n",
		"5\r\nhello\r\n0\r\nX: 1\r\n",
	} {
		_, _, err, _ := copyChunked(src, -1, true)
		wantReadError(t, err, io.ErrUnexpectedEOF)
		var he *h1.Error
		if errors.As(err, &he) {
			t.Errorf("%q: truncation reported as malformed: %v", src, err)
		}
	}
	boom := errors.New("reset")
	br := bufio.NewReader(io.MultiReader(strings.NewReader("5\r\nhe"), iotest.ErrReader(boom)))
	_, err := h1.CopyChunked(bufio.NewWriter(io.Discard), br, -1, false)
	wantReadError(t, err, boom)
}

func TestCopyChunkedWriteError(t *testing.T) {
	src := "400\r\n" + strings.Repeat("a", 0x400) + "\r\n0\r\n\r\n"
	for _, chunked := range []bool{false, true} {
		for _, ok := range []int{0, 3, 100} {
			br := bufio.NewReader(strings.NewReader(src))
			_, err := h1.CopyChunked(bufio.NewWriterSize(&failWriter{ok: ok}, 16), br, -1, chunked)
			t.Run(fmt.Sprintf("chunked=%v ok=%d", chunked, ok), func(t *testing.T) { wantWriteError(t, err) })
		}
	}
}

func TestCopyUntilEOF(t *testing.T) {
	for _, size := range []int{0, 1, 100, 70000} {
		data := randomBytes(size)
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			// Plain.
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			n, err := h1.CopyUntilEOF(bw, bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(data)), 64), false)
			if err != nil || n != int64(size) {
				t.Fatalf("plain: %d, %v", n, err)
			}
			bw.Flush()
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatal("plain: data differs")
			}

			// Chunked.
			out.Reset()
			n, err = h1.CopyUntilEOF(bw, bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 64), true)
			if err != nil || n != int64(size) {
				t.Fatalf("chunked: %d, %v", n, err)
			}
			bw.Flush()
			enc := out.Bytes()
			if !bytes.HasSuffix(enc, []byte("0\r\n\r\n")) {
				t.Fatalf("chunked output does not end with the last chunk: %q", enc[max(0, len(enc)-20):])
			}
			if !bytes.Equal(chunkedDecode(t, enc), data) {
				t.Fatal("chunked: data differs")
			}
			// The encoding must be parseable by h1 itself too.
			var back bytes.Buffer
			bw2 := bufio.NewWriter(&back)
			if _, err := h1.CopyChunked(bw2, bufio.NewReader(bytes.NewReader(enc)), -1, false); err != nil {
				t.Fatalf("h1 cannot decode its own encoding: %v", err)
			}
			bw2.Flush()
			if !bytes.Equal(back.Bytes(), data) {
				t.Fatal("round trip differs")
			}
		})
	}
	t.Run("empty chunked is exactly the last chunk", func(t *testing.T) {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		if _, err := h1.CopyUntilEOF(bw, bufio.NewReader(strings.NewReader("")), true); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if out.String() != "0\r\n\r\n" {
			t.Fatalf("got %q", out.String())
		}
	})
	t.Run("read failure", func(t *testing.T) {
		boom := errors.New("reset")
		for _, chunked := range []bool{false, true} {
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			n, err := h1.CopyUntilEOF(bw, bufio.NewReader(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom))), chunked)
			wantReadError(t, err, boom)
			if n != 3 {
				t.Errorf("n = %d", n)
			}
			bw.Flush()
			if chunked && strings.HasSuffix(out.String(), "0\r\n\r\n") {
				t.Error("a failed body was terminated as if complete")
			}
		}
	})
	t.Run("write failure", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			_, err := h1.CopyUntilEOF(bufio.NewWriterSize(&failWriter{}, 16), bufio.NewReader(bytes.NewReader(randomBytes(1000))), chunked)
			wantWriteError(t, err)
		}
	})
}
