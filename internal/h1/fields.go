package h1

import (
	"net/http"
	"sync/atomic"
	"time"
)

// HopByHop reports whether a proxy must not forward the field name as it
// is: the hop-by-hop fields of RFC 9110 section 7.6.1 (plus Keep-Alive,
// Proxy-Connection and Upgrade), and the framing fields Content-Length,
// Transfer-Encoding and Expect, which a proxy built on this package sets
// itself when it re-frames the message.
func HopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return Fold(name, "te")
	case 6:
		return Fold(name, "expect")
	case 7:
		return Fold(name, "trailer") || Fold(name, "upgrade")
	case 10:
		return Fold(name, "connection") || Fold(name, "keep-alive")
	case 14:
		return Fold(name, "content-length")
	case 16:
		return Fold(name, "proxy-connection")
	case 17:
		return Fold(name, "transfer-encoding")
	}
	return false
}

// Fold reports whether a equals b, ignoring ASCII case.
func Fold[A, B []byte | string](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// Date formats t for a Date field, reusing the text within one second.
func Date(t time.Time) string {
	sec := t.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: t.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]
