package h1

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// ErrBodyTooLarge: a chunked request body went over the limit (413).
var ErrBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Reason: "request body too large"}

// ReadError is a failure reading a body from its source (a peer that went
// away, timed out or sent a malformed chunk); WriteError a failure writing it
// to its destination. Callers tell whose fault a failed copy was by them.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "reading body: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// WriteError is a failure writing a body to its destination.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "writing body: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// CopyLength copies exactly n bytes from src to dst through src's buffer
// (no allocation); a short source is a ReadError wrapping
// io.ErrUnexpectedEOF.
func CopyLength(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return done, &ReadError{err}
			}
		}
		k := min(int64(src.Buffered()), n-done)
		p, _ := src.Peek(int(k))
		if _, err := dst.Write(p); err != nil {
			return done, &WriteError{err}
		}
		_, _ = src.Discard(int(k))
		done += k
	}
	return done, nil
}

// CopyUntilEOF copies src to dst until src ends (a response framed by the
// connection closing), chunk-encoding it when chunked.
func CopyUntilEOF(dst *bufio.Writer, src *bufio.Reader, chunked bool) (int64, error) {
	var done int64
	for {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					if chunked {
						if _, err := dst.WriteString("0\r\n\r\n"); err != nil {
							return done, &WriteError{err}
						}
					}
					return done, nil
				}
				return done, &ReadError{err}
			}
		}
		k := src.Buffered()
		p, _ := src.Peek(k)
		if err := writeData(dst, p, chunked); err != nil {
			return done, err
		}
		_, _ = src.Discard(k)
		done += int64(k)
	}
}

func writeData(dst *bufio.Writer, p []byte, chunked bool) error {
	if chunked {
		var hdr [18]byte
		b := strconv.AppendInt(hdr[:0], int64(len(p)), 16)
		b = append(b, '\r', '\n')
		if _, err := dst.Write(b); err != nil {
			return &WriteError{err}
		}
	}
	if _, err := dst.Write(p); err != nil {
		return &WriteError{err}
	}
	if chunked {
		if _, err := dst.WriteString("\r\n"); err != nil {
			return &WriteError{err}
		}
	}
	return nil
}

// maxChunkLine bounds a chunk-size line (extensions included) and each
// trailer line; maxTrailer bounds the trailer section.
const (
	maxChunkLine = 4 << 10
	maxTrailer   = 16 << 10
)

// CopyChunked decodes a chunked body from src and writes its data to dst,
// chunk-encoded again when chunked (else as plain bytes: for an HTTP/1.0
// peer, the connection's end frames it). More than limit data bytes
// (limit ≥ 0) is ErrBodyTooLarge. Chunk extensions and trailer fields are
// checked and dropped.
func CopyChunked(dst *bufio.Writer, src *bufio.Reader, limit int64, chunked bool) (int64, error) {
	var done int64
	for {
		size, err := readChunkSize(src)
		if err != nil {
			return done, err
		}
		if size == 0 {
			if err := skipTrailer(src); err != nil {
				return done, err
			}
			if chunked {
				if _, err := dst.WriteString("0\r\n\r\n"); err != nil {
					return done, &WriteError{err}
				}
			}
			return done, nil
		}
		if limit >= 0 && done+size > limit {
			return done, ErrBodyTooLarge
		}
		if chunked {
			var hdr [18]byte
			b := strconv.AppendInt(hdr[:0], size, 16)
			if _, err := dst.Write(append(b, '\r', '\n')); err != nil {
				return done, &WriteError{err}
			}
		}
		n, err := CopyLength(dst, src, size)
		done += n
		if err != nil {
			return done, err
		}
		if err := readCRLF(src); err != nil {
			return done, err
		}
		if chunked {
			if _, err := dst.WriteString("\r\n"); err != nil {
				return done, &WriteError{err}
			}
		}
	}
}

// readLine reads one line of at most max bytes, without its CRLF or LF.
func readLine(src *bufio.Reader, max int) ([]byte, error) {
	l, err := src.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &ReadError{badRequest("chunk line too long")}
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, &ReadError{err}
	}
	if len(l) > max {
		return nil, &ReadError{badRequest("chunk line too long")}
	}
	l = l[:len(l)-1]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return l, nil
}

func readChunkSize(src *bufio.Reader) (int64, error) {
	l, err := readLine(src, maxChunkLine)
	if err != nil {
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(l); i++ {
		c := lower(l[i])
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			goto ext
		}
		if i >= 15 {
			return 0, &ReadError{badRequest("chunk size too large")}
		}
		size = size<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, &ReadError{badRequest("invalid chunk size line")}
	}
	if rest := trimOWS(l[i:]); len(rest) > 0 && rest[0] != ';' {
		return 0, &ReadError{badRequest("invalid chunk size line")}
	}
	for _, c := range l[i:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return 0, &ReadError{badRequest("invalid character in chunk extension")}
		}
	}
	return size, nil
}

func readCRLF(src *bufio.Reader) error {
	l, err := readLine(src, 2)
	if err != nil {
		return err
	}
	if len(l) != 0 {
		return &ReadError{badRequest("chunk data longer than its size")}
	}
	return nil
}

func skipTrailer(src *bufio.Reader) error {
	total := 0
	for {
		l, err := readLine(src, maxChunkLine)
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return nil
		}
		total += len(l)
		if total > maxTrailer {
			return &ReadError{badRequest("trailer section too large")}
		}
		colon := indexByte(l, ':')
		if colon <= 0 || l[0] == ' ' || l[0] == '\t' {
			return &ReadError{badRequest("malformed trailer field")}
		}
	}
}
