package awsapi

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/portway/portway/internal/atomicfile"
	"github.com/portway/portway/internal/lazyre"
)

// File names in the state dir, and the profile they define.
const (
	CredentialsFile = "aws-credentials"
	ConfigFile      = "aws-config"
	Profile         = "portway"
)

// Credentials are the stack's one AWS key pair. The verifier must know the
// secret (SigV4 is an HMAC), so it is kept in a 0600 file, as the AWS CLI
// keeps its own.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

var (
	accessKeyRe = lazyre.New(`^AKIA[A-Z2-7]{16}$`)
	secretKeyRe = lazyre.New(`^[A-Za-z0-9+/]{40}$`)
)

// LoadOrCreateCredentials returns the key pair of <stateDir>/aws-credentials
// (profile portway), creating the file (mode 0600) with a new random pair
// when it does not exist, so that the pair lasts across restarts; and it
// (re)writes <stateDir>/aws-config with the region. A credentials file that
// group or others may read is refused, as the control token's.
func LoadOrCreateCredentials(stateDir, region string) (Credentials, error) {
	path := filepath.Join(stateDir, CredentialsFile)
	c, err := readCredentials(path)
	if errors.Is(err, fs.ErrNotExist) {
		var nc Credentials
		if nc, err = newCredentials(); err != nil {
			return Credentials{}, err
		}
		if _, err = atomicfile.Create(path, credentialsText(nc), 0o600); err != nil {
			return Credentials{}, fmt.Errorf("aws credentials: %w", err)
		}
		c, err = readCredentials(path)
	}
	if err != nil {
		return Credentials{}, err
	}
	// cli_follow_urlparam off: AWS CLI v1 would otherwise fetch a parameter
	// that is a URL, such as a scope "https://api.example.org/storage/bags",
	// and send its contents instead (v2 never does).
	cfg := fmt.Sprintf("# written by portway up: the region of the stack's AWS APIs\n[profile %s]\nregion = %s\ncli_follow_urlparam = false\n",
		Profile, region)
	if err := atomicfile.Write(filepath.Join(stateDir, ConfigFile), []byte(cfg), 0o644); err != nil {
		return Credentials{}, fmt.Errorf("aws config: %w", err)
	}
	return c, nil
}

func credentialsText(c Credentials) []byte {
	return fmt.Appendf(nil, "# written by portway up: the key pair of the stack's AWS APIs (SigV4)\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		Profile, c.AccessKeyID, c.SecretAccessKey)
}

// newCredentials makes an AKIA… access key id (20 characters of AWS's
// alphabet) and a 40-character secret.
func newCredentials() (Credentials, error) {
	const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	id, err := randomString(idAlphabet, 16)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomString(secretAlphabet, 40)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: "AKIA" + id, SecretAccessKey: secret}, nil
}

// randomString draws n characters uniformly from alphabet, whose length
// divides 256.
func randomString(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("aws credentials: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func readCredentials(path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("aws credentials: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Credentials{}, fmt.Errorf("aws credentials: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Credentials{}, fmt.Errorf("aws credentials %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return Credentials{}, fmt.Errorf("aws credentials %s has mode %04o, so other users may have read the secret key: "+
			"delete it (a new key pair is made at the next start) or chmod 600 it", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, 16<<10))
	if err != nil {
		return Credentials{}, fmt.Errorf("aws credentials: %w", err)
	}
	c := parseCredentials(data)
	if !accessKeyRe().MatchString(c.AccessKeyID) || !secretKeyRe().MatchString(c.SecretAccessKey) {
		return Credentials{}, fmt.Errorf("aws credentials %s: profile [%s] must hold aws_access_key_id (AKIA and 16 of A-Z 2-7) "+
			"and aws_secret_access_key (40 of A-Z a-z 0-9 + /); delete the file to get a new pair", path, Profile)
	}
	return c, nil
}

// parseCredentials reads profile [portway] of a shared-credentials file.
func parseCredentials(data []byte) Credentials {
	var c Credentials
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			in = strings.TrimSpace(strings.Trim(line, "[]")) == Profile
		case in:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
	}
	return c
}
