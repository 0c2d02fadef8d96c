package model

import "errors"

// Errors stores report; test with errors.Is. They live here, not in the
// store, so that the APIs can depend on them without depending on SQLite.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)
