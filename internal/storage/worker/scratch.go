package worker

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// stagingDir is where copyToStorage assembles a version, under the
// storage directory.
const stagingDir = ".staging"

// scratchPrefix names an ingest's scratch directories (the unpack
// directory under WorkDir, the staging directory under StorageDir):
// "{ingest id}-{owner}", so that a worker starting up can tell whose they
// are.
func scratchPrefix(id uuid.UUID, owner string) string { return id.String() + "-" + owner }

// sweepScratch removes the scratch directories that a worker killed
// mid-ingest left behind: those of ingests whose lease is not held, at
// this moment, by the worker that made them. A live worker renews its
// lease, so its directories are kept; directories not named after an
// ingest are not the worker's and are left alone. Failures are logged:
// leftovers waste space but break nothing.
func (w *Worker) sweepScratch(ctx context.Context) {
	w.sweep(ctx, "", func(id uuid.UUID) (string, error) { return w.cfg.Store.LeaseHolder(ctx, id, w.cfg.Now()) })
}

// sweepIngestScratch removes the scratch directories of earlier attempts
// at an ingest this worker has just claimed: holding the lease, it knows
// that every other worker's directories for the ingest are dead.
func (w *Worker) sweepIngestScratch(ctx context.Context, id uuid.UUID) {
	w.sweep(ctx, id.String(), func(uuid.UUID) (string, error) { return w.cfg.Owner, nil })
}

// sweep removes the scratch directories (of the ingest named by only, or
// of every ingest) that are not the lease holder's.
func (w *Worker) sweep(ctx context.Context, only string, holderOf func(uuid.UUID) (string, error)) {
	for _, dir := range []string{w.cfg.WorkDir, filepath.Join(w.cfg.StorageDir, stagingDir)} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if !os.IsNotExist(err) {
				w.log.Warn("sweep scratch directories", "dir", dir, "err", err)
			}
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if !e.IsDir() || len(name) < 38 || name[36] != '-' {
				continue
			}
			id, err := uuid.Parse(name[:36])
			if err != nil || (only != "" && name[:36] != only) {
				continue
			}
			holder, err := holderOf(id)
			if err != nil {
				w.log.Warn("sweep scratch directories", "dir", dir, "err", err)
				return
			}
			// {id}-{owner} (staging) or {id}-{owner}-{random} (unpacking).
			rest := name[37:]
			if holder != "" && (rest == holder || strings.HasPrefix(rest, holder+"-")) {
				continue // a live worker's
			}
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				w.log.Warn("remove scratch directory", "path", filepath.Join(dir, name), "err", err)
				continue
			}
			w.log.Info("removed a dead worker's scratch directory", "path", filepath.Join(dir, name), "ingest_id", id.String())
		}
	}
}
