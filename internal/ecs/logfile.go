package ecs

import "github.com/portway/portway/internal/rotate"

// cappedLog is a container log file that never grows past max bytes: when a
// write would exceed it, the file is renamed to <path>.1 (replacing an older
// one) and a fresh file is started. Safe for concurrent use.
type cappedLog = rotate.File

func openCappedLog(path string, max int64) (*cappedLog, error) {
	return rotate.Open(path, max, 1)
}
