// Package h1 is a lean, strict HTTP/1.1 layer for proxies, on which the
// gateway and the sidecar are built: it reads request and response heads
// into reusable buffers without per-message allocation, rejects the
// ambiguous framing that request smuggling relies on, and copies bodies by
// length or chunk by chunk, re-framing them (head.go, body.go, forward.go).
// Server runs the client side — a goroutine per connection, nginx's
// timeouts and lingering close, graceful shutdown, a panic costing only its
// connection (server.go) — and Pool keeps upstream keep-alive connections
// (pool.go). Forwarder (forwarder.go) is the forwarding core that the
// gateway and the sidecar share: each adds only its heads and its own
// answers (Hop); it holds the one rule for sending a request again and
// passes on an upstream's early answer.
//
// Strictness, as nginx (or stricter):
//   - a request with both Content-Length and Transfer-Encoding, with two
//     Content-Length fields, with a Transfer-Encoding other than "chunked",
//     or with Transfer-Encoding on HTTP/1.0 is refused;
//   - obs-fold (a field line starting with white space), white space
//     between a field name and its colon, control characters in a field
//     value, bare CR and non-digit Content-Length values are refused;
//   - HTTP/1.1 requests need exactly one Host; a Host, or the authority
//     of an absolute-form target, must be host[:port] (RFC 3986: no
//     userinfo, a port of 1 to 65535);
//   - the head is bounded (the caller's limit, MaxLines lines), and so are
//     chunk-size lines and trailers.
package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Error is a message the peer got wrong, with the status to answer it with.
type Error struct {
	Status int // 400, 417, 431, 501, 505 for requests; 502 for responses
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Reason: fmt.Sprintf(format, args...)}
}

// Field is one header field; Name and Value alias the head's buffer and are
// valid until the head is read again.
type Field struct {
	Name, Value []byte
}

// Head is a parsed request or response head. Reuse one per connection: its
// buffers grow to the largest head seen and are then reused.
type Head struct {
	raw   []byte  // the head's lines as received
	lines []int32 // end offset of each line in raw (terminator stripped)

	// Request line.
	Method, Target []byte
	// Status line.
	Status int
	Reason []byte
	// Minor is the HTTP/1.<Minor> version.
	Minor int

	// Fields in order of arrival.
	Fields []Field

	// Framing and connection management, from the fields.
	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding: chunked
	Close         bool  // the sender will close after this message (or wants us to)
	Expect100     bool  // Expect: 100-continue
	Host          []byte
	// Authority is the authority of an absolute-form target
	// ("http://authority/path"), nil for any other form. It replaces Host
	// (RFC 9112 section 3.2.3).
	Authority []byte
	// ConnTokens are the field names listed in Connection other than close
	// and keep-alive: hop-by-hop fields that a proxy must not forward.
	ConnTokens [][]byte

	hosts     int
	keepAlive bool
}

// MaxLines bounds the fields of a head (nginx has no count limit, but a
// size one; this keeps a head of many tiny fields cheap to scan).
const MaxLines = 256

var (
	// ErrHeadTooLarge: the head exceeds the limit (431 for requests).
	ErrHeadTooLarge = &Error{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request header fields too large"}
	// errEmpty: the connection closed before any byte of a head.
	errEmpty = errors.New("h1: connection closed before a message")
)

// IsCleanClose reports whether err is the peer closing the connection
// between messages, which is no error.
func IsCleanClose(err error) bool { return errors.Is(err, errEmpty) }

func (h *Head) reset() {
	h.raw = h.raw[:0]
	h.lines = h.lines[:0]
	h.Method, h.Target, h.Reason, h.Host, h.Authority = nil, nil, nil, nil, nil
	h.Status, h.Minor = 0, 0
	h.Fields = h.Fields[:0]
	h.ContentLength = -1
	h.Chunked, h.Close, h.Expect100, h.keepAlive = false, false, false, false
	h.ConnTokens = h.ConnTokens[:0]
	h.hosts = 0
}

// readLines reads the head's lines (up to the empty line) into h.raw,
// skipping empty lines before the first one, within max bytes.
func (h *Head) readLines(br *bufio.Reader, max int) error {
	total := 0
	for {
		start := len(h.raw)
		for {
			chunk, err := br.ReadSlice('\n')
			total += len(chunk)
			if total > max {
				return ErrHeadTooLarge
			}
			h.raw = append(h.raw, chunk...)
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if total == 0 && errors.Is(err, io.EOF) {
				return errEmpty
			}
			return fmt.Errorf("reading head: %w", err)
		}
		end := len(h.raw) - 1 // the '\n'
		if end > start && h.raw[end-1] == '\r' {
			end--
		}
		if end == start { // empty line
			if len(h.lines) == 0 {
				h.raw = h.raw[:start] // tolerated before the start line
				continue
			}
			return nil
		}
		if len(h.lines) > MaxLines {
			return ErrHeadTooLarge
		}
		h.raw = h.raw[:end]
		h.lines = append(h.lines, int32(end))
	}
}

// line returns line i of the head.
func (h *Head) line(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = h.lines[i-1]
	}
	return h.raw[start:h.lines[i]]
}

// ReadRequest reads and checks a request head of at most max bytes.
// Errors are *Error (answer with its status and close), or I/O errors
// (IsCleanClose for a peer that closed between requests).
func (h *Head) ReadRequest(br *bufio.Reader, max int) error {
	h.reset()
	if err := h.readLines(br, max); err != nil {
		return err
	}
	if err := h.parseRequestLine(h.line(0)); err != nil {
		return err
	}
	if err := h.parseFields(true); err != nil {
		return err
	}
	if h.hosts > 1 || (h.Minor == 1 && h.hosts != 1) {
		return badRequest("HTTP/1.%d request with %d Host fields", h.Minor, h.hosts)
	}
	if h.Minor == 0 {
		h.Close = h.Close || !h.keepAlive
		h.Expect100 = false // an HTTP/1.0 client gets no interim response (RFC 9110 10.1.1)
	}
	return nil
}

// ReadResponse reads and checks a response head of at most max bytes.
// Framing errors are *Error with status 502.
func (h *Head) ReadResponse(br *bufio.Reader, max int) error {
	h.reset()
	if err := h.readLines(br, max); err != nil {
		if errors.Is(err, ErrHeadTooLarge) {
			return &Error{Status: http.StatusBadGateway, Reason: "upstream response head too large"}
		}
		return err
	}
	if err := h.parseStatusLine(h.line(0)); err != nil {
		return err
	}
	if err := h.parseFields(false); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return &Error{Status: http.StatusBadGateway, Reason: "upstream: " + e.Reason}
		}
		return err
	}
	if h.Minor == 0 {
		h.Close = h.Close || !h.keepAlive
	}
	return nil
}

func (h *Head) parseRequestLine(l []byte) error {
	sp1 := indexByte(l, ' ')
	if sp1 <= 0 {
		return badRequest("malformed request line")
	}
	h.Method = l[:sp1]
	for _, c := range h.Method {
		if !isTchar(c) {
			return badRequest("invalid method")
		}
	}
	rest := l[sp1+1:]
	sp2 := indexByte(rest, ' ')
	if sp2 <= 0 {
		return badRequest("malformed request line")
	}
	h.Target = rest[:sp2]
	for _, c := range h.Target {
		if c <= ' ' || c == 0x7f {
			return badRequest("invalid request target")
		}
	}
	if hasPrefixFold(h.Target, "http://") {
		h.Authority = absoluteAuthority(h.Target)
		if indexByte(h.Authority, '@') >= 0 {
			return badRequest("userinfo in request target")
		}
		if !ValidAuthority(h.Authority) {
			return badRequest("invalid authority in request target")
		}
	} else if h.Target[0] != '/' && !(len(h.Target) == 1 && h.Target[0] == '*') {
		return badRequest("request target must be a path")
	}
	return h.parseVersion(rest[sp2+1:], true)
}

func (h *Head) parseVersion(v []byte, request bool) error {
	if len(v) == 8 && string(v[:7]) == "HTTP/1." && (v[7] == '0' || v[7] == '1') {
		h.Minor = int(v[7] - '0')
		return nil
	}
	if !request {
		return &Error{Status: http.StatusBadGateway, Reason: "upstream sent an invalid status line"}
	}
	if len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return &Error{Status: http.StatusHTTPVersionNotSupported, Reason: "HTTP version not supported"}
	}
	return badRequest("malformed HTTP version")
}

func (h *Head) parseStatusLine(l []byte) error {
	bad := &Error{Status: http.StatusBadGateway, Reason: "upstream sent an invalid status line"}
	if len(l) < 12 || l[8] != ' ' {
		return bad
	}
	if err := h.parseVersion(l[:8], false); err != nil {
		return err
	}
	code := l[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return bad
	}
	h.Status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	switch {
	case len(l) == 12:
	case l[12] == ' ':
		h.Reason = l[13:]
		for _, c := range h.Reason {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return bad
			}
		}
	default:
		return bad
	}
	return nil
}

// parseFields parses every line after the first into h.Fields and the
// framing summary.
func (h *Head) parseFields(request bool) error {
	for i := 1; i < len(h.lines); i++ {
		l := h.line(i)
		if l[0] == ' ' || l[0] == '\t' {
			return badRequest("obsolete line folding in header")
		}
		colon := indexByte(l, ':')
		if colon <= 0 {
			return badRequest("header line without a field name")
		}
		name := l[:colon]
		for _, c := range name {
			if !isTchar(c) {
				return badRequest("invalid character in header field name %q", name)
			}
		}
		value := trimOWS(l[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return badRequest("invalid character in value of header field %q", name)
			}
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: value})
		if err := h.noteField(name, value, request); err != nil {
			return err
		}
	}
	if h.Chunked && h.ContentLength >= 0 {
		return badRequest("both Content-Length and Transfer-Encoding")
	}
	return nil
}

// noteField records what a field means for framing and the connection.
func (h *Head) noteField(name, value []byte, request bool) error {
	switch {
	case equalFold(name, "content-length"):
		if h.ContentLength >= 0 {
			return badRequest("duplicate Content-Length")
		}
		n, ok := parseContentLength(value)
		if !ok {
			return badRequest("invalid Content-Length %q", value)
		}
		h.ContentLength = n
	case equalFold(name, "transfer-encoding"):
		if h.Chunked {
			return badRequest("duplicate Transfer-Encoding")
		}
		if request && h.Minor == 0 {
			return badRequest("Transfer-Encoding in an HTTP/1.0 request")
		}
		if !equalFold(value, "chunked") {
			if request {
				return &Error{Status: http.StatusNotImplemented, Reason: fmt.Sprintf("unsupported Transfer-Encoding %q", value)}
			}
			return badRequest("unsupported Transfer-Encoding %q", value)
		}
		h.Chunked = true
	case equalFold(name, "connection"):
		forEachToken(value, func(tok []byte) {
			switch {
			case equalFold(tok, "close"):
				h.Close = true
			case equalFold(tok, "keep-alive"):
				h.keepAlive = true
			default:
				h.ConnTokens = append(h.ConnTokens, tok)
			}
		})
	case request && equalFold(name, "host"):
		h.hosts++
		h.Host = value
		if len(value) > 0 && !ValidAuthority(value) { // host[:port], no userinfo
			return badRequest("invalid Host")
		}
	case request && equalFold(name, "expect"):
		if !equalFold(value, "100-continue") {
			return &Error{Status: http.StatusExpectationFailed, Reason: fmt.Sprintf("unsupported Expect %q", value)}
		}
		h.Expect100 = true
	}
	return nil
}

// Listed reports whether name is one of the Connection field's tokens.
func (h *Head) Listed(name []byte) bool {
	for _, t := range h.ConnTokens {
		if Fold(name, t) {
			return true
		}
	}
	return false
}

// Get returns the value of the first field named name (case-insensitive).
func (h *Head) Get(name string) ([]byte, bool) {
	for _, f := range h.Fields {
		if Fold(f.Name, name) {
			return f.Value, true
		}
	}
	return nil, false
}

// ResponseHasBody reports whether a response with this head to a request
// with method carries a body (RFC 9112 section 6.3).
func (h *Head) ResponseHasBody(method []byte) bool {
	if string(method) == http.MethodHead || h.Status < 200 || h.Status == http.StatusNoContent || h.Status == http.StatusNotModified {
		return false
	}
	return true
}
