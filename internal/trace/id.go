package trace

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// MaxHeaderLen bounds an X-Amzn-Trace-Id the gateway keeps: a longer one
// is replaced, as is any malformed one.
const MaxHeaderLen = 256

// rootLen is len("1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx").
const rootLen = 2 + 8 + 1 + 24

// NewHeader is an X-Ray trace header as API Gateway adds it to a request
// that has none: Root=1-<8 hex digits of epoch seconds>-<24 random hex>
// (AWS X-Ray developer guide, "Amazon API Gateway active tracing support
// for AWS X-Ray": "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793").
func NewHeader(now time.Time) string {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	var epoch [4]byte
	binary.BigEndian.PutUint32(epoch[:], uint32(now.Unix()))
	b := make([]byte, 0, len("Root=")+rootLen)
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, epoch[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, rnd[:])
	return string(b)
}

// RootOf is the trace id of a header that ParseHeader accepted (or
// NewHeader made): "1-5759e988-bd862e3fe1be46a994272793".
func RootOf(header string) string {
	if len(header) < len("Root=")+rootLen {
		return ""
	}
	return header[len("Root=") : len("Root=")+rootLen]
}

// ValidHeader reports whether v is a trace header the gateway keeps and
// passes on, as API Gateway passes a traced caller's trace on (API Gateway
// developer guide, "Trace user requests to REST APIs using X-Ray"). It is
// strict: at most MaxHeaderLen bytes; Root=1-<8 hex>-<24 hex> first, hex in
// lower case; then nothing, or fields ";key=value": keys of letters,
// digits, "_", "-" or "."; Parent 16 lower-case hex digits; Sampled 0, 1
// or ?; other values of visible ASCII but ";", "," and "=", at most one
// Root, Parent and Sampled; no empty field or trailing ";".
func ValidHeader(v []byte) bool {
	const prefix = "Root=1-"
	n := len(prefix) + 8 + 1 + 24
	if len(v) > MaxHeaderLen || len(v) < n || string(v[:len(prefix)]) != prefix || v[len(prefix)+8] != '-' {
		return false
	}
	for i, c := range v[len(prefix):n] {
		if i == 8 {
			continue
		}
		if !lowerHex(c) {
			return false
		}
	}
	rest := v[n:]
	var parent, sampled bool
	for len(rest) > 0 {
		if rest[0] != ';' {
			return false
		}
		rest = rest[1:]
		end := len(rest)
		for i, c := range rest {
			if c == ';' {
				end = i
				break
			}
		}
		field := rest[:end]
		rest = rest[end:]
		eq := -1
		for i, c := range field {
			if c == '=' {
				eq = i
				break
			}
		}
		if eq <= 0 || eq > 64 {
			return false
		}
		key, val := string(field[:eq]), field[eq+1:]
		for _, c := range []byte(key) {
			if !keyChar(c) {
				return false
			}
		}
		switch key {
		case "Root":
			return false
		case "Parent":
			if parent || len(val) != 16 {
				return false
			}
			for _, c := range val {
				if !lowerHex(c) {
					return false
				}
			}
			parent = true
		case "Sampled":
			if sampled || len(val) != 1 || (val[0] != '0' && val[0] != '1' && val[0] != '?') {
				return false
			}
			sampled = true
		default:
			for _, c := range val {
				if c <= ' ' || c >= 0x7f || c == ',' || c == '=' {
					return false
				}
			}
		}
	}
	return true
}

// ValidRoot reports whether s is a trace id "1-<8 hex>-<24 hex>" (lower case).
func ValidRoot(s string) bool {
	if len(s) != rootLen || s[:2] != "1-" || s[10] != '-' {
		return false
	}
	for i := 2; i < rootLen; i++ {
		if i != 10 && !lowerHex(s[i]) {
			return false
		}
	}
	return true
}

func lowerHex(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') }

func keyChar(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
}
