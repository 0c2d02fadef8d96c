package h1

// regNameChar is RFC 3986's reg-name character set without pct-encoded:
// unreserved and sub-delims (an IPv4 address is made of these too).
var regNameChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~!$&'()*+,;=" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool { return isDigit(c) || ('a' <= lower(c) && lower(c) <= 'f') }

// ValidAuthority reports whether a is an RFC 3986 authority without
// userinfo: a host (a reg-name, possibly pct-encoded, an IPv4 address or
// a bracketed IP literal) and, after a colon, a port of 1 to 65535. The
// empty authority is not valid.
func ValidAuthority(a []byte) bool {
	i := 0
	if len(a) > 0 && a[0] == '[' {
		end := indexByte(a, ']')
		if end < 2 {
			return false
		}
		for _, c := range a[1:end] {
			if !regNameChar[c] && c != ':' && c != '%' {
				return false
			}
		}
		i = end + 1
	} else {
		for i < len(a) && a[i] != ':' {
			switch c := a[i]; {
			case regNameChar[c]:
			case c == '%' && i+2 < len(a) && isHex(a[i+1]) && isHex(a[i+2]):
				i += 2
			default:
				return false
			}
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i == len(a) {
		return true
	}
	if a[i] != ':' {
		return false
	}
	return validPort(a[i+1:])
}

// validPort: 1 to 5 digits, 1 to 65535.
func validPort(p []byte) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if !isDigit(c) {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// absoluteAuthority returns the authority of an absolute-form target
// ("http://authority/path?query"); the target starts with "http://" in
// any case.
func absoluteAuthority(target []byte) []byte {
	rest := target[len("http://"):]
	for i, c := range rest {
		if c == '/' || c == '?' {
			return rest[:i]
		}
	}
	return rest
}
