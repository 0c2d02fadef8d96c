package gateway

import (
	"errors"
	"net/http"
	"strings"
)

// Path normalization runs once per request, before routing. The canonical
// path it produces is the one that is routed, authorized, logged and (through
// the path parameters) forwarded, so the gateway and the backend can never
// disagree about which resource a request is for.
//
// Rules:
//   - empty segments are dropped: "//" collapses to "/", a trailing "/" is ignored;
//   - dot segments ("." and "..", also Tomcat-style ".;x" / "..;x") are rejected;
//   - percent-encoded ".", "/" and "\" (%2e %2f %5c, any case), encoded control
//     characters (%00-%1f, %7f) and malformed escapes are rejected; an encoded
//     "/" is allowed when allowEncodedSlash is set (Config.AllowEncodedSlashes,
//     true unless set false; it then stays encoded);
//   - a literal "\" or control character is rejected;
//   - other characters outside RFC 3986 pchar (e.g. `"`, `{`, non-ASCII bytes)
//     are percent-encoded, which does not change their meaning;
//   - all other escapes are kept exactly as the client sent them.
//
// A rejected path gets BAD_REQUEST_PARAMETERS (400, "Invalid request path").

// segment is one path segment: raw is its canonical escaped form, dec its
// decoded value (used to compare against literal resource path parts).
type segment struct {
	raw string
	dec string
}

var errInvalidPath = errors.New("invalid request path")

// rawRequestPath returns the escaped path exactly as the client sent it.
func rawRequestPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.EscapedPath()
}

// normalizePath splits and validates an escaped path (see the rules above).
func normalizePath(raw string, allowEncodedSlash bool) ([]segment, error) {
	if raw == "" || raw[0] != '/' {
		return nil, errInvalidPath
	}
	segs := make([]segment, 0, strings.Count(raw, "/"))
	var rawB, decB strings.Builder
	for part := range strings.SplitSeq(raw[1:], "/") {
		if part == "" {
			continue
		}
		if plainSegment(part) {
			// Nothing to check or re-encode: raw and decoded are the part
			// itself (no copy).
			if isDotSegment(part) {
				return nil, errInvalidPath
			}
			segs = append(segs, segment{raw: part, dec: part})
			continue
		}
		rawB.Reset()
		decB.Reset()
		for i := 0; i < len(part); i++ {
			c := part[i]
			switch {
			case c == '%':
				if i+2 >= len(part) {
					return nil, errInvalidPath
				}
				hi, ok1 := unhex(part[i+1])
				lo, ok2 := unhex(part[i+2])
				if !ok1 || !ok2 {
					return nil, errInvalidPath
				}
				v := hi<<4 | lo
				if v == '.' || v == '\\' || v < 0x20 || v == 0x7f || (v == '/' && !allowEncodedSlash) {
					return nil, errInvalidPath
				}
				rawB.WriteString(part[i : i+3])
				decB.WriteByte(v)
				i += 2
			case c == '\\' || c <= 0x20 || c == 0x7f:
				return nil, errInvalidPath
			case isPchar(c):
				rawB.WriteByte(c)
				decB.WriteByte(c)
			default:
				const hexUpper = "0123456789ABCDEF"
				rawB.WriteByte('%')
				rawB.WriteByte(hexUpper[c>>4])
				rawB.WriteByte(hexUpper[c&15])
				decB.WriteByte(c)
			}
		}
		dec := decB.String()
		if isDotSegment(dec) {
			return nil, errInvalidPath
		}
		if allowEncodedSlash && strings.Contains(dec, "/") {
			// A backend that decodes %2F must not find dot segments either.
			for sub := range strings.SplitSeq(dec, "/") {
				if isDotSegment(sub) {
					return nil, errInvalidPath
				}
			}
		}
		segs = append(segs, segment{raw: rawB.String(), dec: dec})
	}
	return segs, nil
}

// plainSegment reports whether every byte of part is an unreserved pchar,
// so that normalization leaves it as it is.
func plainSegment(part string) bool {
	for i := 0; i < len(part); i++ {
		if !pchar[part[i]] {
			return false
		}
	}
	return true
}

// canonicalPath is joinRaw(segs), or orig itself (not a copy) when that
// is already canonical, as it usually is.
func canonicalPath(orig string, segs []segment) string {
	pos := 0
	for _, s := range segs {
		if pos >= len(orig) || orig[pos] != '/' || !strings.HasPrefix(orig[pos+1:], s.raw) {
			pos = -1
			break
		}
		pos += 1 + len(s.raw)
	}
	if pos == len(orig) && len(segs) > 0 {
		return orig
	}
	return joinRaw(segs)
}

// joinRaw renders segments as a canonical escaped path ("/" when empty).
func joinRaw(segs []segment) string {
	if len(segs) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s.raw)
	}
	return b.String()
}

func isDotSegment(dec string) bool {
	if before, _, ok := strings.Cut(dec, ";"); ok {
		dec = before
	}
	return dec == "." || dec == ".."
}

// isPchar reports whether c may appear unescaped in a path segment (RFC 3986).
func isPchar(c byte) bool { return pchar[c] }

var pchar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@" {
		t[c] = true
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
