// Package controlauth guards portway's control API (the load balancer's
// ELBv2-shaped API, the services' API and the console) with a bearer token
// kept in a file of the state dir, and refuses the cross-site and DNS
// rebinding requests a web page could otherwise send to it. AWS calls on
// the same listener (SelfAuthenticated) are authenticated by their SigV4
// signature instead (internal/awsapi), after the same Host and Origin
// checks.
package controlauth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/portway/portway/internal/atomicfile"
)

// TokenFile is the token's file name in the state dir.
const TokenFile = "control-token"

// minTokenLen bounds a token read from a file an operator may have written.
const minTokenLen = 32

// LoadOrCreateToken returns the token in path, creating the file (32 random
// bytes, base64url, mode 0600) when it does not exist, so the token lasts
// across restarts. A file that group or others may read or write is refused,
// as ssh refuses such a key: the token may already be known to others.
func LoadOrCreateToken(path string) (string, error) {
	tok, err := readToken(path, true)
	if !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := createToken(path); err != nil {
		return "", err
	}
	return readToken(path, true)
}

// ReadToken reads the token of a running stack, for clients.
func ReadToken(path string) (string, error) {
	return readToken(path, false)
}

// createToken writes a new token to a temporary file and links it into
// place, so that a concurrent reader never sees a partial file and a
// concurrent creator's token wins or loses as a whole.
func createToken(path string) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("control token: %w", err)
	}
	if _, err := atomicfile.Create(path, []byte(base64.RawURLEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		return fmt.Errorf("control token: %w", err)
	}
	return nil
}

func readToken(path string, checkMode bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("control token %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); checkMode && perm&0o077 != 0 {
		return "", fmt.Errorf("control token %s has mode %04o, so other users may have read it: "+
			"delete it (a new token is made at the next start) or chmod 600 it", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < minTokenLen || len(tok) > 512 || strings.IndexFunc(tok, notTokenChar) >= 0 {
		return "", fmt.Errorf("control token %s must hold one token of at least %d characters of A-Z a-z 0-9 - . _ ~ + / = "+
			"(delete the file to get a new one)", path, minTokenLen)
	}
	return tok, nil
}

// notTokenChar reports a character outside RFC 6750's b64token.
func notTokenChar(r rune) bool {
	switch {
	case 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("-._~+/=", r)
}
