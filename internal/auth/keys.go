package auth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	keysFileName = "keys.json"
	rsaKeyBits   = 2048
	algRS256     = "RS256"
)

// signingKey is one RSA key pair with its key id and a ready signer.
type signingKey struct {
	kid     string
	priv    *rsa.PrivateKey
	created time.Time
	signer  jose.Signer
}

// keySet holds the signing keys; keys[0] signs, all are published.
type keySet struct {
	keys []*signingKey
	jwks []byte // JSON of the public JWK set
}

type keysFile struct {
	Version int         `json:"version"`
	Keys    []keyRecord `json:"keys"`
}

type keyRecord struct {
	KID        string    `json:"kid"`
	Alg        string    `json:"alg"`
	CreatedAt  time.Time `json:"created_at"`
	PrivateKey string    `json:"private_key"` // PKCS#8 PEM
}

// jwk is the public form published in the JWKS, with Cognito's member set.
type jwk struct {
	Alg string `json:"alg"`
	E   string `json:"e"`
	KID string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	Use string `json:"use"`
}

// loadOrCreateKeys reads dir/keys.json, generating and persisting a new key
// when the file does not exist.
func loadOrCreateKeys(dir string, now func() time.Time, log *slog.Logger) (*keySet, error) {
	path := filepath.Join(dir, keysFileName)
	var ks *keySet
	err := withLock(dir, func() error {
		var err error
		ks, err = readKeys(path, log)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return err
		}
		key, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
		if err != nil {
			return fmt.Errorf("generate signing key: %w", err)
		}
		sk, err := newSigningKey(key, now().UTC())
		if err != nil {
			return err
		}
		if err := writeKeys(path, []*signingKey{sk}); err != nil {
			return err
		}
		log.Info("auth: generated signing key", "kid", sk.kid, "path", path)
		ks, err = newKeySet([]*signingKey{sk})
		return err
	})
	if err != nil {
		return nil, err
	}
	return ks, nil
}

func readKeys(path string, log *slog.Logger) (*keySet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if changed, err := tightenMode(path, fi); err != nil {
		return nil, err
	} else if changed {
		log.Warn("auth: key file was readable by others; mode set to 0600", "path", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kf keysFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(kf.Keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", path)
	}
	keys := make([]*signingKey, 0, len(kf.Keys))
	for i, rec := range kf.Keys {
		sk, err := parseKeyRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("%s: keys[%d]: %w", path, i, err)
		}
		keys = append(keys, sk)
	}
	return newKeySet(keys)
}

func parseKeyRecord(rec keyRecord) (*signingKey, error) {
	if rec.Alg != "" && rec.Alg != algRS256 {
		return nil, fmt.Errorf("alg %q not supported", rec.Alg)
	}
	block, _ := pem.Decode([]byte(rec.PrivateKey))
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("private_key: not a PKCS#8 PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private_key: not an RSA key")
	}
	if key.N.BitLen() < rsaKeyBits {
		return nil, fmt.Errorf("private_key: %d-bit key is too small", key.N.BitLen())
	}
	sk, err := newSigningKey(key, rec.CreatedAt)
	if err != nil {
		return nil, err
	}
	if rec.KID != "" && rec.KID != sk.kid {
		return nil, fmt.Errorf("kid %q does not match the key's thumbprint %q", rec.KID, sk.kid)
	}
	return sk, nil
}

func newSigningKey(key *rsa.PrivateKey, created time.Time) (*signingKey, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: algRS256, Use: "sig"},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &signingKey{kid: kid, priv: key, created: created, signer: signer}, nil
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint, base64url without padding.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	k := jose.JSONWebKey{Key: pub}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func writeKeys(path string, keys []*signingKey) error {
	kf := keysFile{Version: 1}
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return fmt.Errorf("marshal key: %w", err)
		}
		kf.Keys = append(kf.Keys, keyRecord{
			KID:        k.kid,
			Alg:        algRS256,
			CreatedAt:  k.created,
			PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		})
	}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), fileMode, time.Time{})
}

func newKeySet(keys []*signingKey) (*keySet, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, jwk{
			Alg: algRS256,
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
			KID: k.kid,
			Kty: "RSA",
			N:   base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			Use: "sig",
		})
	}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, jwks: data}, nil
}

func (ks *keySet) active() *signingKey { return ks.keys[0] }
