package api

import "github.com/portway/portway/internal/storage/model"

// IDType is every {"id": …, "type": …} object of the APIs.
type IDType struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Location is a location as both APIs show it.
type Location struct {
	Type     string `json:"type"`
	Provider IDType `json:"provider"`
	Bucket   string `json:"bucket"`
	Path     string `json:"path"`
}

// NewLocation renders a location.
func NewLocation(l model.Location) Location {
	return Location{
		Type:     "Location",
		Provider: IDType{ID: string(l.Provider), Type: "Provider"},
		Bucket:   l.Bucket,
		Path:     l.Path,
	}
}
