package auth

import (
	"crypto/rand"
	"fmt"
)

const (
	lowerAlnum   = "abcdefghijklmnopqrstuvwxyz0123456789"
	clientIDLen  = 26 // like Cognito app client ids
	secretLength = 51 // like Cognito app client secrets; ~263 bits
)

// randomString returns n characters drawn uniformly from alphabet (at most
// 256 characters) using crypto/rand and rejection sampling.
func randomString(n int, alphabet string) (string, error) {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

func newClientID() (string, error)     { return randomString(clientIDLen, lowerAlnum) }
func newClientSecret() (string, error) { return randomString(secretLength, lowerAlnum) }
