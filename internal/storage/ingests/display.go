package ingests

import (
	"encoding/json"

	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/model"
)

// Display types: the ingest as the API shows it. Every object carries its
// "type".

type displayIngest struct {
	ID               string           `json:"id"`
	Type             string           `json:"type"`
	Space            displayID        `json:"space"`
	Bag              displayBag       `json:"bag"`
	IngestType       displayID        `json:"ingestType"`
	SourceLocation   api.Location     `json:"sourceLocation"`
	Callback         *displayCallback `json:"callback,omitempty"`
	Status           displayID        `json:"status"`
	Events           []displayEvent   `json:"events"`
	CreatedDate      string           `json:"createdDate"`
	LastModifiedDate string           `json:"lastModifiedDate"`
}

// displayID is every {"id": …, "type": …} object.
type displayID struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type displayBag struct {
	Type string         `json:"type"`
	Info displayBagInfo `json:"info"`
}

// displayBagInfo carries the version once one is assigned: the storage
// service's display model has it at bag.info.version (not bag.version),
// where its Python client reads it.
type displayBagInfo struct {
	Type               string `json:"type"`
	ExternalIdentifier string `json:"externalIdentifier"`
	Version            string `json:"version,omitempty"`
}

type displayCallback struct {
	URL    string    `json:"url"`
	Status displayID `json:"status"`
	Type   string    `json:"type"`
}

type displayEvent struct {
	Type        string `json:"type"`
	CreatedDate string `json:"createdDate"`
	Description string `json:"description"`
}

func newDisplayIngest(in model.Ingest) displayIngest {
	d := displayIngest{
		ID:    in.ID.String(),
		Type:  "Ingest",
		Space: displayID{ID: in.Space, Type: "Space"},
		Bag: displayBag{
			Type: "Bag",
			Info: displayBagInfo{Type: "BagInfo", ExternalIdentifier: in.ExternalIdentifier},
		},
		IngestType:       displayID{ID: string(in.Type), Type: "IngestType"},
		SourceLocation:   api.NewLocation(in.SourceLocation),
		Status:           displayID{ID: string(in.Status), Type: "Status"},
		Events:           make([]displayEvent, 0, len(in.Events)),
		CreatedDate:      model.FormatTime(in.CreatedDate),
		LastModifiedDate: model.FormatTime(in.LastModifiedDate),
	}
	if in.Version > 0 {
		d.Bag.Info.Version = in.Version.String()
	}
	if in.Callback != nil {
		d.Callback = &displayCallback{
			URL:    in.Callback.URL,
			Status: displayID{ID: string(in.Callback.Status), Type: "Status"},
			Type:   "Callback",
		}
	}
	for _, e := range in.Events {
		d.Events = append(d.Events, displayEvent{
			Type: "IngestEvent", CreatedDate: model.FormatTime(e.CreatedDate), Description: e.Description,
		})
	}
	if in.LastModifiedDate.IsZero() {
		d.LastModifiedDate = d.CreatedDate
	}
	return d
}

// MarshalIngest renders the ingest as GET /ingests/{id} shows it: the body
// a callback URL receives.
func MarshalIngest(in model.Ingest) ([]byte, error) {
	return json.Marshal(newDisplayIngest(in))
}
