package gateway

import (
	"crypto/rand"
	"encoding/base64"

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
