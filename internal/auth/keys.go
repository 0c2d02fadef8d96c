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
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	keysFileName = "keys.json"
	rsaKeyBits   = 2048
	algRS256     = "RS256"
	maxKeysFile  = 4 << 20

	// KeyRetireGrace is added to MaxTokenValidity to get how long a key
	// stays published after it stopped signing: it covers a token signed in
	// the instant of the rotation and small clock differences.
	KeyRetireGrace = 5 * time.Minute
)

// Key statuses, as stored in keys.json and shown by KeyStore.Keys.
//
// Like a Cognito user pool, the JWKS always publishes (at least) two keys:
// the active key that signs new tokens and the next key, published ahead of
// use so that verifiers have it cached before the first token it signs.
// Rotation promotes the next key to active, generates a new next key, and
// keeps the previously active key published, as retiring, until every token
// it signed has expired (RetireAfter = rotation time + MaxTokenValidity +
// KeyRetireGrace); after that it is dropped from the JWKS and pruned from
// the file.
const (
	KeyActive   = "active"
	KeyNext     = "next"
	KeyRetiring = "retiring"
)

// KeyInfo describes a published signing key; the private key never leaves
// the store.
type KeyInfo struct {
	KID         string    `json:"kid"`
	Status      string    `json:"status"` // KeyActive, KeyNext or KeyRetiring
	CreatedAt   time.Time `json:"created_at"`
	RetireAfter time.Time `json:"retire_after,omitzero"` // retiring keys only
}

// signingKey is one RSA key pair with its key id and a ready signer.
type signingKey struct {
	kid         string
	priv        *rsa.PrivateKey
	created     time.Time
	status      string
	retireAfter time.Time
	signer      jose.Signer
}

func (k *signingKey) info() KeyInfo {
	return KeyInfo{KID: k.kid, Status: k.status, CreatedAt: k.created, RetireAfter: k.retireAfter}
}

// expiredAt reports whether a retiring key is past its retire-after time.
func (k *signingKey) expiredAt(now time.Time) bool {
	return k.status == KeyRetiring && !now.Before(k.retireAfter)
}

// keySet is an immutable snapshot of the published keys: keys[0] is the
// active key, then the next key, then retiring keys.
type keySet struct {
	keys    []*signingKey
	jwks    []byte    // JSON of the public JWK set
	expires time.Time // earliest retire-after among keys; zero if none
}

type keysFile struct {
	Version int         `json:"version"`
	Keys    []keyRecord `json:"keys"`
}

type keyRecord struct {
	KID         string    `json:"kid"`
	Alg         string    `json:"alg"`
	Status      string    `json:"status,omitempty"` // empty in version 1 files: the first key is active
	CreatedAt   time.Time `json:"created_at"`
	RetireAfter time.Time `json:"retire_after,omitzero"`
	PrivateKey  string    `json:"private_key"` // PKCS#8 PEM
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

// KeyStore is the file-backed set of signing keys in
// <StateDir>/auth/keys.json (mode 0600). It is safe for concurrent use and,
// like ClientStore, notices changes other processes make to the file (e.g.
// `portway keys rotate` while `portway up` runs): every use checks the
// file's identity, size and modification time and reloads when they
// change. Only OpenKeyStore and Rotate write the file.
type KeyStore struct {
	dir, path string
	now       func() time.Time
	log       *slog.Logger

	mu    sync.Mutex
	set   *keySet
	stamp os.FileInfo // of the file set was loaded from; nil if none
}

// OpenKeyStore opens the key store of stateDir, generating and persisting
// an active and a next key when there is none, adding a next key to a file
// that lacks one, and pruning retiring keys whose tokens have all expired.
// Of the options only WithClock and WithLogger apply. It works without a
// running Server, e.g. for a CLI.
func OpenKeyStore(stateDir string, opts ...StoreOption) (*KeyStore, error) {
	o := storeOptions{now: time.Now}
	for _, fn := range opts {
		fn(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if stateDir == "" {
		return nil, errors.New("key store: stateDir: required")
	}
	dir, err := ensureAuthDir(stateDir)
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	k := &KeyStore{dir: dir, path: filepath.Join(dir, keysFileName), now: o.now, log: o.log}
	k.mu.Lock()
	defer k.mu.Unlock()
	err = withLock(dir, func() error {
		keys, fi, err := k.readFile()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		now := k.now().UTC()
		keys, changed := pruneKeys(keys, now)
		if renamed, err := renameLegacyNext(keys); err != nil {
			return err
		} else if renamed {
			changed = true
		}
		if len(keys) == 0 || !hasStatus(keys, KeyNext) {
			var created []*signingKey
			if keys, created, err = fillKeys(keys, now); err != nil {
				return err
			}
			for _, sk := range created {
				k.log.Info("auth: generated signing key", "kid", sk.kid, "status", sk.status, "path", k.path)
			}
			changed = true
		}
		if changed {
			return k.writeLocked(keys)
		}
		return k.adoptLocked(keys, fi)
	})
	if err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	return k, nil
}

// Path returns the keys file path.
func (k *KeyStore) Path() string { return k.path }

// ActiveKID returns the id of the key that signs new tokens.
func (k *KeyStore) ActiveKID() string { return k.current().keys[0].kid }

// Keys returns the published keys: active, next, then retiring.
func (k *KeyStore) Keys() []KeyInfo {
	set := k.current()
	out := make([]KeyInfo, 0, len(set.keys))
	for _, sk := range set.keys {
		out = append(out, sk.info())
	}
	return out
}

// JWKS returns the JSON of the public key set.
func (k *KeyStore) JWKS() []byte { return k.current().jwks }

// Rotate makes the next key the active one, generates a new next key and
// keeps the previously active key published until RetireAfter. It returns
// the new active key. A running Server (in this or another process) signs
// with the new key from its next request on.
func (k *KeyStore) Rotate() (KeyInfo, error) {
	fresh, err := generateKey(time.Time{})
	if err != nil {
		return KeyInfo{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var active KeyInfo
	err = withLock(k.dir, func() error {
		keys, _, err := k.readFile()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		now := k.now().UTC()
		keys, _ = pruneKeys(keys, now)
		fresh.created = now
		out := make([]*signingKey, 0, len(keys)+1)
		var next *signingKey
		for _, sk := range keys {
			sk := *sk
			switch sk.status {
			case KeyActive:
				sk.status, sk.retireAfter = KeyRetiring, now.Add(MaxTokenValidity+KeyRetireGrace)
			case KeyNext:
				sk.status = KeyActive
				next = &sk
				continue
			}
			out = append(out, &sk)
		}
		if next != nil {
			fresh.status = KeyNext
			out = append([]*signingKey{next, fresh}, out...)
		} else {
			// No next key to promote (the file was removed or hand-edited):
			// the fresh key signs at once and a next key is generated.
			fresh.status = KeyActive
			if out, _, err = fillKeys(append([]*signingKey{fresh}, out...), now); err != nil {
				return err
			}
		}
		if err := k.writeLocked(out); err != nil {
			return err
		}
		active = k.set.keys[0].info()
		return nil
	})
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate keys: %w", err)
	}
	k.log.Info("auth: signing keys rotated", "kid", active.KID)
	return active, nil
}

// current returns the keys to use now, reloading the file if another
// process changed it and dropping keys that reached their retire-after
// time.
func (k *KeyStore) current() *keySet {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	fi, err := os.Stat(k.path)
	switch {
	case err != nil:
		if k.stamp != nil {
			k.log.Warn("auth: keys file unavailable; keeping the keys in memory", "path", k.path, "err", err)
			k.stamp = nil
		}
	case k.stamp == nil || !sameVersion(k.stamp, fi):
		keys, rfi, err := k.readFile()
		if err != nil {
			k.log.Warn("auth: keys file unreadable; keeping the last good keys", "path", k.path, "err", err)
			k.stamp = fi // do not retry (and log) until the file changes again
			break
		}
		if err := k.adoptLocked(keys, rfi); err != nil {
			k.log.Warn("auth: keys file unusable; keeping the last good keys", "path", k.path, "err", err)
			k.stamp = fi
			break
		}
		k.log.Info("auth: signing keys reloaded", "kid", k.set.keys[0].kid)
		return k.set
	}
	if !k.set.expires.IsZero() && !now.Before(k.set.expires) {
		if set, err := buildKeySet(k.set.keys, now); err == nil {
			k.set = set
		}
	}
	return k.set
}

// adoptLocked makes keys the current set, remembering the version fi of
// the file they were read from.
func (k *KeyStore) adoptLocked(keys []*signingKey, fi os.FileInfo) error {
	set, err := buildKeySet(keys, k.now())
	if err != nil {
		return err
	}
	k.set, k.stamp = set, fi
	return nil
}

// readFile reads and validates the keys file, tightening a loose mode, and
// returns the keys with the version of the file they came from.
func (k *KeyStore) readFile() ([]*signingKey, os.FileInfo, error) {
	f, err := os.Open(k.path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if changed, err := tightenMode(k.path, fi); err != nil {
		return nil, nil, err
	} else if changed {
		k.log.Warn("auth: key file was readable by others; mode set to 0600", "path", k.path)
		if fi, err = f.Stat(); err != nil {
			return nil, nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeysFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxKeysFile {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes", k.path, maxKeysFile)
	}
	keys, err := parseKeysFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", k.path, err)
	}
	return keys, fi, nil
}

// writeLocked persists keys and adopts them.
func (k *KeyStore) writeLocked(keys []*signingKey) error {
	data, err := marshalKeys(keys)
	if err != nil {
		return err
	}
	fi, err := writeFileVersioned(k.path, data)
	if err != nil {
		return err
	}
	return k.adoptLocked(keys, fi)
}

func parseKeysFile(data []byte) ([]*signingKey, error) {
	var kf keysFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, err
	}
	if len(kf.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	keys := make([]*signingKey, 0, len(kf.Keys))
	seen := map[string]bool{}
	count := map[string]int{}
	for i, rec := range kf.Keys {
		if rec.Status == "" {
			// Version 1 files list the signing key first.
			rec.Status = KeyActive
			if i > 0 {
				rec.Status = KeyNext
			}
		}
		sk, err := parseKeyRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		if seen[sk.kid] {
			return nil, fmt.Errorf("keys[%d]: duplicate kid %q", i, sk.kid)
		}
		seen[sk.kid] = true
		count[sk.status]++
		keys = append(keys, sk)
	}
	switch {
	case count[KeyActive] != 1:
		return nil, fmt.Errorf("%d keys have status %q, want exactly 1", count[KeyActive], KeyActive)
	case count[KeyNext] > 1:
		return nil, fmt.Errorf("%d keys have status %q, want at most 1", count[KeyNext], KeyNext)
	}
	return orderKeys(keys), nil
}

func parseKeyRecord(rec keyRecord) (*signingKey, error) {
	if rec.Alg != "" && rec.Alg != algRS256 {
		return nil, fmt.Errorf("alg %q not supported", rec.Alg)
	}
	switch rec.Status {
	case KeyActive, KeyNext:
	case KeyRetiring:
		if rec.RetireAfter.IsZero() {
			return nil, errors.New("retire_after: required for a retiring key")
		}
	default:
		return nil, fmt.Errorf("status %q must be %q, %q or %q", rec.Status, KeyActive, KeyNext, KeyRetiring)
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
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	switch old, err := legacyThumbprint(&key.PublicKey); {
	case err != nil:
		return nil, err
	case rec.KID == "" || rec.KID == kid:
	case rec.KID == old:
		// Written before key ids took Cognito's form: kept, so that the
		// tokens the key signed still name a published key.
		kid = old
	default:
		return nil, fmt.Errorf("kid %q does not match the key's thumbprint %q", rec.KID, kid)
	}
	sk, err := newSigningKeyKID(key, rec.CreatedAt, kid)
	if err != nil {
		return nil, err
	}
	sk.status, sk.retireAfter = rec.Status, rec.RetireAfter
	if sk.status != KeyRetiring {
		sk.retireAfter = time.Time{}
	}
	return sk, nil
}

func newSigningKey(key *rsa.PrivateKey, created time.Time) (*signingKey, error) {
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return newSigningKeyKID(key, created, kid)
}

// newSigningKeyKID makes a signing key with the given key id.
func newSigningKeyKID(key *rsa.PrivateKey, created time.Time, kid string) (*signingKey, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: algRS256, Use: "sig"},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &signingKey{kid: kid, priv: key, created: created, status: KeyActive, signer: signer}, nil
}

func generateKey(created time.Time) (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return newSigningKey(key, created)
}

// fillKeys adds an active key if keys has none and a next key if it has
// none, returning the new list and the generated keys.
func fillKeys(keys []*signingKey, now time.Time) (out, created []*signingKey, err error) {
	for _, status := range []string{KeyActive, KeyNext} {
		if hasStatus(keys, status) {
			continue
		}
		sk, err := generateKey(now)
		if err != nil {
			return nil, nil, err
		}
		sk.status = status
		keys = append(keys, sk)
		created = append(created, sk)
	}
	return orderKeys(keys), created, nil
}

// pruneKeys drops retiring keys past their retire-after time.
func pruneKeys(keys []*signingKey, now time.Time) ([]*signingKey, bool) {
	out := slices.DeleteFunc(slices.Clone(keys), func(k *signingKey) bool { return k.expiredAt(now) })
	return out, len(out) != len(keys)
}

func hasStatus(keys []*signingKey, status string) bool {
	return slices.ContainsFunc(keys, func(k *signingKey) bool { return k.status == status })
}

// orderKeys sorts active, next, then retiring keys, latest retire-after first.
func orderKeys(keys []*signingKey) []*signingKey {
	rank := map[string]int{KeyActive: 0, KeyNext: 1, KeyRetiring: 2}
	slices.SortStableFunc(keys, func(a, b *signingKey) int {
		if d := rank[a.status] - rank[b.status]; d != 0 {
			return d
		}
		return b.retireAfter.Compare(a.retireAfter)
	})
	return keys
}

// thumbprint is the key id: the RFC 7638 SHA-256 JWK thumbprint in
// standard base64 with padding, the form of Cognito's key ids (44
// characters, e.g. "vyVQH7UMjwYboVvyFf+zd4KHZfgc+RtmU/A2vHhgITI=" in a real
// user pool's JWKS). What Cognito hashes is not published; the form is what
// clients see.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	sum, err := thumbprintSum(pub)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sum), nil
}

// legacyThumbprint is the key id of keys made before ids took Cognito's
// form: the same thumbprint, base64url without padding.
func legacyThumbprint(pub *rsa.PublicKey) (string, error) {
	sum, err := thumbprintSum(pub)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func thumbprintSum(pub *rsa.PublicKey) ([]byte, error) {
	k := jose.JSONWebKey{Key: pub}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	return sum, nil
}

// renameLegacyNext gives a next key that still has an id of the legacy
// form an id of Cognito's form: it has signed nothing, so no token names
// it. (Active and retiring keys keep theirs until they are dropped.) It
// reports whether it changed anything.
func renameLegacyNext(keys []*signingKey) (bool, error) {
	changed := false
	for i, sk := range keys {
		if sk.status != KeyNext {
			continue
		}
		kid, err := thumbprint(&sk.priv.PublicKey)
		if err != nil {
			return false, err
		}
		if sk.kid == kid {
			continue
		}
		renamed, err := newSigningKeyKID(sk.priv, sk.created, kid)
		if err != nil {
			return false, err
		}
		renamed.status = sk.status
		keys[i] = renamed
		changed = true
	}
	return changed, nil
}

func marshalKeys(keys []*signingKey) ([]byte, error) {
	kf := keysFile{Version: 2}
	for _, k := range orderKeys(slices.Clone(keys)) {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return nil, fmt.Errorf("marshal key: %w", err)
		}
		kf.Keys = append(kf.Keys, keyRecord{
			KID:         k.kid,
			Alg:         algRS256,
			Status:      k.status,
			CreatedAt:   k.created,
			RetireAfter: k.retireAfter,
			PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		})
	}
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// writeKeys writes keys to path (used by tests to seed a state dir).
func writeKeys(path string, keys []*signingKey) error {
	data, err := marshalKeys(keys)
	if err != nil {
		return err
	}
	_, err = writeFileVersioned(path, data)
	return err
}

// buildKeySet makes the snapshot of the keys published at now.
func buildKeySet(all []*signingKey, now time.Time) (*keySet, error) {
	ks := &keySet{}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(all))}
	for _, k := range orderKeys(slices.Clone(all)) {
		if k.expiredAt(now) {
			continue
		}
		if k.status == KeyRetiring && (ks.expires.IsZero() || k.retireAfter.Before(ks.expires)) {
			ks.expires = k.retireAfter
		}
		ks.keys = append(ks.keys, k)
		set.Keys = append(set.Keys, jwk{
			Alg: algRS256,
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
			KID: k.kid,
			Kty: "RSA",
			N:   base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
			Use: "sig",
		})
	}
	if len(ks.keys) == 0 || ks.keys[0].status != KeyActive {
		return nil, errors.New("no active signing key")
	}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	ks.jwks = data
	return ks, nil
}

func (ks *keySet) active() *signingKey { return ks.keys[0] }
