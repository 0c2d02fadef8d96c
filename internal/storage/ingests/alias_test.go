package ingests

import "github.com/portway/portway/internal/storage/model"

type (
	modelIngest = model.Ingest
	modelEvent  = model.Event
)
