package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/google/uuid"
)

// newRequestID is the x-amzn-RequestId: a random (v4) UUID.
func newRequestID() string { return uuid.NewString() }

// newAPIGWID is the x-amz-apigw-id: 11 random bytes in padded URL-safe
// base64, the 16-character shape and alphabet of AWS's ids (recorded ones:
// "f-r9rE7pywMFtqQ=", "bl9ujGCeFiAFumQ=", "MJeWVEqovHcFmUw=": "-", never
// "+" or "/").
func newAPIGWID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// newTraceID is an X-Ray trace header as API Gateway adds it to a request
// that has none, tracing off: Root=1-<hex epoch>-<24 hex>, no Sampled
// (AWS X-Ray developer guide, "Amazon API Gateway active tracing support
// for AWS X-Ray": "X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793").
func newTraceID(now time.Time) string {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	var epoch [4]byte
	binary.BigEndian.PutUint32(epoch[:], uint32(now.Unix()))
	b := make([]byte, 0, len("Root=1-")+8+1+24)
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, epoch[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, rnd[:])
	return string(b)
}

// callerTrace reports whether v is a trace header a caller may pass
// through the gateway, as API Gateway passes a traced caller's trace on
// (API Gateway developer guide, "Trace user requests to REST APIs using
// X-Ray"): it starts with Root=1-<8 hex>-<24 hex>, lower case, and ends
// there or goes on after ";" (Parent=…;Sampled=…).
func callerTrace(v []byte) bool {
	const prefix = "Root=1-"
	n := len(prefix) + 8 + 1 + 24
	if len(v) < n || string(v[:len(prefix)]) != prefix || v[len(prefix)+8] != '-' || (len(v) > n && v[n] != ';') {
		return false
	}
	for i, c := range v[len(prefix):n] {
		if i == 8 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
