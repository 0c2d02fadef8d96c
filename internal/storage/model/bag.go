package model

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// BagVersion is a bag's version number, shown as "v1", "v2", …
// The zero value means "no version".
type BagVersion int

// String renders the version as the APIs show it ("v3").
func (v BagVersion) String() string { return "v" + strconv.Itoa(int(v)) }

// ErrBadVersion is returned by ParseBagVersion for strings that are not vN.
var ErrBadVersion = errors.New("not a version string")

// ParseBagVersion parses "vN" (N decimal digits), as the real service's
// ^v(\d+)$ does. "v0" parses, and simply matches no stored version.
func ParseBagVersion(s string) (BagVersion, error) {
	if len(s) < 2 || s[0] != 'v' {
		return 0, fmt.Errorf("%q: %w", s, ErrBadVersion)
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q: %w", s, ErrBadVersion)
		}
	}
	n, err := strconv.ParseInt(s[1:], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, ErrBadVersion)
	}
	return BagVersion(n), nil
}

// StorageManifest describes one stored version of a bag.
type StorageManifest struct {
	Space              string
	ExternalIdentifier string
	Version            BagVersion
	CreatedDate        time.Time
	// IngestID is the ingest that stored this version (uuid.Nil if none).
	IngestID         uuid.UUID
	Info             BagInfo
	Manifest         FileManifest
	TagManifest      FileManifest
	Location         Location
	ReplicaLocations []Location
}

// ID is the "space/externalIdentifier" bag id.
func (m StorageManifest) ID() string { return BagID(m.Space, m.ExternalIdentifier) }

// BagInfo holds the fields of bag-info.txt the service shows.
type BagInfo struct {
	ExternalIdentifier        string `json:"externalIdentifier"`
	PayloadOxum               string `json:"payloadOxum,omitempty"`
	BaggingDate               string `json:"baggingDate,omitempty"`
	SourceOrganization        string `json:"sourceOrganization,omitempty"`
	ExternalDescription       string `json:"externalDescription,omitempty"`
	InternalSenderIdentifier  string `json:"internalSenderIdentifier,omitempty"`
	InternalSenderDescription string `json:"internalSenderDescription,omitempty"`
}

// FileManifest is a payload or tag manifest.
type FileManifest struct {
	ChecksumAlgorithm string `json:"checksumAlgorithm"`
	Files             []File `json:"files"`
}

// File is one entry of a manifest: Name is its path inside the bag, Path
// its path relative to the stored bag's root (e.g. "v1/data/a.txt").
type File struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Checksum string `json:"checksum"`
	Size     int64  `json:"size"`
}

// VersionSummary is one entry of a bag's versions list.
type VersionSummary struct {
	Space              string
	ExternalIdentifier string
	Version            BagVersion
	CreatedDate        time.Time
}
