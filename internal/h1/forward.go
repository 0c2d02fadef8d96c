package h1

import (
	"bufio"
	"net/http"
	"strconv"
)

// Framing is how a proxied response goes on to the client.
type Framing struct {
	Body    bool // the response has a body (not HEAD, 1xx, 204, 304)
	Chunked bool // sent chunked: the upstream gave no length and the client speaks HTTP/1.1
	Close   bool // the client connection closes after it
}

// Plan decides the client-side framing of res, the answer to req. keep is
// whether the connection could otherwise carry another request; a body
// without a length to an HTTP/1.0 client is framed by closing.
func Plan(req, res *Head, keep bool) Framing {
	f := Framing{Body: res.ResponseHasBody(req.Method), Close: !keep || req.Close}
	byLength := !res.Chunked && res.ContentLength >= 0
	if f.Body && !byLength {
		if req.Minor == 1 {
			f.Chunked = true
		} else {
			f.Close = true
		}
	}
	return f
}

// WriteField passes one field on as it came: "Name: value".
func WriteField(w *bufio.Writer, f Field) {
	w.Write(f.Name)
	w.WriteString(": ")
	w.Write(f.Value)
	w.WriteString("\r\n")
}

// WriteForwardedFor writes X-Forwarded-For: the values the client sent
// (prior, in order), then the client's own address — nginx's
// $proxy_add_x_forwarded_for, and what API Gateway sends.
func WriteForwardedFor(w *bufio.Writer, prior [][]byte, clientIP string) {
	w.WriteString("X-Forwarded-For: ")
	for _, v := range prior {
		w.Write(v)
		w.WriteString(", ")
	}
	w.WriteString(clientIP)
	w.WriteString("\r\n")
}

// WriteRequestFraming ends a forwarded request head with the framing the
// body is sent in (chunked, or the client's Content-Length) and the blank
// line.
func WriteRequestFraming(w *bufio.Writer, req *Head) {
	switch {
	case req.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case req.ContentLength >= 0:
		writeContentLength(w, req.ContentLength)
	}
	w.WriteString("\r\n")
}

// WriteResponseFraming ends a forwarded response head: the framing of f
// (the upstream's length when it gave one, also for HEAD and 304 answers),
// Connection: close when the connection ends, and the blank line.
func WriteResponseFraming(w *bufio.Writer, res *Head, f Framing) {
	switch {
	case f.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case res.ContentLength >= 0 && !res.Chunked && res.Status >= 200 && res.Status != http.StatusNoContent:
		writeContentLength(w, res.ContentLength)
	}
	if f.Close {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

func writeContentLength(w *bufio.Writer, n int64) {
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), n, 10))
	w.WriteString("\r\n")
}

// CopyRequestBody forwards the body of req from src to dst, re-chunked or
// by length; a chunked body over limit is ErrBodyTooLarge.
func CopyRequestBody(dst *bufio.Writer, src *bufio.Reader, req *Head, limit int64) error {
	var err error
	switch {
	case req.Chunked:
		_, err = CopyChunked(dst, src, limit, true)
	case req.ContentLength > 0:
		_, err = CopyLength(dst, src, req.ContentLength)
	}
	return err
}

// CopyResponseBody forwards the body of res from src to dst as f frames
// it. reusable reports whether the upstream connection may carry another
// exchange (its body ended by framing, not by closing).
func CopyResponseBody(dst *bufio.Writer, src *bufio.Reader, res *Head, f Framing) (n int64, reusable bool, err error) {
	reusable = !res.Close
	if !f.Body {
		return 0, reusable, nil
	}
	switch {
	case res.Chunked:
		n, err = CopyChunked(dst, src, -1, f.Chunked)
	case res.ContentLength >= 0:
		n, err = CopyLength(dst, src, res.ContentLength)
	default:
		n, err = CopyUntilEOF(dst, src, f.Chunked)
		reusable = false
	}
	return n, reusable && err == nil, err
}

// WriteContinue answers a client's Expect: 100-continue.
func WriteContinue(w *bufio.Writer) error {
	if _, err := w.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
		return &WriteError{Err: err}
	}
	if err := w.Flush(); err != nil {
		return &WriteError{Err: err}
	}
	return nil
}

// ReadFinalResponse reads response heads into res until a final one:
// interim responses (100 Continue, 103 Early Hints) are not passed on, and
// a 101 is an error (a proxy built on this package never forwards
// Upgrade, so it never asked for one). Errors are those of ReadResponse.
func ReadFinalResponse(br *bufio.Reader, res *Head, max int) error {
	for {
		if err := res.ReadResponse(br, max); err != nil {
			return err
		}
		switch {
		case res.Status == http.StatusSwitchingProtocols:
			return &Error{Status: http.StatusBadGateway, Reason: "upstream switched protocols unasked"}
		case res.Status >= 200:
			return nil
		}
	}
}
