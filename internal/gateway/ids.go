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

// newAPIGWID is the x-amz-apigw-id: 11 random bytes in padded base64, the
// same 16-character shape as AWS's ids (e.g. "Fq3pWHc5DoEFdXw=").
func newAPIGWID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newTraceID is an X-Ray style X-Amzn-Trace-Id: Root=1-<hex epoch>-<24 hex>.
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
