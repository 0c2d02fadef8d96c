package bags

import (
	"github.com/portway/portway/internal/storage/api"
	"github.com/portway/portway/internal/storage/model"
)

// displayBag is a storage manifest as GET /bags/… shows it.
type displayBag struct {
	ID               string          `json:"id"`
	Type             string          `json:"type"`
	Version          string          `json:"version"`
	CreatedDate      string          `json:"createdDate"`
	Space            api.IDType      `json:"space"`
	Info             displayBagInfo  `json:"info"`
	Manifest         displayManifest `json:"manifest"`
	TagManifest      displayManifest `json:"tagManifest"`
	Location         api.Location    `json:"location"`
	ReplicaLocations []api.Location  `json:"replicaLocations"`
}

type displayBagInfo struct {
	Type string `json:"type"`
	model.BagInfo
}

type displayManifest struct {
	Type              string        `json:"type"`
	ChecksumAlgorithm string        `json:"checksumAlgorithm"`
	Files             []displayFile `json:"files"`
}

type displayFile struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	Checksum string `json:"checksum"`
	Size     int64  `json:"size"`
}

type resultList struct {
	Type    string        `json:"type"`
	Results []resultEntry `json:"results"`
}

type resultEntry struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	CreatedDate string `json:"createdDate"`
	Type        string `json:"type"`
}

func newDisplayBag(m model.StorageManifest) displayBag {
	d := displayBag{
		ID:               m.ID(),
		Type:             "Bag",
		Version:          m.Version.String(),
		CreatedDate:      model.FormatTime(m.CreatedDate),
		Space:            api.IDType{ID: m.Space, Type: "Space"},
		Info:             displayBagInfo{Type: "BagInfo", BagInfo: m.Info},
		Manifest:         newDisplayManifest(m.Manifest),
		TagManifest:      newDisplayManifest(m.TagManifest),
		Location:         api.NewLocation(m.Location),
		ReplicaLocations: make([]api.Location, 0, len(m.ReplicaLocations)),
	}
	if d.Info.ExternalIdentifier == "" {
		d.Info.ExternalIdentifier = m.ExternalIdentifier
	}
	for _, l := range m.ReplicaLocations {
		d.ReplicaLocations = append(d.ReplicaLocations, api.NewLocation(l))
	}
	return d
}

func newDisplayManifest(fm model.FileManifest) displayManifest {
	d := displayManifest{Type: "BagManifest", ChecksumAlgorithm: fm.ChecksumAlgorithm, Files: make([]displayFile, 0, len(fm.Files))}
	for _, f := range fm.Files {
		d.Files = append(d.Files, displayFile{Type: "File", Name: f.Name, Path: f.Path, Checksum: f.Checksum, Size: f.Size})
	}
	return d
}

func newResultList(vs []model.VersionSummary) resultList {
	l := resultList{Type: "ResultList", Results: make([]resultEntry, 0, len(vs))}
	for _, v := range vs {
		l.Results = append(l.Results, resultEntry{
			ID:          model.BagID(v.Space, v.ExternalIdentifier),
			Version:     v.Version.String(),
			CreatedDate: model.FormatTime(v.CreatedDate),
			Type:        "Bag",
		})
	}
	return l
}
