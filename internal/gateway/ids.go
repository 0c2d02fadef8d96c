package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// newRequestID is the x-amzn-RequestId: a random (v4) UUID.
func newRequestID() string { return uuid.NewString() }

// newAPIGWID is the x-amz-apigw-id: 11 random bytes in padded base64, the
// same 16-character shape as AWS's ids (e.g. "Fq3pWHc5DoEFdXw=").
func newAPIGWID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newTraceID is an X-Ray style X-Amzn-Trace-Id: Root=1-<hex epoch>-<24 hex>.
func newTraceID(now time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s", uint32(now.Unix()), hex.EncodeToString(b[:]))
}
