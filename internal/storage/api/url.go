package api

import (
	"net/http"
	"strings"
)

// PublicBaseURL is the URL the client called the API at, without a
// trailing slash: X-Forwarded-Proto + "://" + X-Forwarded-Host +
// X-Forwarded-Prefix as the gateway sets them (passed through by the
// sidecar). Each part falls back on its own when absent or implausible:
// proto to "http", host to r.Host, prefix to "".
func PublicBaseURL(r *http.Request) string {
	proto := "http"
	if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		proto = p
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
		host = h
	}
	prefix := ""
	if p := firstValue(r.Header.Get("X-Forwarded-Prefix")); validPrefix(p) {
		prefix = strings.TrimRight(p, "/")
	}
	return proto + "://" + host + prefix
}

// firstValue takes the first of a comma-separated list (proxies append).
func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`/\?#@"<>`+"`", c) >= 0 {
			return false
		}
	}
	return true
}

func validPrefix(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 1024 || strings.HasPrefix(p, "//") {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`\?#"<>`+"`", c) >= 0 {
			return false
		}
	}
	return true
}
