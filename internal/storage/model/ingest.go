// Package model holds the storage service's domain types: ingests, bag
// versions and storage manifests. It has no dependencies on HTTP or SQL so
// that the APIs, the store and (later) the ingest worker can share it.
package model

import (
	"time"

	"github.com/google/uuid"
)

// IngestType says whether an ingest creates a new bag or adds a version.
type IngestType string

// The ingest types a client may request.
const (
	IngestCreate IngestType = "create"
	IngestUpdate IngestType = "update"
)

// IngestTypes lists the valid ingest types in the order error messages name them.
var IngestTypes = []IngestType{IngestCreate, IngestUpdate}

// IngestStatus is where an ingest is in its life.
type IngestStatus string

// An ingest starts accepted, becomes processing when work on the bag
// starts, and ends succeeded or failed.
const (
	IngestAccepted   IngestStatus = "accepted"
	IngestProcessing IngestStatus = "processing"
	IngestSucceeded  IngestStatus = "succeeded"
	IngestFailed     IngestStatus = "failed"
)

// Valid reports whether s is one of the known statuses.
func (s IngestStatus) Valid() bool {
	switch s {
	case IngestAccepted, IngestProcessing, IngestSucceeded, IngestFailed:
		return true
	}
	return false
}

// CallbackStatus is the state of the notification sent to a callback URL.
type CallbackStatus string

// Callback statuses.
const (
	CallbackPending    CallbackStatus = "pending"
	CallbackProcessing CallbackStatus = "processing"
	CallbackSucceeded  CallbackStatus = "succeeded"
	CallbackFailed     CallbackStatus = "failed"
)

// Valid reports whether s is one of the known callback statuses.
func (s CallbackStatus) Valid() bool {
	switch s {
	case CallbackPending, CallbackProcessing, CallbackSucceeded, CallbackFailed:
		return true
	}
	return false
}

// Provider names where a location's bucket lives.
type Provider string

// The storage providers the service knows.
const (
	ProviderAmazonS3  Provider = "amazon-s3"
	ProviderAzureBlob Provider = "azure-blob-storage"
)

// Providers lists the canonical provider ids in the order error messages name them.
var Providers = []Provider{ProviderAmazonS3, ProviderAzureBlob}

// ParseProvider maps a provider id to its canonical form. The legacy ids
// the real service still accepts (aws-s3-standard, aws-s3-ia,
// aws-s3-glacier) map to amazon-s3.
func ParseProvider(id string) (Provider, bool) {
	switch id {
	case string(ProviderAmazonS3), "aws-s3-standard", "aws-s3-ia", "aws-s3-glacier":
		return ProviderAmazonS3, true
	case string(ProviderAzureBlob):
		return ProviderAzureBlob, true
	}
	return "", false
}

// Location is an object (or prefix) in a bucket.
type Location struct {
	Provider Provider `json:"provider"`
	Bucket   string   `json:"bucket"`
	Path     string   `json:"path"`
}

// Callback is the URL that gets the final ingest, and how that went.
type Callback struct {
	URL    string
	Status CallbackStatus
}

// Event is one human-readable sentence in an ingest's history.
type Event struct {
	CreatedDate time.Time `json:"createdDate"`
	Description string    `json:"description"`
}

// Ingest is a request to store a bag, and its progress.
type Ingest struct {
	ID                 uuid.UUID
	Type               IngestType
	Space              string
	ExternalIdentifier string
	// Version is the bag version assigned to this ingest; 0 until assigned.
	Version          BagVersion
	SourceLocation   Location
	Callback         *Callback // nil when the client gave none
	Status           IngestStatus
	Events           []Event
	CreatedDate      time.Time
	LastModifiedDate time.Time
}

// BagID is the "space/externalIdentifier" string the APIs show.
func BagID(space, externalIdentifier string) string {
	return space + "/" + externalIdentifier
}
